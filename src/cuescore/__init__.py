"""cuescore: music for a video.

The public API: `analyze` (video → VideoFeatures) and `score_video` (video → scored video,
MIDI, WAV and plan), with the values that pass between stages. Names are imported on first
use, so `import cuescore` (and the command line's start-up) stays cheap.
"""

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Audio": "cuescore.media", "Composition": "cuescore.engines", "Controls": "cuescore.controls",
    "MusicPlan": "cuescore.music.plan", "Score": "cuescore.music.score", "ScoreResult": "cuescore.scoring",
    "VideoFeatures": "cuescore.analysis", "VideoInfo": "cuescore.media", "analyze": "cuescore.analysis",
    "get_engine": "cuescore.engines", "probe": "cuescore.media", "score_video": "cuescore.scoring",
}

__all__ = [*sorted(_EXPORTS), "__version__"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'cuescore' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
