"""Audio as arrays: the `Audio` value, WAV writing, and reading a file's audio track."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass

import av
import numpy as np
import soundfile as sf

from cuescore.errors import InputError
from cuescore.fileio import atomic_path
from cuescore.media.probe import _reason, open_container
from cuescore.media.track import ArrayTrack, Streamed, Track, mix_channels


@dataclass
class Audio:
    """float32 samples [channels, samples] in -1..1 at `sample_rate` Hz."""

    samples: np.ndarray
    sample_rate: int

    def __post_init__(self) -> None:
        s = np.asarray(self.samples, dtype=np.float32)
        if s.ndim == 1:
            s = s[None, :]
        if s.ndim != 2:
            raise ValueError(f"Audio samples must be [channels, samples], got shape {s.shape}")
        self.samples = s

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.samples.shape[1] / float(self.sample_rate)

    def fit_length(self, n_samples: int) -> "Audio":
        """Trim or zero-pad to exactly `n_samples`."""
        s = self.samples[:, :n_samples]
        if s.shape[1] < n_samples:
            s = np.pad(s, ((0, 0), (0, n_samples - s.shape[1])))
        return Audio(s, self.sample_rate)

    def to_channels(self, channels: int) -> "Audio":
        """Mono ↔ stereo conversion (mono is duplicated; more channels are averaged to mono first)."""
        return self if self.channels == channels else Audio(mix_channels(self.samples, channels), self.sample_rate)


def write_wav(audio: Audio | Track, path: str | os.PathLike) -> None:
    """Write 16-bit PCM WAV atomically; a `Track` is written a block at a time."""
    track = audio if isinstance(audio, Track) else ArrayTrack(audio.samples, audio.sample_rate)
    with atomic_path(path) as tmp:
        with sf.SoundFile(str(tmp), "w", track.sample_rate, track.channels, subtype="PCM_16", format="WAV") as f:
            for _, block in track.blocks():
                f.write(np.clip(block.T, -1.0, 1.0))


def read_audio_track(path: str | os.PathLike, sample_rate: int = 44100, channels: int = 2,
                     align_to: float | None = None) -> Audio:
    """Decode the first audio stream of any media file, resampled to `sample_rate` and `channels`.

    align_to: a container time in seconds (e.g. the video's `VideoInfo.start_time`); the result
    is padded or trimmed at the front so that its sample 0 sounds at that time.
    """
    chunks = list(_decoded(path, sample_rate, channels, align_to))
    return Audio(np.concatenate(chunks, axis=1) if chunks else np.zeros((channels, 0), np.float32), sample_rate)


def audio_track_stream(path: str | os.PathLike, n: int, sample_rate: int = 44100, channels: int = 2,
                       align_to: float | None = None) -> Track:
    """`read_audio_track` as a `Track` of exactly `n` samples (cut or padded with silence),
    decoded a block at a time as it is read: memory does not grow with the file's length."""
    return Streamed(channels, n, sample_rate, lambda: _decoded(path, sample_rate, channels, align_to))


def _decoded(path, sample_rate: int, channels: int, align_to: float | None) -> Iterator[np.ndarray]:
    """Blocks [channels, k] of the first audio stream at `sample_rate`, in order (`read_audio_track`)."""
    with open_container(path) as container:
        if not container.streams.audio:
            raise InputError(f"{path}: has no audio track")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="fltp", layout="stereo" if channels == 2 else "mono", rate=sample_rate)
        skip = 0  # samples still to drop at the front, when the audio starts before `align_to`
        try:
            for frame in itertools.chain(container.decode(stream), [None]):  # None flushes
                if frame is not None and align_to is not None and frame.time is not None:
                    shift, align_to = int(round((float(frame.time) - align_to) * sample_rate)), None
                    if shift > 0:
                        yield np.zeros((channels, shift), np.float32)
                    skip = max(0, -shift)
                for out in resampler.resample(frame):
                    data = out.to_ndarray()
                    cut, skip = min(skip, data.shape[1]), skip - min(skip, data.shape[1])
                    if cut < data.shape[1]:
                        yield data[:, cut:]
        except av.error.FFmpegError as exc:
            raise InputError(f"{path}: the audio track cannot be decoded ({_reason(exc)})") from None
