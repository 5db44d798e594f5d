"""`render.blend.Blend`: an engine's audio at another rate and channel count blended with a render
at equal loudness, weighted by `mix`."""

from __future__ import annotations

import numpy as np
import pytest

from cuescore.media import Audio
from cuescore.media.track import ArrayTrack
from cuescore.render.blend import Blend


def _sine(freq: float, rate: int, seconds: float, amplitude: float, channels: int) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return np.repeat((amplitude * np.sin(2 * np.pi * freq * t))[None], channels, axis=0).astype(np.float32)


def _level(samples: np.ndarray, rate: int, freq: float) -> float:
    spectrum = np.abs(np.fft.rfft(samples[0]))
    freqs = np.fft.rfftfreq(samples.shape[1], 1 / rate)
    return float(spectrum[np.abs(freqs - freq) < 5].max())


@pytest.mark.parametrize("mix", [0.5, 0.25])
def test_parts_meet_at_one_loudness_then_take_their_shares(mix):
    render = ArrayTrack(_sine(300, 44100, 2.0, 0.05, 2), 44100)  # quiet, stereo, 44.1 kHz
    neural = Audio(_sine(450, 8000, 2.1, 0.6, 1), 8000)  # loud, mono, 8 kHz, a bit long
    blend = Blend(render, neural, mix)
    assert (blend.channels, blend.n, blend.sample_rate) == (2, 88200, 44100)
    out = blend.read(0, blend.n)
    ratio = _level(out, 44100, 450) / _level(out, 44100, 300)  # where K-weighting is flat
    assert ratio == pytest.approx(mix / (1 - mix), rel=0.05)


def test_mix_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError, match="mix must be within 0..1"):
        Blend(ArrayTrack(np.zeros((2, 10), np.float32), 44100), Audio(np.zeros((1, 10), np.float32), 44100), 1.5)
