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

import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

import cv2
import numpy as np
from cuescore.analysis.base import FrameAnalyzer
from cuescore.analysis.features import fill_forward, timeline_length
from cuescore.analysis.series import box_mean, find_peaks
from cuescore.analysis.transitions import mean_value

FLOW_WIDTH = 160
FLOW_RATE = 15.0
FARNEBACK = dict(pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2, flags=0)
"""OpenCV's reference settings; 2 levels / window 9 under-tracks 10 px steps and makes the speed
curve flicker, which shows up as false visual beats."""
FLOW_IN_FLIGHT = 4
"""Frame pairs whose flow may wait per background worker (two 160 px grey images each)."""
MAX_FLOW_WORKERS = 3


def flow_workers() -> int:
    """Background flow threads worth running: the cores beyond the decode and the caller's
    analysis (at least one, at most MAX_FLOW_WORKERS). The flow of one frame pair does not depend
    on another's, so pairs run side by side; on two cores one worker already fills the second core."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(MAX_FLOW_WORKERS, cores - 2))
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
        """float32 [T]: each second's mean; a second without values holds the one before (0 at the start)."""
        means = np.array([self.sums[s] / self.counts[s] if self.counts.get(s) else 0.0 for s in range(T)])
        return fill_forward(means, [not self.counts.get(s) for s in range(T)], lead="zeros").astype(np.float32)


def flow_speed(prev: np.ndarray, gray: np.ndarray, frames: int) -> float:
    """Mean Farneback flow magnitude (pixels) from grey `prev` to `gray`, per frame interval of the
    `frames` between them.

    The magnitude is taken with numpy: OpenCV's `magnitude` rounds the last bit differently with
    the alignment of its buffers, which made visual beats (two near-equal peaks) differ from run
    to run.
    """
    flow = cv2.calcOpticalFlowFarneback(prev, gray, None, **FARNEBACK)
    square = flow * flow
    speed = square[..., 0] + square[..., 1]
    return float(np.sqrt(speed, out=speed).mean(dtype=np.float64)) / frames


class MotionAnalyzer(FrameAnalyzer):
    """Frame difference and optical flow per frame; per-second means and visual beats.

    background: compute the optical flow, the costliest feature, in worker threads of its own
    (OpenCV releases the GIL; `background` of them, or `flow_workers()` when True), at most
    `FLOW_IN_FLIGHT` frame pairs per worker behind; results are taken in order and are
    bit-identical to inline ones. `finish` (or `close`) ends the thread.
    native_fps: when only some frames are analysed (`analyze(fps=...)`), the video's own rate, so
    that flow stays in pixels per native frame interval. The frame difference is then taken
    between the sampled frames, so it reads higher than on every frame.
    """

    def __init__(self, background: bool | int = False, native_fps: float | None = None) -> None:
        self.native_fps = native_fps
        self.motion = PerSecondMean()
        self.flow = PerSecondMean()
        self.times: list[float] = []
        self.speeds: list[float] = []
        self._prev_rgb: np.ndarray | None = None
        self._flow_gray: np.ndarray | None = None
        self._flow_time = -np.inf
        self._frames_since_flow = 0
        workers = flow_workers() if background is True else int(background)
        self._worker = ThreadPoolExecutor(workers, thread_name_prefix="cuescore-flow") if workers else None
        self._in_flight = FLOW_IN_FLIGHT * max(1, workers)
        self._pending: deque[tuple[float, Future]] = deque()

    def update(self, t: float, image: np.ndarray) -> None:
        if self._prev_rgb is not None and self._prev_rgb.shape == image.shape:
            self.motion.add(t, mean_value(cv2.absdiff(image, self._prev_rgb)))
        self._prev_rgb = image
        self._frames_since_flow += 1
        if t - self._flow_time < 1.0 / FLOW_RATE - 1e-3:
            return
        h, w = image.shape[:2]
        small = cv2.resize(image, (FLOW_WIDTH, max(2, int(round(h * FLOW_WIDTH / w)))), interpolation=cv2.INTER_AREA)
        gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        if self._flow_gray is not None and self._flow_gray.shape == gray.shape:
            frames = self._frames_since_flow
            if self.native_fps:
                frames = max(1, int(round((t - self._flow_time) * self.native_fps)))
            if self._worker is None:
                self._add_flow(t, flow_speed(self._flow_gray, gray, frames))
            else:
                self._pending.append((t, self._worker.submit(flow_speed, self._flow_gray, gray, frames)))
                self._collect(keep=self._in_flight)
        self._flow_gray = gray
        self._flow_time = t
        self._frames_since_flow = 0

    def _add_flow(self, t: float, speed: float) -> None:
        self.flow.add(t, speed)
        self.times.append(t)
        self.speeds.append(speed)

    def _collect(self, keep: int = 0) -> None:
        """Take finished flow results, in order, until at most `keep` are pending."""
        while len(self._pending) > keep:
            t, speed = self._pending.popleft()
            self._add_flow(t, speed.result())

    def finish(self, duration: float) -> None:
        self._collect()
        self.close()

    def close(self) -> None:
        """Stop the flow worker thread (pending results are dropped unless `finish` ran)."""
        if self._worker is not None:
            for _, speed in self._pending:
                speed.cancel()
            self._pending.clear()
            self._worker.shutdown(wait=True)
            self._worker = None

    def per_second(self, duration: float) -> tuple[np.ndarray, np.ndarray]:
        """(motion[T], flow[T])."""
        self._collect()
        T = timeline_length(duration)
        return self.motion.values(T), self.flow.values(T)

    def visual_beats(self, cut_times: list[float]) -> tuple[np.ndarray, np.ndarray]:
        """(times [K] seconds, strengths [K] 0-1) of visual impacts."""
        self._collect()
        return detect_visual_beats(np.asarray(self.times), np.asarray(self.speeds), cut_times)


def distance_to_nearest(times: np.ndarray, sorted_points: np.ndarray) -> np.ndarray:
    """Distance from each of `times` to the nearest of `sorted_points` (ascending, not empty).

    O(N log M) time and O(N) memory: the N x M table of all distances would take hundreds of MB
    for a feature-length video (about 100k flow samples and a thousand cuts).
    """
    right = np.searchsorted(sorted_points, times).clip(max=len(sorted_points) - 1)
    left = (right - 1).clip(min=0)
    return np.minimum(np.abs(times - sorted_points[left]), np.abs(times - sorted_points[right]))


def detect_visual_beats(times: np.ndarray, speeds: np.ndarray, cut_times: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Peaks of the deceleration of the flow-speed curve `speeds` sampled at `times` (seconds)."""
    if len(times) < 5:
        return np.zeros(0), np.zeros(0)
    dt = float(np.median(np.diff(times))) or 1 / 30
    speeds = speeds.copy()
    cuts = np.sort(np.asarray(cut_times, dtype=float))
    if cuts.size:
        near_cut = distance_to_nearest(times, cuts) <= CUT_GUARD_S + dt
        speeds[near_cut] = np.interp(times[near_cut], times[~near_cut], speeds[~near_cut]) if (~near_cut).any() else 0.0
    window = max(1, int(round(0.1 / dt)))
    smooth = box_mean(speeds, window)
    decel = np.maximum(0.0, -np.gradient(smooth, times))
    if cuts.size:
        # The bridge across a cut is not a movement: no impact there or within the smoothing reach.
        decel[distance_to_nearest(times, cuts) <= CUT_GUARD_S + dt * (window + 1)] = 0.0
    if decel.max() <= 1e-9:
        return np.zeros(0), np.zeros(0)
    # Relative to the largest, rounded: last-bit differences in the flow must not move a peak.
    decel = np.round(decel / decel.max(), 6)
    local = box_mean(decel, max(3, int(round(2.0 / dt))))
    peaks = find_peaks(decel, height=np.maximum(1.5 * local, 0.1),
                       distance=max(1, int(round(MIN_BEAT_SPACING_S / dt))))
    strengths = decel[peaks]
    return times[peaks].astype(np.float64), strengths.astype(np.float64)
