"""The engine contract: `Engine.compose(features) -> Composition`, and the registry that builds engines.

A symbolic engine returns a plan and its arranged score and leaves `audio` None (`score_video`
then synthesises the score); an engine that writes the waveform itself returns `audio` (and a
plan or score only if it has one). Every engine reports what it decided in a typed
`EngineRecord`, which `score_video` writes under "engine_record" in OUT.json.

Engines are declared in `catalog.CATALOG` (class, description, options, requirements);
`get_engine(name, controls, **options)` checks the requirements, validates the options against
the declaration and imports the engine's module only then. This module stays light (no numpy,
OpenCV or torch at import) so the CLI can describe engines cheaply.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any, ClassVar

from cuescore.engines.catalog import CATALOG, DEFAULT_ENGINE, engine_info, resolve_options
from cuescore.errors import OptionError

if TYPE_CHECKING:
    from cuescore.analysis.features import VideoFeatures
    from cuescore.controls import Controls
    from cuescore.media.audio import Audio
    from cuescore.music.plan import MusicPlan
    from cuescore.music.score import Score


@dataclass
class EngineRecord:
    """What an engine decided beyond the plan; each engine subclasses it with typed fields."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Composition:
    """An engine's output: a plan and/or a score (symbolic engines), audio (engines that write
    the waveform; None = synthesise the score), and the engine's record. `mix` (0-1): with both a
    score and audio, the audio's share of the soundtrack; under 1 the score's render is blended in."""

    plan: MusicPlan | None
    score: Score | None
    audio: Audio | None
    record: EngineRecord
    mix: float = 1.0

    def __post_init__(self) -> None:
        if self.score is None and self.audio is None:
            raise ValueError("a composition needs a score or audio")
        if not 0.0 <= self.mix <= 1.0 or (self.mix < 1.0 and (self.score is None or self.audio is None)):
            raise ValueError(f"mix {self.mix} needs 0..1, and under 1 both a score and audio")


@dataclass(frozen=True)
class AnalysisNeeds:
    """What an engine needs `analyze` to compute: the semantic encoder spec (None = the default
    handcrafted one) and the frames per second to analyse (None = every frame)."""

    encoder: str | None = None
    fps: float | None = None

    def analyze_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `analyze` (only what differs from its defaults)."""
        return {k: v for k, v in (("encoder", self.encoder), ("fps", self.fps)) if v is not None}


class Engine(ABC):
    """Writes a soundtrack for a video, following the user's `controls` and the engine's own
    options (declared in `catalog.CATALOG`, validated and defaulted by `get_engine`)."""

    NAME: ClassVar[str]
    WRITES_SCORE: ClassVar[bool] = True
    """False for an engine that writes the audio itself (it has no parts to render as stems)."""

    def __init__(self, controls: Controls, **options: Any) -> None:
        self.controls = controls
        self.options = resolve_options(self.NAME, options)

    def analysis_needs(self) -> AnalysisNeeds:
        """The analysis this engine reads; learned engines name the encoder they were trained on."""
        return AnalysisNeeds()

    @abstractmethod
    def compose(self, features: VideoFeatures) -> Composition:
        """The soundtrack for `features.duration` seconds of video."""


def available_engines() -> list[str]:
    """Engines whose required packages are installed, in catalog order."""
    return [name for name, info in CATALOG.items() if not info.missing()]


def engine_class(name: str) -> type[Engine]:
    """The class of engine `name`, imported on demand; OptionError when a package it needs is missing."""
    info = engine_info(name)
    missing = info.missing()
    if missing:
        raise OptionError(f"engine '{name}' needs {', '.join(missing)}: {info.install_hint}")
    module, _, attr = info.target.partition(":")
    return getattr(import_module(module), attr)


def get_engine(name: str | None = None, controls: Controls | None = None, **options: Any) -> Engine:
    """Build engine `name` (default "affective") with `controls` (defaults when None) and its
    declared options (None values keep the default)."""
    from cuescore.controls import Controls

    name = name or DEFAULT_ENGINE
    resolve_options(name, options)  # unknown or bad options fail before any import
    return engine_class(name)(controls if controls is not None else Controls(), **options)
