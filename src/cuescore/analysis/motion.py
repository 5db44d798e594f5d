"""Motion: Video2Music's frame difference, CMT's optical-flow speed, and visual beats.

- motion[T]: mean absolute RGB difference between consecutive frames (0-255 scale), averaged
  over every pair in the second. Video2Music samples one pair per second; the average of all
  pairs is steadier and on the same scale.
- flow[T]: mean Farneback optical-flow magnitude at 160 px width, in pixels per frame (CMT's
  motion speed). Flow is computed at most `FLOW_RATE` times a second, between frames that far
  apart, and divided by the number of frame intervals they span.
- visual beats: CMT's visual impacts, the moments where motion stops abruptly. The flow speed
  curve is smoothed; its deceleration (the negative part of its derivative) is peak-picked with
  a minimum spacing and an adaptive threshold. Frames right at a cut are ignored (a cut is not a
  movement). Strength is the deceleration relative to the clip's largest, 0-1.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.ndimage import uniform_filter1d
from scipy.signal import find_peaks

from cuescore.analysis.base import FrameAnalyzer
from cuescore.analysis.features import timeline_length

FLOW_WIDTH = 160
FLOW_RATE = 15.0
FARNEBACK = dict(pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2, flags=0)
"""OpenCV's reference settings; 2 levels / window 9 under-tracks 10 px steps and makes the speed
curve flicker, which shows up as false visual beats."""
MIN_BEAT_SPACING_S = 0.25
CUT_GUARD_S = 0.1


class PerSecondMean:
    """Accumulates a scalar per second; `values(T)` averages, filling empty seconds forward."""

    def __init__(self) -> None:
        self.sums: dict[int, float] = {}
        self.counts: dict[int, int] = {}

    def add(self, t: float, value: float) -> None:
        s = int(t)
        self.sums[s] = self.sums.get(s, 0.0) + value
        self.counts[s] = self.counts.get(s, 0) + 1

    def values(self, T: int) -> np.ndarray:
        out = np.zeros(T, np.float32)
        last = 0.0
        for s in range(T):
            if self.counts.get(s):
                last = self.sums[s] / self.counts[s]
            out[s] = last
        return out


class MotionAnalyzer(FrameAnalyzer):
    """Frame difference and optical flow per frame; per-second means and visual beats."""

    def __init__(self) -> None:
        self.motion = PerSecondMean()
        self.flow = PerSecondMean()
        self.times: list[float] = []
        self.speeds: list[float] = []
        self._prev_rgb: np.ndarray | None = None
        self._flow_gray: np.ndarray | None = None
        self._flow_time = -np.inf
        self._frames_since_flow = 0

    def update(self, t: float, image: np.ndarray) -> None:
        if self._prev_rgb is not None and self._prev_rgb.shape == image.shape:
            self.motion.add(t, float(cv2.absdiff(image, self._prev_rgb).mean()))
        self._prev_rgb = image
        self._frames_since_flow += 1
        if t - self._flow_time < 1.0 / FLOW_RATE - 1e-3:
            return
        h, w = image.shape[:2]
        small = cv2.resize(image, (FLOW_WIDTH, max(2, int(round(h * FLOW_WIDTH / w)))), interpolation=cv2.INTER_AREA)
        gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        if self._flow_gray is not None and self._flow_gray.shape == gray.shape:
            flow = cv2.calcOpticalFlowFarneback(self._flow_gray, gray, None, **FARNEBACK)
            speed = float(np.sqrt((flow * flow).sum(axis=2)).mean()) / self._frames_since_flow
            self.flow.add(t, speed)
            self.times.append(t)
            self.speeds.append(speed)
        self._flow_gray = gray
        self._flow_time = t
        self._frames_since_flow = 0

    def per_second(self, duration: float) -> tuple[np.ndarray, np.ndarray]:
        """(motion[T], flow[T])."""
        T = timeline_length(duration)
        return self.motion.values(T), self.flow.values(T)

    def visual_beats(self, cut_times: list[float]) -> tuple[np.ndarray, np.ndarray]:
        """(times [K] seconds, strengths [K] 0-1) of visual impacts."""
        return detect_visual_beats(np.asarray(self.times), np.asarray(self.speeds), cut_times)


def detect_visual_beats(times: np.ndarray, speeds: np.ndarray, cut_times: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Peaks of the deceleration of the flow-speed curve `speeds` sampled at `times` (seconds)."""
    if len(times) < 5:
        return np.zeros(0), np.zeros(0)
    dt = float(np.median(np.diff(times))) or 1 / 30
    speeds = speeds.copy()
    cuts = np.asarray(cut_times, dtype=float)
    if cuts.size:
        near_cut = np.min(np.abs(times[:, None] - cuts[None, :]), axis=1) <= CUT_GUARD_S + dt
        speeds[near_cut] = np.interp(times[near_cut], times[~near_cut], speeds[~near_cut]) if (~near_cut).any() else 0.0
    smooth = uniform_filter1d(speeds, size=max(1, int(round(0.1 / dt))))
    decel = np.maximum(0.0, -np.gradient(smooth, times))
    if decel.max() <= 1e-9:
        return np.zeros(0), np.zeros(0)
    local = uniform_filter1d(decel, size=max(3, int(round(2.0 / dt))))
    peaks, _ = find_peaks(
        decel,
        distance=max(1, int(round(MIN_BEAT_SPACING_S / dt))),
        height=np.maximum(1.5 * local, 0.1 * decel.max()),
    )
    strengths = decel[peaks] / decel.max()
    return times[peaks].astype(np.float64), strengths.astype(np.float64)
