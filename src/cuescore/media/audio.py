"""Audio as arrays: the `Audio` value, WAV writing, and reading a file's audio track."""

from __future__ import annotations

import os
from dataclasses import dataclass

import av
import numpy as np
import soundfile as sf

from cuescore.errors import InputError
from cuescore.fileio import atomic_path
from cuescore.media.probe import _reason, open_container
from cuescore.media.track import ArrayTrack, Track


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
        if self.channels == channels:
            return self
        mono = self.samples.mean(axis=0, keepdims=True)
        return Audio(np.repeat(mono, channels, axis=0), self.sample_rate)


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
    layout = "stereo" if channels == 2 else "mono"
    with open_container(path) as container:
        if not container.streams.audio:
            raise InputError(f"{path}: has no audio track")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=sample_rate)
        chunks = []
        first_time = None
        try:
            for frame in container.decode(stream):
                if first_time is None and frame.time is not None:
                    first_time = float(frame.time)
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray())
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray())
        except av.error.FFmpegError as exc:
            raise InputError(f"{path}: the audio track cannot be decoded ({_reason(exc)})") from None
    data = np.concatenate(chunks, axis=1) if chunks else np.zeros((channels, 0), np.float32)
    if align_to is not None and first_time is not None:
        shift = int(round((first_time - align_to) * sample_rate))
        data = np.pad(data, ((0, 0), (shift, 0))) if shift > 0 else data[:, -shift:]
    return Audio(data, sample_rate)
