"""Smoothing and peak picking of short 1-D series (per-second features, the flow-speed curve).

The analysis used SciPy's `uniform_filter1d`, `gaussian_filter1d` and `find_peaks`; importing
`scipy.signal` and `scipy.ndimage` takes about a second, a third of the time a plain decode of a
minute of 720p video takes, so `cuescore analyze` paid it on every run. The filters here are
OpenCV's (already loaded for the frames) with SciPy's border rules; `find_peaks` follows SciPy's
definition (plateau midpoints, per-sample height, distance by descending height) and gives the
same peaks (checked against SciPy in tests/test_analysis.py).
"""

from __future__ import annotations

import math

import cv2
import numpy as np


def box_mean(x: np.ndarray, size: int) -> np.ndarray:
    """Moving mean over `size` samples, float64 [N] (SciPy's `uniform_filter1d`, mode "reflect":
    the series mirrored at its ends including the edge sample)."""
    row = np.ascontiguousarray(x, np.float64).reshape(1, -1)
    return cv2.blur(row, (int(size), 1), borderType=cv2.BORDER_REFLECT).reshape(-1)


def gaussian_smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing with the edge samples repeated, float64 [N] (SciPy's
    `gaussian_filter1d(x, sigma, mode="nearest")`: kernel truncated at 4 sigma)."""
    radius = int(4.0 * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    padded = np.pad(np.asarray(x, np.float64), radius, mode="edge")
    return np.convolve(padded, kernel / kernel.sum(), mode="valid")


def find_peaks(x: np.ndarray, height: np.ndarray | float, distance: float = 1) -> np.ndarray:
    """Indices of the local maxima of `x` [N] at least `height` (a number or one per sample),
    thinned so that no two are closer than `distance` samples, the higher kept (SciPy's
    `find_peaks(x, height=..., distance=...)`). A flat top counts once, at its middle; the first
    and last sample are never peaks."""
    x = np.asarray(x, np.float64)
    if len(x) < 3:
        return np.zeros(0, np.intp)
    starts = np.flatnonzero(np.r_[True, x[1:] != x[:-1]])
    ends = np.r_[starts[1:], len(x)] - 1
    level = x[starts]
    inner = np.arange(1, len(starts) - 1)
    top = inner[(level[inner - 1] < level[inner]) & (level[inner + 1] < level[inner])]
    peaks = (starts[top] + ends[top]) // 2
    peaks = peaks[x[peaks] >= np.broadcast_to(height, x.shape)[peaks]]
    return peaks[_spaced(peaks, x[peaks], math.ceil(distance))]


def _spaced(peaks: np.ndarray, priority: np.ndarray, distance: int) -> np.ndarray:
    """Boolean mask [P] keeping peaks, highest `priority` first, that are at least `distance`
    samples from every higher kept one."""
    keep = np.ones(len(peaks), bool)
    lows = np.searchsorted(peaks, peaks - distance, side="right")
    highs = np.searchsorted(peaks, peaks + distance, side="left")
    for j in np.argsort(priority)[::-1]:
        if keep[j]:
            keep[lows[j]:j] = False
            keep[j + 1:highs[j]] = False
    return keep
