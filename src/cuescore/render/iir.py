"""A cascade of biquads run by FFmpeg's `biquad` audio filter (through PyAV), in double precision,
with its state carried from one block to the next: a streaming stand-in for SciPy's `sosfilt`.

`scipy.signal` takes about half a second to import, a tenth of a short `cuescore generate`, which
used it only for the loudness meter's K-weighting. FFmpeg's filter runs each biquad in float64
(direct form I); it agrees with a float64 `sosfilt` to ~1e-13 and is closer to it than the
float32 `sosfilt` the meter used before (which was off by up to ~5e-5 at 0.1 rms).
"""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
from av.filter import Graph


def _layout(channels: int) -> str:
    return {1: "mono", 2: "stereo"}.get(channels, f"{channels}c")


class SosFilter:
    """`sos` [S, 6] (rows b0 b1 b2 a0 a1 a2) applied to consecutive blocks [C, k] of one signal
    at `sample_rate` Hz (1 to 8 channels, FFmpeg's default layouts): `filter(x)` returns the filtered
    block, float32 [C, k]."""

    def __init__(self, sos: np.ndarray, channels: int, sample_rate: int) -> None:
        self.channels, self.sample_rate, self._pts = channels, sample_rate, 0
        graph = Graph()
        chain = [graph.add_abuffer(format="fltp", sample_rate=sample_rate, layout=_layout(channels),
                                   time_base=f"1/{sample_rate}")]
        for row in np.asarray(sos, dtype=np.float64):
            args = ":".join(f"{k}={float(v)!r}" for k, v in zip(("b0", "b1", "b2", "a0", "a1", "a2"), row))
            chain.append(graph.add("biquad", f"{args}:precision=f64:transform=di"))
        chain.append(graph.add("abuffersink"))
        for a, b in zip(chain, chain[1:]):
            a.link_to(b)
        graph.configure()
        self._graph = graph

    def filter(self, x: np.ndarray) -> np.ndarray:
        """The next block `x` [C, k] filtered, float32 [C, k] (state kept for the next call)."""
        if x.shape[1] == 0:
            return np.zeros(x.shape, np.float32)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(x, dtype=np.float32), format="fltp",
                                           layout=_layout(self.channels))
        frame.sample_rate, frame.pts, frame.time_base = self.sample_rate, self._pts, Fraction(1, self.sample_rate)
        self._pts += x.shape[1]
        self._graph.push(frame)
        out = []
        while True:
            try:
                out.append(self._graph.pull().to_ndarray())
            except (av.BlockingIOError, av.EOFError):
                break
        y = np.concatenate(out, axis=1) if len(out) > 1 else out[0]
        assert y.shape == x.shape, (y.shape, x.shape)  # the filter has no latency
        return y.astype(np.float32)
