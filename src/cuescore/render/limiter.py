"""A look-ahead true-peak limiter computed offline with whole-array operations.

The gain reduction (in dB) needed at each sample is the excess of its 4×-oversampled peak over
the ceiling. The applied reduction is that requirement held for `hold` seconds, ramped in ahead of
each peak at `attack` dB/ms and let go at `release` dB/s afterwards: a max-plus convolution with a
concave kernel, which splits into a running max (the hold) and two cumulative maxima (the ramps).
The result is never below the requirement, so no oversampled peak passes the ceiling (up to the
small change of gain within the interpolator's reach), with no iteration and no per-sample loop.
Work is done in chunks (bounded memory for long tracks), skipping those with nothing to reduce;
the track is read only where the gain is pulled down, and the gain curve is regenerated (not
stored) to apply it, so an hour of audio costs a few chunks of memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from cuescore.media.track import Track
from cuescore.render.meter import (
    CHUNK, PEAK_BLOCK, _channel_weights, block_peaks, interpolation_gain, intersample_peaks,
)


def trailing_max(x: np.ndarray, size: int) -> np.ndarray:
    """max(x[m - size + 1 .. m]) for each m, with 0 before the start, [N] like `x` [N] (SciPy's
    `maximum_filter1d(x, size, origin=(size - 1) // 2, mode="constant")`), in O(N) by van Herk /
    Gil-Werman: within blocks of `size`, a running max from each block's end and one from its start."""
    n = len(x)
    blocks = -(-(n + size - 1) // size)
    padded = np.zeros(blocks * size, dtype=x.dtype)  # size - 1 zeros (the border), x, zeros
    padded[size - 1: size - 1 + n] = x
    rows = padded.reshape(blocks, size)
    from_end = np.maximum.accumulate(rows[:, ::-1], axis=1)[:, ::-1].ravel()
    from_start = np.maximum.accumulate(rows, axis=1).ravel()
    # the window padded[m .. m + size - 1] is a suffix of one block and a prefix of the next
    return np.maximum(from_end[:n], from_start[size - 1: size - 1 + n])


class PeakMap:
    """The oversampled peaks around each sample of `track`, found only in the stretches that some
    gain could push over a ceiling and kept (as the samples within `HEADROOM_DB` of it) for the
    next gain: the limiter is re-run while the master's gain is corrected."""

    HEADROOM_DB = 1.5
    """Peaks are found for gains up to this much above the one asked for, to serve later calls."""
    BATCH = 4096
    """Stretches whose oversampled peaks are computed together."""

    def __init__(self, track: Track):
        self.track = track
        peaks = np.concatenate([block_peaks(b) for _, b in track.blocks()] or [np.zeros(0, np.float32)])
        reach = np.maximum(peaks, np.maximum(np.concatenate([[0.0], peaks[:-1]]), np.concatenate([peaks[1:], [0.0]])))
        self.bound = reach * interpolation_gain()  # no oversampled value in a stretch exceeds it
        self.limit = 0.0  # every sample whose neighbourhood peak × limit > 1 is in `index` / `around`
        self.index = np.zeros(0, np.int64)
        self.around = np.zeros(0, np.float32)

    def over(self, gain: float, ceiling: float) -> tuple[np.ndarray, np.ndarray]:
        """Sample indices whose oversampled neighbourhood times `gain` exceeds `ceiling`, and the
        excess in dB, in index order."""
        scale = gain / ceiling
        if scale > self.limit:
            self.limit = scale * 10.0 ** (self.HEADROOM_DB / 20.0)
            hot = np.nonzero(self.bound * self.limit > 1.0)[0]
            index, values = [np.zeros(0, np.int64)], [np.zeros(0, np.float32)]
            for i in range(0, len(hot), self.BATCH):  # a batch of stretches at a time: bounded memory
                blocks = hot[i: i + self.BATCH]
                between = intersample_peaks(self.track, blocks * PEAK_BLOCK)  # from n up to n+1
                around = between.copy()  # a sample's neighbourhood: the intervals on both sides
                around[:, 1:] = np.maximum(between[:, 1:], between[:, :-1])
                rows, cols = np.nonzero(around * self.limit > 1.0)
                index.append(blocks[rows] * PEAK_BLOCK + cols)
                values.append(around[rows, cols])
            self.index, self.around = np.concatenate(index), np.concatenate(values)
        hot = self.around * scale > 1.0
        index = self.index[hot]
        keep = index < self.track.n
        excess = 20.0 * np.log10(self.around[hot][keep].astype(np.float64) * scale)
        return index[keep], excess


@dataclass
class GainCurve:
    """The limiter's gain reduction over samples 0..n-1 for requirements `excess` dB at `index`:
    held for `hold` samples, ramped in ahead at `q` dB and let go at `r` dB per sample."""

    index: np.ndarray
    excess: np.ndarray
    n: int
    q: float
    r: float
    hold: int

    def reductions(self) -> Iterator[tuple[int, np.ndarray]]:
        """(a, d): the reduction d dB [k] over samples a..a+k-1, at most one stretch per CHUNK of
        samples, in order; the gain is untouched elsewhere. A max-plus convolution with a concave
        kernel, split into a running max (the hold) and two cumulative maxima (the ramps)."""
        if self.index.size == 0:
            return
        q, r, h, n, index, excess = self.q, self.r, self.hold, self.n, self.index, self.excess
        reach = int(np.ceil(excess.max() / q)) + 1  # farthest a ramp-in starts ahead of its peak
        carry = -np.inf  # running max of (held + r * t) over the samples already done: the release
        for c0 in range(0, n, CHUNK):
            c1 = min(n, c0 + CHUNK)
            lo, hi = max(0, c0 - h + 1), min(n, c1 + reach)  # requirements that reach [c0, c1)
            i0, i1 = np.searchsorted(index, lo), np.searchsorted(index, hi)
            if i0 == i1 and carry - r * c0 <= 0.0:
                continue
            need = np.zeros(hi - lo)
            need[index[i0:i1] - lo] = excess[i0:i1]  # indices are unique
            # hold: the largest requirement over the last h samples (window [m - h + 1, m])
            held = trailing_max(need, h)[c0 - lo:]
            t = np.arange(c0, hi, dtype=np.float64)
            rel = np.maximum(np.maximum.accumulate(held[: c1 - c0] + r * t[: c1 - c0]), carry)
            carry = float(rel[-1])
            d = rel - r * t[: c1 - c0]  # let go at r dB per sample after each requirement
            ahead = np.maximum.accumulate((held - q * t)[::-1])[::-1][: c1 - c0] + q * t[: c1 - c0]
            np.maximum(d, ahead, out=d)  # ramp in at q dB per sample ahead of each
            active = np.nonzero(d > 1e-9)[0]
            if active.size:
                yield c0 + int(active[0]), d[int(active[0]): int(active[-1]) + 1]

    def segments(self) -> Iterator[tuple[int, np.ndarray]]:
        """(a, g): linear float32 gain factors g [k] over samples a..a+k-1 (1 elsewhere)."""
        for a, d in self.reductions():
            yield a, np.exp(np.maximum(d, 0.0) * (-np.log(10.0) / 20.0)).astype(np.float32)


@dataclass
class Limited:
    """A track times `gain` through the limiter's `curve`. `removed[h]`: the plain energy the
    limiter took out of hop h of `HopEnergy.bounds` (in units of the input before gain), for
    predicting the loudness; `touched`: the PEAK_BLOCK stretches where the gain ramps down (at the
    attack rate), which may have moved the oversampled values off gain × the input's. Elsewhere
    the gain is flat or lets go at the release rate, at most `release_db_per_s` × the
    interpolator's reach (~0.01 dB) of change, which the limiter's margin under the ceiling covers."""

    track: Track
    gain: float
    curve: GainCurve
    removed: np.ndarray
    touched: np.ndarray

    def blocks(self) -> Iterator[tuple[int, np.ndarray]]:
        """(start, samples [C, k]) of the limited track, in order, CHUNK samples at a time."""
        segments = self.curve.segments()
        segment = next(segments, None)
        for c0 in range(0, self.track.n, CHUNK):
            c1 = min(self.track.n, c0 + CHUNK)
            out = self.track.read(c0, c1) * np.float32(self.gain)
            if segment is not None and segment[0] < c1:
                a, g = segment
                out[:, a - c0: a - c0 + len(g)] *= g
                segment = next(segments, None)
            yield c0, out


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
    """`peaks.track` [C, N] times `gain_db`, with the gain pulled down wherever the 4×-oversampled
    peak would pass `ceiling` (linear). `hop_bounds` (from `meter.hop_energy`) sets the hops of
    `removed`. Reads only the stretches where the gain is pulled down."""
    track = peaks.track
    gain = float(10.0 ** (gain_db / 20.0))
    removed = np.zeros(max(0, len(hop_bounds) - 1))
    index, excess = peaks.over(gain, ceiling)
    curve = GainCurve(index, excess, track.n, attack_db_per_ms * 1000.0 / sample_rate,
                      release_db_per_s / sample_rate, max(1, int(round(hold * sample_rate))))
    weights = _channel_weights(track.channels).astype(np.float32)[:, None]
    touched = []
    for a, d in curve.reductions():
        b = a + len(d)
        g = np.exp(np.maximum(d, 0.0) * (-np.log(10.0) / 20.0)).astype(np.float32)
        chunk = track.read(a, b)
        power = np.einsum("cn,cn->n", chunk * weights, chunk, dtype=np.float32) * (1.0 - g * g)
        first = int(np.searchsorted(hop_bounds, a, side="right")) - 1
        inner = hop_bounds[(hop_bounds > a) & (hop_bounds < b)] - a
        sums = np.add.reduceat(power, np.concatenate([[0], inner]).astype(np.int64), dtype=np.float64)
        hop = first + np.arange(len(sums))
        ok = (hop >= 0) & (hop < len(removed))
        removed[hop[ok]] += sums[ok]
        # Where the gain falls at the attack rate it changes fast within the interpolator's reach:
        # there the oversampled peaks of the output may differ from gain × those of the input.
        ramps = a + np.nonzero(np.diff(d) > 1.5 * curve.r)[0]
        if ramps.size:
            blocks = np.unique(ramps // PEAK_BLOCK)
            touched.append(np.unique(np.concatenate([blocks - 1, blocks, blocks + 1])))
    blocks = np.unique(np.concatenate(touched)) if touched else np.zeros(0, np.int64)
    return Limited(track, gain, curve, removed, blocks[(blocks >= 0) & (blocks * PEAK_BLOCK < track.n)])
