"""Audio read in blocks: a `Track` is a length, a rate and `read(start, stop)`, so long soundtracks
flow from synthesis through mastering to the WAV file and the muxer a block at a time.

`ArrayTrack` wraps samples held in memory; `Spool` appends blocks to an unnamed temporary file
(float32, frame-major) and reads them back with `pread`, so a track of an hour costs disk, not
memory (file pages read back sit in the page cache, not in the process); `Mapped` applies a
function to another track's blocks; `Mixed` adds two tracks; `Silence` is zeros; `Streamed` reads
a source that only goes forward (a decoder, `resampled`'s stateful resampler) a block at a time.
"""

from __future__ import annotations

import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator

import numpy as np
import soxr

BLOCK = 1 << 16
"""Samples per block when a track is streamed (1.5 s at 44.1 kHz)."""


class Track(ABC):
    """`channels` × `n` float32 samples at `sample_rate` Hz, read a block at a time."""

    channels: int
    n: int
    sample_rate: int

    @abstractmethod
    def _read(self, start: int, stop: int) -> np.ndarray:
        """Samples [C, stop - start] for 0 <= start <= stop <= n."""

    def read(self, start: int, stop: int) -> np.ndarray:
        """float32 [C, stop - start] of samples start..stop-1; zeros outside 0..n-1."""
        a, b = max(0, start), min(self.n, stop)
        if a >= b:
            return np.zeros((self.channels, max(0, stop - start)), np.float32)
        inner = self._read(a, b)
        if (a, b) == (start, stop):
            return inner
        out = np.zeros((self.channels, stop - start), np.float32)
        out[:, a - start: b - start] = inner
        return out

    def blocks(self, size: int = BLOCK, stop: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """(start, samples [C, k]) over samples 0..stop-1 (default n; past n come zeros)."""
        stop = self.n if stop is None else stop
        for start in range(0, stop, size):
            yield start, self.read(start, min(stop, start + size))

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.n / float(self.sample_rate)


class ArrayTrack(Track):
    """A track over `samples` [C, N] held in memory."""

    def __init__(self, samples: np.ndarray, sample_rate: int) -> None:
        self.samples = np.asarray(samples, dtype=np.float32)
        self.channels, self.n = self.samples.shape
        self.sample_rate = sample_rate

    def _read(self, start: int, stop: int) -> np.ndarray:
        return self.samples[:, start:stop]


class Silence(Track):
    """`n` samples of silence."""

    def __init__(self, channels: int, n: int, sample_rate: int) -> None:
        self.channels, self.n, self.sample_rate = channels, n, sample_rate

    def _read(self, start: int, stop: int) -> np.ndarray:
        return np.zeros((self.channels, stop - start), np.float32)


class Mapped(Track):
    """`function(block)` of each block of `track`: a map sample by sample in time, float32
    [channels, k] for [track.channels, k] (`channels` defaults to the track's)."""

    def __init__(self, track: Track, function: Callable[[np.ndarray], np.ndarray], channels: int | None = None) -> None:
        self.track, self.function = track, function
        self.channels, self.n, self.sample_rate = channels or track.channels, track.n, track.sample_rate

    def _read(self, start: int, stop: int) -> np.ndarray:
        return self.function(self.track.read(start, stop))


class Mixed(Track):
    """`track + gain * under`, as long as `track` (`under` has its channels and rate)."""

    def __init__(self, track: Track, under: Track, gain: float) -> None:
        self.track, self.under, self.gain = track, under, np.float32(gain)
        self.channels, self.n, self.sample_rate = track.channels, track.n, track.sample_rate

    def _read(self, start: int, stop: int) -> np.ndarray:
        return self.track.read(start, stop) + self.gain * self.under.read(start, stop)


class Streamed(Track):
    """`n` samples that `source()` yields in order as blocks [C, k] of any size (zeros past its
    end). Reads go forward through one pass of the source, holding about one block; a read that
    starts before the last one ended runs a fresh pass from the beginning."""

    def __init__(self, channels: int, n: int, sample_rate: int, source: Callable[[], Iterator[np.ndarray]]) -> None:
        self.channels, self.n, self.sample_rate, self.source = channels, n, sample_rate, source
        self._blocks: Iterator[np.ndarray] | None = None
        self._pos, self._buffer = 0, np.zeros((channels, 0), np.float32)  # _buffer holds samples from _pos on

    def _restart(self) -> None:
        if self._blocks is not None and hasattr(self._blocks, "close"):
            self._blocks.close()  # a generator's `with` blocks (an open file) end here
        self._blocks, self._pos, self._buffer = self.source(), 0, np.zeros((self.channels, 0), np.float32)

    def _read(self, start: int, stop: int) -> np.ndarray:
        if self._blocks is None or start < self._pos:
            self._restart()
        parts, end = [self._buffer], self._pos + self._buffer.shape[1]
        while end < stop:
            block = next(self._blocks, None)
            if block is None:
                block = np.zeros((self.channels, stop - end), np.float32)
            if end <= start:  # all held so far lies before `start`
                parts, self._pos = [], end
            parts.append(block)
            end += block.shape[1]
        held = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
        data = held[:, start - self._pos: stop - self._pos]
        self._buffer, self._pos = held[:, stop - self._pos:], stop
        return data


def resampled(track: Track, sample_rate: int) -> Track:
    """`track` at `sample_rate` Hz, converted a block at a time by one streaming soxr resampler
    (equal to converting the whole track at once with `soxr.resample`)."""
    if sample_rate == track.sample_rate:
        return track

    def blocks() -> Iterator[np.ndarray]:
        stream = soxr.ResampleStream(track.sample_rate, sample_rate, track.channels, dtype="float32")
        for start, block in track.blocks():
            last = start + block.shape[1] >= track.n
            yield stream.resample_chunk(np.ascontiguousarray(block.T), last=last).T

    return Streamed(track.channels, round(track.n * sample_rate / track.sample_rate), sample_rate, blocks)


def mix_channels(samples: np.ndarray, channels: int) -> np.ndarray:
    """samples [C, k] as [channels, k]: mono is duplicated, other counts are averaged to mono first."""
    if samples.shape[0] == channels:
        return samples
    return np.repeat(samples.mean(axis=0, keepdims=True), channels, axis=0)


def with_channels(track: Track, channels: int) -> Track:
    """`track` with `channels` channels (`mix_channels` block by block)."""
    if track.channels == channels:
        return track
    return Mapped(track, lambda block: mix_channels(block, channels), channels)


def finite(block: np.ndarray) -> np.ndarray:
    """`block` with NaN and infinities replaced by 0."""
    return block if np.all(np.isfinite(block)) else np.nan_to_num(block, nan=0.0, posinf=0.0, neginf=0.0)


def scaled(track: Track, factor: float) -> Track:
    """`track` times the float32 `factor`."""
    return Mapped(track, lambda block: block * np.float32(factor))


class Spool(Track):
    """A track written block by block to an unnamed temporary file (removed by the OS when closed,
    also when the process dies): `append` blocks in order, then `read` any stretch."""

    def __init__(self, channels: int, sample_rate: int, directory: str | None = None) -> None:
        self.channels, self.sample_rate, self.n = channels, sample_rate, 0
        self._file = tempfile.TemporaryFile(prefix="cuescore-", suffix=".f32", dir=directory)

    def append(self, block: np.ndarray) -> None:
        """Add float32 samples [C, k] at the end."""
        if block.shape[0] != self.channels:
            raise ValueError(f"a {self.channels}-channel spool got a block of shape {block.shape}")
        frames = np.ascontiguousarray(np.asarray(block, dtype=np.float32).T)
        os.pwrite(self._file.fileno(), memoryview(frames).cast("B"), self.n * self.channels * 4)
        self.n += block.shape[1]

    def _read(self, start: int, stop: int) -> np.ndarray:
        size = (stop - start) * self.channels * 4
        data = os.pread(self._file.fileno(), size, start * self.channels * 4)
        if len(data) != size:
            raise OSError(f"spool file shorter than written ({len(data)} of {size} bytes)")
        return np.frombuffer(data, np.float32).reshape(stop - start, self.channels).T.copy()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "Spool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def spooled(blocks: Iterator[np.ndarray], channels: int, sample_rate: int) -> Spool:
    """A `Spool` of the blocks [C, k] in order."""
    spool = Spool(channels, sample_rate)
    try:
        for block in blocks:
            spool.append(block)
    except BaseException:
        spool.close()
        raise
    return spool
