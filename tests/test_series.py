"""The analysis's smoothing and peak picking give SciPy's results without importing SciPy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d, uniform_filter1d
from scipy.signal import find_peaks as scipy_find_peaks

from cuescore.analysis.series import box_mean, find_peaks, gaussian_smooth


def _series(rng: np.random.Generator) -> np.ndarray:
    """Random series with plateaus (values rounded to few levels), 1-300 samples."""
    n = int(rng.integers(1, 300))
    return np.round(rng.random(n) * rng.choice([1, 3, 10]), int(rng.integers(0, 3)))


@pytest.mark.parametrize("seed", range(4))
def test_filters_equal_scipys(seed):
    rng = np.random.default_rng(seed)
    for _ in range(200):
        x, size = _series(rng), int(rng.integers(1, 40))
        np.testing.assert_allclose(box_mean(x, size), uniform_filter1d(x, size), atol=1e-12)
        np.testing.assert_allclose(gaussian_smooth(x, 1.0), gaussian_filter1d(x, 1.0, mode="nearest"), atol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_find_peaks_equals_scipys(seed):
    rng = np.random.default_rng(seed)
    for _ in range(300):
        x = _series(rng)
        height, distance = rng.random(len(x)) * 0.5, int(rng.integers(1, 20))
        expected, _ = scipy_find_peaks(x, height=height, distance=distance)
        np.testing.assert_array_equal(find_peaks(x, height=height, distance=distance), expected)


def test_find_peaks_takes_plateau_middles_and_never_the_ends():
    x = np.array([5, 1, 3, 3, 3, 0, 2, 2, 1, 4])
    np.testing.assert_array_equal(find_peaks(x, height=0.0), [3, 6])
