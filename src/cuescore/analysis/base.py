"""The contract between the single decode pass and the feature extractors.

`analyze` decodes a video once and hands every frame, in time order, to each `FrameAnalyzer`;
the frame is uint8 RGB [H, W, 3] with its long side at most `ANALYSIS_SIDE` pixels. After the
last frame it calls `finish(duration)` and reads each analyzer's results.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

ANALYSIS_SIDE = 320
"""Long side, in pixels, of the frames the analyzers see."""


class FrameAnalyzer(ABC):
    """Consumes frames in time order; keeps only bounded state (per-second sums, the last frame)."""

    @abstractmethod
    def update(self, t: float, image: np.ndarray) -> None:
        """Take the frame shown at `t` seconds (uint8 RGB [H, W, 3])."""

    def finish(self, duration: float) -> None:
        """Called once after the last frame; `duration` is the video's length in seconds."""
