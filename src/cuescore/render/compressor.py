"""Mastering's gentle compression as a gain curve computed from the mix.

A feed-forward peak compressor (threshold -20 dB, ratio 2:1, attack 25 ms, release 250 ms, the
settings the mastering chain has always used) whose detector runs on the stereo-linked peak of
short hops (`HOP` samples) of the mix; the gain it gives each hop is interpolated linearly to
the samples. Because the result is a gain curve and not processed audio, the same curve can be
applied to any signal, and in particular to each part's stem, so that the stems still sum to
the mastered mix. The detector runs once over the track in order, a block at a time (any block
sizes give the same curve); the curve holds one float per hop (about 10 MB for an hour at 44.1 kHz).
"""

from __future__ import annotations

import math

import numpy as np

HOP = 64
"""Samples per detector step (1.5 ms at 44.1 kHz): far shorter than the attack."""


class CompressorDetector:
    """Feeds blocks [C, k] of a track in order; `curve()` gives the compressor's gain curve."""

    def __init__(self, sample_rate: int, threshold_db: float = -20.0, ratio: float = 2.0,
                 attack_ms: float = 25.0, release_ms: float = 250.0) -> None:
        self.sample_rate = sample_rate
        self.threshold = 10.0 ** (threshold_db / 20.0)
        self.slope = 1.0 / ratio - 1.0
        self.attack = 1.0 - math.exp(-HOP / (attack_ms * 1e-3 * sample_rate))
        self.release = 1.0 - math.exp(-HOP / (release_ms * 1e-3 * sample_rate))
        self.envelope = 0.0
        self.pending = np.zeros(0, np.float32)  # per-sample linked peaks of the unfinished hop
        self.gains: list[np.ndarray] = []  # per block fed, one gain per hop
        self.n = 0

    def feed(self, block: np.ndarray) -> None:
        """The next samples [C, k] of the track."""
        peaks = np.concatenate([self.pending, np.abs(block).max(axis=0).astype(np.float32)])
        whole = len(peaks) // HOP * HOP
        self.n += block.shape[1]
        self._step(peaks[:whole].reshape(-1, HOP).max(axis=1) if whole else np.zeros(0, np.float32))
        self.pending = peaks[whole:]

    def _step(self, levels: np.ndarray) -> None:
        env, attack, release = self.envelope, self.attack, self.release
        envelope = np.empty(len(levels))
        for i, level in enumerate(levels.tolist()):  # the ballistics branch per hop: a loop at 1/HOP of the rate
            env += (attack if level > env else release) * (level - env)
            envelope[i] = env
        self.envelope = env
        over = np.maximum(envelope / self.threshold, 1.0)
        self.gains.append(over ** self.slope)

    def curve(self) -> "CompressionCurve":
        """The gain curve over every sample fed."""
        if len(self.pending):
            self._step(self.pending.max(keepdims=True))
            self.pending = np.zeros(0, np.float32)
        return CompressionCurve(np.concatenate(self.gains) if self.gains else np.zeros(0), self.n)


class CompressionCurve:
    """Linear gain per sample over samples 0..n-1, from one value per hop (taken at the hop's
    centre and interpolated linearly between centres; held before the first and after the last)."""

    def __init__(self, hop_gains: np.ndarray, n: int) -> None:
        self.hop_gains, self.n = hop_gains, n
        self.centres = np.arange(len(hop_gains)) * HOP + (HOP - 1) / 2.0

    def read(self, start: int, stop: int) -> np.ndarray:
        """float32 [stop - start] gains of samples start..stop-1."""
        if len(self.hop_gains) == 0:
            return np.ones(stop - start, np.float32)
        return np.interp(np.arange(start, stop), self.centres, self.hop_gains).astype(np.float32)
