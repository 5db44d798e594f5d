"""Blending the SoundFont render of a score with an engine's own audio (the `guided` engine's `--mix`).

`Blend(render, audio, mix)`: the engine's audio is resampled to the render's rate and channel
count, each part is brought to one integrated loudness (BS.1770, `render.meter`), and they are
summed as `(1 - mix) × render + mix × audio`, a block at a time, before mastering sets the final
loudness. Equal loudness first means `mix` 0.5 sounds like half and half, whatever level each part
came out at.
"""

from __future__ import annotations

import numpy as np

from cuescore.media.audio import Audio
from cuescore.media.track import ArrayTrack, Track
from cuescore.render.meter import HopMeter

BLEND_LUFS = -20.0
"""The loudness both parts are brought to before they are summed."""


def _loudness(track: Track) -> float:
    """Integrated loudness (LUFS) of `track`, read a block at a time; -inf when silent."""
    meter = HopMeter(track.channels, track.n, track.sample_rate)
    for _, block in track.blocks():
        meter.feed(block)
    return meter.result().loudness()


def _gain(track: Track) -> np.float32:
    level = _loudness(track)
    return np.float32(10.0 ** ((BLEND_LUFS - level) / 20.0) if np.isfinite(level) else 0.0)


def conform(audio: Audio, sample_rate: int, channels: int, n: int) -> Audio:
    """`audio` resampled to `sample_rate` (polyphase), with `channels` channels, exactly `n` samples."""
    samples = audio.samples
    if audio.sample_rate != sample_rate:
        from scipy.signal import resample_poly  # only the guided engine blends: the default run skips its import

        g = int(np.gcd(sample_rate, audio.sample_rate))
        samples = resample_poly(samples, sample_rate // g, audio.sample_rate // g, axis=1).astype(np.float32)
    return Audio(samples, sample_rate).to_channels(channels).fit_length(n)


class Blend(Track):
    """`(1 - mix) × render + mix × audio`, each at `BLEND_LUFS` first; the render's rate, channels
    and length (see the module docstring)."""

    def __init__(self, render: Track, audio: Audio, mix: float) -> None:
        if not 0.0 <= mix <= 1.0:
            raise ValueError(f"mix must be within 0..1, got {mix}")
        self.channels, self.n, self.sample_rate = render.channels, render.n, render.sample_rate
        neural = conform(audio, self.sample_rate, self.channels, self.n)
        self.render, self.neural = render, ArrayTrack(neural.samples, neural.sample_rate)
        self.render_gain = np.float32(1.0 - mix) * _gain(render)
        self.neural_gain = np.float32(mix) * _gain(self.neural)

    def _read(self, start: int, stop: int) -> np.ndarray:
        return self.render.read(start, stop) * self.render_gain + self.neural.read(start, stop) * self.neural_gain
