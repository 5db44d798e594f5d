"""The main regions of each shot's key frame, with their colour, motion and area.

No learned weights: once a second (`SAMPLE_RATE`) the frame and the one after it are shrunk to
`REGION_SIDE` pixels and kept; for each shot's key frame (the sample nearest the middle of the
shot) every pixel becomes a point of (CIE Lab colour, position, motion), and OpenCV's k-means
splits the points into `REGIONS` clusters (seeded, so the same video gives the same regions). A region's features: its area share of the frame, its mean colour (RGB 0-1) and
brightness, its centre (x, y as 0-1 fractions of the width and height) and its motion (mean
absolute change to the next frame, 0-255 scale, as `motion`). Regions are numbered by area,
largest first, so region 0 is the shot's main region.
"""

from __future__ import annotations

import cv2
import numpy as np

from cuescore.analysis.base import FrameAnalyzer

REGIONS = 3
"""Clusters per key frame."""
REGION_SIDE = 48
"""Long side, in pixels, of the frames the regions are found on."""
SAMPLE_RATE = 1.0
"""Candidate key frames per second."""
_POSITION_WEIGHT = 40.0
"""Scale of the pixel position (0-1) against Lab colour (0-255 in OpenCV's 8-bit Lab)."""
_MOTION_WEIGHT = 1.0
"""Scale of the per-pixel motion (0-255) against Lab colour."""


def _small(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    scale = REGION_SIDE / max(h, w)
    return cv2.resize(image, (max(2, round(w * scale)), max(2, round(h * scale))), interpolation=cv2.INTER_AREA)


def find_regions(image: np.ndarray, following: np.ndarray, k: int = REGIONS) -> list[dict]:
    """The `k` main regions of `image` (uint8 RGB [H, W, 3]) with `following` (the next frame, same
    size) for motion, largest first: [{"area", "colour", "brightness", "centre", "motion"}]."""
    a, b = _small(image), _small(following)
    h, w = a.shape[:2]
    lab = cv2.cvtColor(a, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32)
    moving = np.abs(a.astype(np.float32) - b.astype(np.float32)).mean(axis=2).reshape(-1)
    ys, xs = np.mgrid[0:h, 0:w]
    pos = np.stack([xs.reshape(-1) / max(w - 1, 1), ys.reshape(-1) / max(h - 1, 1)], axis=1).astype(np.float32)
    points = np.concatenate([lab, _POSITION_WEIGHT * pos, _MOTION_WEIGHT * moving[:, None]], axis=1)
    cv2.setRNGSeed(0)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 10, 1.0)
    _, labels, _ = cv2.kmeans(points, min(k, len(points)), None, criteria, 1, cv2.KMEANS_PP_CENTERS)
    labels = labels.reshape(-1)
    rgb = a.reshape(-1, 3).astype(float) / 255.0
    regions = []
    for label in range(k):
        mask = labels == label
        if not mask.any():
            continue
        colour = rgb[mask].mean(axis=0)
        regions.append({
            "area": round(float(mask.mean()), 4),
            "colour": [round(float(c), 4) for c in colour],
            "brightness": round(float(rgb[mask].max(axis=1).mean()), 4),
            "centre": [round(float(pos[mask, 0].mean()), 4), round(float(pos[mask, 1].mean()), 4)],
            "motion": round(float(moving[mask].mean()), 4),
        })
    return sorted(regions, key=lambda r: -r["area"])


class RegionAnalyzer(FrameAnalyzer):
    """Keeps a `REGION_SIDE`-pixel thumbnail of a frame every 1/`SAMPLE_RATE` s and of the frame
    after it (about 8 kB a second); the regions are found only for each shot's key frame."""

    def __init__(self, rate: float = SAMPLE_RATE) -> None:
        self.samples: list[tuple[float, np.ndarray, np.ndarray]] = []
        self._spacing = 1.0 / rate
        self._next = 0.0
        self._held: tuple[float, np.ndarray] | None = None

    def update(self, t: float, image: np.ndarray) -> None:
        if self._held is not None:
            self.samples.append((*self._held, _small(image)))
            self._held = None
        if t >= self._next - 1e-6:
            self._held = (t, _small(image))
            self._next = t + self._spacing

    def finish(self, duration: float) -> None:
        if self._held is not None:  # the last frame has no next one: no motion
            self.samples.append((*self._held, self._held[1]))
            self._held = None

    def shot_regions(self, cut_times: list[float], duration: float) -> list[dict]:
        """Per shot (bounded by `cut_times`, seconds): {"shot", "start", "end", "time", "regions"}
        from the sample nearest the shot's middle (regions empty when no frame was sampled)."""
        edges = [0.0] + sorted(t for t in cut_times if 0.0 < t < duration) + [float(duration)]
        times = np.array([t for t, _, _ in self.samples], float)
        out = []
        for k, (start, end) in enumerate(zip(edges, edges[1:])):
            inside = np.flatnonzero((times >= start - 1e-6) & (times < end))
            pick = inside[np.argmin(np.abs(times[inside] - (start + end) / 2))] if inside.size else None
            regions = [] if pick is None else find_regions(self.samples[pick][1], self.samples[pick][2])
            out.append({"shot": k, "start": round(start, 6), "end": round(end, 6),
                        "time": None if pick is None else round(float(times[pick]), 6), "regions": regions})
        return out
