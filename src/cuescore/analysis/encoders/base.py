"""The `SemanticEncoder` registry: what a video "shows", one vector per second.

An encoder is chosen by a spec string `name` or `name:argument` (e.g. `handcrafted`,
`clip:openai/clip-vit-large-patch14-336`). Encoders whose optional dependency is missing are
left out of `available_encoders()` and asking for them names what to install.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Sequence

import numpy as np

from cuescore.errors import OptionError


class SemanticEncoder(ABC):
    """Maps RGB frames (uint8 [H, W, 3], one per second) to vectors [N, dim].

    frame_short_side: the short side (pixels) of the frames it wants; the analysis decodes
        each per-second frame at that size.
    An encoder that can also judge emotion overrides `emotion` to return [N, 6] probabilities
    over `cuescore.analysis.features.EMOTIONS`; the analysis then uses them instead of its own.
    """

    NAME: ClassVar[str]
    USES_DEVICE: ClassVar[bool] = False
    TAKES_ARGUMENT: ClassVar[bool] = False
    """True for encoders whose spec names a model ("name:argument")."""
    """True for encoders that run a model and take a `device` option."""
    frame_short_side: int = 144
    batch_size: int = 16

    @property
    @abstractmethod
    def dim(self) -> int:
        """Length of one vector."""

    @property
    def id(self) -> str:
        """Identifies the encoder and its weights/version; recorded in feature files and checkpoints."""
        return self.NAME

    @abstractmethod
    def encode(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """float32 [len(images), dim]."""

    def emotion(self, images: Sequence[np.ndarray]) -> np.ndarray | None:
        """Optional [len(images), 6] emotion probabilities; None if the encoder has no opinion."""
        return None

    def encode_with_emotion(self, images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
        """(`encode(images)`, `emotion(images)`); encoders that share one forward pass override it."""
        return self.encode(images), self.emotion(images)

    def describe(self) -> dict:
        """What feature files record about the encoder."""
        return {"name": self.NAME, "id": self.id, "dim": self.dim}


ENCODERS: dict[str, type[SemanticEncoder]] = {}
MISSING: dict[str, str] = {}
"""Encoders that could not be registered, mapped to the install hint for their dependency."""


def register(cls: type[SemanticEncoder]) -> type[SemanticEncoder]:
    """Class decorator that adds an encoder to the registry under its NAME."""
    ENCODERS[cls.NAME] = cls
    return cls


def available_encoders() -> list[str]:
    return sorted(ENCODERS)


def get_encoder(spec: str, *, device: str = "auto", **options) -> SemanticEncoder:
    """Build the encoder named by `spec` ("name" or "name:argument"); `device` reaches only
    encoders that run a model."""
    name, _, arg = spec.partition(":")
    if name in MISSING:
        raise OptionError(f"encoder '{name}' needs an optional dependency: {MISSING[name]}")
    if name not in ENCODERS:
        raise OptionError(f"unknown encoder '{spec}'; choose one of: {', '.join(available_encoders())}")
    cls = ENCODERS[name]
    if arg and not cls.TAKES_ARGUMENT:
        raise OptionError(f"encoder '{name}' takes no ':' argument; write --encoder {name}")
    if cls.USES_DEVICE:
        options["device"] = device
    return cls(arg, **options) if arg else cls(**options)
