"""Cheaper optical flows against the analysis's Farneback (issue 12): same frame pairs, same beats code.

`analyze` runs once per clip with the flow pairs recorded (the 160 px grey frames the motion
analyzer hands to `flow_speed`, at most 15 a second); every candidate flow is then run on those
same pairs, and its speeds go through the analysis's own per-second mean and visual-beat
detector with the clip's cuts. Printed per clip and candidate: CPU ms per pair (one OpenCV
thread), the flow level relative to Farneback, Spearman ρ of the per-pair speeds and of the
per-second flow curve, the number of visual beats, the share of Farneback's beats with a new one
within one frame ("kept") and the share of new beats within one frame of an old one ("near").

Run: `.venv/bin/python benchmarks/bench_flow.py [CLIP ...]` (default: the shared real clips).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from media_for_bench import SHARED_VIDEO
from scipy.stats import spearmanr

import cuescore.analysis.motion as motion
from cuescore.analysis.pipeline import analyze

Flow = Callable[[np.ndarray, np.ndarray], np.ndarray]


def farneback(**changes) -> Flow:
    params = {**motion.FARNEBACK, **changes}
    return lambda a, b: cv2.calcOpticalFlowFarneback(a, b, None, **params)


def dis(preset: int, finest_scale: int | None = None) -> Flow:
    flow = cv2.DISOpticalFlow_create(preset)
    if finest_scale is not None:
        flow.setFinestScale(finest_scale)
    return lambda a, b: flow.calc(a, b, None)


CANDIDATES: dict[str, Flow] = {
    "farneback": farneback(),
    "farneback iterations=2": farneback(iterations=2),
    "farneback iterations=1": farneback(iterations=1),
    "farneback levels=2": farneback(levels=2),
    "DIS ultrafast": dis(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST),
    "DIS fast": dis(cv2.DISOPTICAL_FLOW_PRESET_FAST),
    "DIS medium": dis(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM),
    "DIS fast, finest scale 1": dis(cv2.DISOPTICAL_FLOW_PRESET_FAST, 1),
    "DIS ultrafast, finest scale 0": dis(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, 0),
}


def recorded_pairs(clip: Path):
    """(features, flow times [N], pairs [(prev, grey, frames)] * N) of one `analyze` run."""
    pairs, times = [], []
    speed, add = motion.flow_speed, motion.MotionAnalyzer._add_flow

    def record(prev, grey, frames):
        pairs.append((prev, grey, frames))
        return speed(prev, grey, frames)

    def add_time(self, t, value):
        times.append(t)
        add(self, t, value)

    motion.flow_speed, motion.MotionAnalyzer._add_flow = record, add_time
    try:
        features = analyze(clip)
    finally:
        motion.flow_speed, motion.MotionAnalyzer._add_flow = speed, add
    return features, np.asarray(times), pairs


def near_share(a: np.ndarray, b: np.ndarray, tol: float) -> float:
    """Share of `a` with a point of `b` within `tol` (1 when both are empty)."""
    if len(a) == 0 or len(b) == 0:
        return float(len(a) == len(b))
    return float(np.mean([np.abs(b - x).min() <= tol for x in a]))


def speeds_of(flow: Flow, pairs: list) -> tuple[np.ndarray, float]:
    """(speed per pair in pixels per frame [N], CPU ms per pair), as `motion.flow_speed` measures it."""
    t0 = time.process_time()
    speeds = [float(np.hypot(*np.moveaxis(flow(a, b), 2, 0)).mean(dtype=np.float64)) / n for a, b, n in pairs]
    return np.array(speeds), (time.process_time() - t0) / max(1, len(pairs)) * 1e3


def compare(clip: Path) -> None:
    features, times, pairs = recorded_pairs(clip)
    cuts, tol, T = features.cuts, 1.0 / features.fps + 1e-6, len(features.flow)
    print(f"\n{clip.name}: {len(pairs)} pairs, {len(features.beat_times)} beats, {len(cuts)} cuts\n\n"
          "| flow | ms/pair | level | pair ρ | second ρ | beats | kept | near |\n|---|---|---|---|---|---|---|---|")
    reference = None
    for name, flow in CANDIDATES.items():
        speeds, ms = speeds_of(flow, pairs)
        reference = speeds if reference is None else reference
        beats, _ = motion.detect_visual_beats(times, speeds, cuts)
        per_second = motion.PerSecondMean()
        for t, s in zip(times, speeds):
            per_second.add(t, s)
        print(f"| {name} | {ms:.2f} | {speeds.mean() / max(reference.mean(), 1e-9):.2f} | "
              f"{spearmanr(speeds, reference)[0]:.3f} | {spearmanr(per_second.values(T), features.flow)[0]:.3f} | "
              f"{len(beats)} | {near_share(features.beat_times, beats, tol):.2f} | "
              f"{near_share(beats, features.beat_times, tol):.2f} |", flush=True)


def main() -> None:
    cv2.setNumThreads(1)
    clips = [Path(a) for a in sys.argv[1:]] or sorted(p for p in SHARED_VIDEO.glob("*") if p.suffix in (".mp4", ".webm"))
    for clip in clips:
        compare(clip)


if __name__ == "__main__":
    main()
