"""The `Engine` registry: an engine turns `VideoFeatures` into a `MusicPlan`.

Engines register under their NAME with `@register`; `get_engine(name, controls)` builds one.
An engine whose optional dependency is missing is recorded in `MISSING` with an install hint
instead of being registered, and asking for it says what to install.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from cuescore.analysis.features import VideoFeatures
from cuescore.controls import Controls
from cuescore.errors import OptionError
from cuescore.music.plan import MusicPlan


class Engine(ABC):
    """Writes the plan of a soundtrack for a video, following the user's `controls`."""

    NAME: ClassVar[str]

    def __init__(self, controls: Controls) -> None:
        self.controls = controls

    @abstractmethod
    def plan(self, features: VideoFeatures) -> MusicPlan:
        """A validated `MusicPlan` covering `features.duration` seconds."""

    def analysis_encoder(self) -> str | None:
        """The semantic encoder spec (as `analyze(encoder=...)` takes it) that this engine needs the
        video analysed with; None = the default. Learned engines name the encoder their checkpoint
        was trained on; `OptionError` when cuescore's analysis cannot compute it."""
        return None


ENGINES: dict[str, type[Engine]] = {}
MISSING: dict[str, str] = {}
"""Engines that could not be registered, mapped to the install hint for their dependency."""

DEFAULT_ENGINE = "affective"


def register(cls: type[Engine]) -> type[Engine]:
    """Class decorator that adds an engine to the registry under its NAME."""
    ENGINES[cls.NAME] = cls
    return cls


def available_engines() -> list[str]:
    return sorted(ENGINES)


def get_engine(name: str, controls: Controls | None = None) -> Engine:
    """Build the engine called `name` with `controls` (defaults when None)."""
    if name in MISSING:
        raise OptionError(f"engine '{name}' needs an optional dependency: {MISSING[name]}")
    if name not in ENGINES:
        raise OptionError(f"unknown engine '{name}'; choose one of: {', '.join(available_engines())}")
    return ENGINES[name](controls if controls is not None else Controls())
