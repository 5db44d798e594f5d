"""Video analysis: the per-second feature timeline, exact cuts and visual beats."""

from cuescore.analysis.features import EMOTIONS, Transition, VideoFeatures, timeline_length
from cuescore.analysis.pipeline import analyze

__all__ = ["EMOTIONS", "Transition", "VideoFeatures", "analyze", "timeline_length"]
