"""cuescore: music for a video.

The public API: `analyze` (video → VideoFeatures) and `score_video` (video → scored video,
MIDI, WAV and plan), with the values that pass between stages.
"""

__version__ = "0.1.0"

from cuescore.analysis import VideoFeatures, analyze  # noqa: E402
from cuescore.controls import Controls  # noqa: E402
from cuescore.media import Audio, VideoInfo, probe  # noqa: E402
from cuescore.music.plan import MusicPlan  # noqa: E402
from cuescore.music.score import Score  # noqa: E402
from cuescore.scoring import ScoreResult, score_video  # noqa: E402

__all__ = [
    "Audio", "Controls", "MusicPlan", "Score", "ScoreResult", "VideoFeatures", "VideoInfo",
    "__version__", "analyze", "probe", "score_video",
]
