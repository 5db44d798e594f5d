"""A look-ahead true-peak limiter computed offline with whole-array operations.

The gain reduction (in dB) needed at each sample is the excess of its 4×-oversampled peak over
the ceiling. The applied reduction is that requirement held for `hold` seconds, ramped in ahead of
each peak at `attack` dB/ms and let go at `release` dB/s afterwards: a max-plus convolution with a
concave kernel, which splits into a running max (the hold) and two cumulative maxima (the ramps).
The result is never below the requirement, so no oversampled peak passes the ceiling (up to the
small change of gain within the interpolator's reach), with no iteration and no per-sample loop.
Work is done in chunks (bounded memory for long tracks), skipping those with nothing to reduce.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter1d

from cuescore.render.meter import (
    CHUNK, PEAK_BLOCK, _channel_weights, block_peaks, interpolation_gain, intersample_peaks,
)


@dataclass
class Limited:
    """`samples` after gain and limiting; `removed[h]`: the plain energy the limiter took out of
    hop h of `HopEnergy.bounds` (in units of the input before gain), for predicting the loudness;
    `touched`: the PEAK_BLOCK stretches where the gain ramps down (at the attack rate), which may
    have moved the oversampled values off gain × the input's. Elsewhere the gain is flat or lets
    go at the release rate, at most `release_db_per_s` × the interpolator's reach (~0.01 dB) of
    change, which the limiter's margin under the ceiling covers."""

    samples: np.ndarray
    removed: np.ndarray
    touched: np.ndarray


class PeakMap:
    """The oversampled peaks of `samples` around each sample, computed only for the stretches that
    some gain could push over a ceiling, and kept for the next gain (the limiter is re-run while
    the master's gain is corrected)."""

    HEADROOM_DB = 1.5
    """Peaks are found for gains up to this much above the one asked for, to serve later calls."""

    def __init__(self, samples: np.ndarray):
        self.samples = samples
        peaks = block_peaks(samples)
        reach = np.maximum(peaks, np.maximum(np.concatenate([[0.0], peaks[:-1]]), np.concatenate([peaks[1:], [0.0]])))
        self.bound = reach * interpolation_gain()  # no oversampled value in a stretch exceeds it
        self.limit = 0.0  # stretches with bound * limit > 1 are in `blocks` / `around`
        self.blocks = np.zeros(0, np.int64)
        self.around = np.zeros((0, PEAK_BLOCK), np.float32)

    def over(self, gain: float, ceiling: float) -> tuple[np.ndarray, np.ndarray]:
        """Sample indices whose oversampled neighbourhood times `gain` exceeds `ceiling`, and the
        excess in dB, in index order."""
        scale = gain / ceiling
        if scale > self.limit:
            limit = scale * 10.0 ** (self.HEADROOM_DB / 20.0)
            new = np.nonzero((self.bound * limit > 1.0) & (self.bound * self.limit <= 1.0))[0]
            between = intersample_peaks(self.samples, new * PEAK_BLOCK)  # from n up to n+1
            around = between.copy()  # a sample's neighbourhood: the intervals on both sides
            around[:, 1:] = np.maximum(between[:, 1:], between[:, :-1])
            blocks = np.concatenate([self.blocks, new])
            order = np.argsort(blocks, kind="stable")
            self.blocks, self.around = blocks[order], np.concatenate([self.around, around])[order]
            self.limit = limit
        hot = self.around * scale > 1.0
        rows, cols = np.nonzero(hot)
        index = self.blocks[rows] * PEAK_BLOCK + cols
        keep = index < self.samples.shape[1]
        excess = 20.0 * np.log10(self.around[rows, cols][keep].astype(np.float64) * scale)
        return index[keep], excess


def limit(
    peaks: PeakMap,
    sample_rate: int,
    gain_db: float,
    ceiling: float,
    hop_bounds: np.ndarray,
    attack_db_per_ms: float = 1.0,
    release_db_per_s: float = 25.0,
    hold: float = 0.02,
) -> Limited:
    """`peaks.samples` [C, N] times `gain_db`, with the gain pulled down wherever the 4×-oversampled
    peak would pass `ceiling` (linear). `hop_bounds` (from `meter.hop_energy`) sets the hops of
    `removed`."""
    samples = peaks.samples
    gain = float(10.0 ** (gain_db / 20.0))
    out = samples * np.float32(gain)
    removed = np.zeros(max(0, len(hop_bounds) - 1))
    index, excess = peaks.over(gain, ceiling)
    if index.size == 0:
        return Limited(out, removed, np.zeros(0, np.int64))
    q = attack_db_per_ms * 1000.0 / sample_rate  # dB per sample
    r = release_db_per_s / sample_rate
    h = max(1, int(round(hold * sample_rate)))
    reach = int(np.ceil(excess.max() / q)) + 1  # farthest a ramp-in starts ahead of its peak
    n = samples.shape[1]
    weights = _channel_weights(samples.shape[0]).astype(np.float32)[:, None]
    carry = -np.inf  # running max of (held + r * t) over the samples already done: the release
    touched = []
    for c0 in range(0, n, CHUNK):
        c1 = min(n, c0 + CHUNK)
        lo, hi = max(0, c0 - h + 1), min(n, c1 + reach)  # requirements that reach [c0, c1)
        i0, i1 = np.searchsorted(index, lo), np.searchsorted(index, hi)
        if i0 == i1 and carry - r * c0 <= 0.0:
            continue
        need = np.zeros(hi - lo)
        need[index[i0:i1] - lo] = excess[i0:i1]  # indices are unique
        # hold: the largest requirement over the last h samples (window [m - h + 1, m])
        held = maximum_filter1d(need, size=h, origin=(h - 1) // 2, mode="constant", cval=0.0)[c0 - lo:]
        t = np.arange(c0, hi, dtype=np.float64)
        rel = np.maximum(np.maximum.accumulate(held[: c1 - c0] + r * t[: c1 - c0]), carry)
        carry = float(rel[-1])
        d = rel - r * t[: c1 - c0]  # let go at r dB per sample after each requirement
        ahead = np.maximum.accumulate((held - q * t)[::-1])[::-1][: c1 - c0] + q * t[: c1 - c0]
        np.maximum(d, ahead, out=d)  # ramp in at q dB per sample ahead of each
        active = np.nonzero(d > 1e-9)[0]
        if active.size == 0:
            continue
        a, b = c0 + int(active[0]), c0 + int(active[-1]) + 1
        g = np.exp(np.maximum(d[a - c0: b - c0], 0.0) * (-np.log(10.0) / 20.0)).astype(np.float32)
        chunk = samples[:, a:b]
        out[:, a:b] *= g
        power = np.einsum("cn,cn->n", chunk * weights, chunk, dtype=np.float32) * (1.0 - g * g)
        first = int(np.searchsorted(hop_bounds, a, side="right")) - 1
        inner = hop_bounds[(hop_bounds > a) & (hop_bounds < b)] - a
        sums = np.add.reduceat(power, np.concatenate([[0], inner]).astype(np.int64), dtype=np.float64)
        hop = first + np.arange(len(sums))
        ok = (hop >= 0) & (hop < len(removed))
        removed[hop[ok]] += sums[ok]
        # Where the gain falls at the attack rate it changes fast within the interpolator's reach:
        # there the oversampled peaks of the output may differ from gain × those of the input.
        ramps = a + np.nonzero(np.diff(d[a - c0: b - c0]) > 1.5 * r)[0]
        if ramps.size:
            blocks = np.unique(ramps // PEAK_BLOCK)
            touched.append(np.unique(np.concatenate([blocks - 1, blocks, blocks + 1])))
    blocks = np.unique(np.concatenate(touched)) if touched else np.zeros(0, np.int64)
    return Limited(out, removed, blocks[(blocks >= 0) & (blocks * PEAK_BLOCK < n)])
