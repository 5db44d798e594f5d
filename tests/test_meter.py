"""Loudness and true-peak meters against their references, and the look-ahead limiter's guarantees."""

import numpy as np
import pytest
from scipy.signal import resample_poly

from cuescore.media.audio import Audio
from cuescore.media.track import ArrayTrack
from cuescore.render.limiter import PeakMap, limit
from cuescore.render.master import master
from cuescore.render.meter import hop_energy, loudness, true_peak

SR = 44100
CEILING = 10 ** (-1 / 20)


def _music_like(seconds: float, sr: int = SR, seed: int = 0) -> np.ndarray:
    """Stereo noise bursts and tones with a quiet start: gating and peaks both matter."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    x = 0.2 * rng.standard_normal((2, n)) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.7 * t))
    x += 0.3 * np.sin(2 * np.pi * np.array([[220.0], [331.0]]) * t)
    x[:, : n // 6] *= 0.001
    return x.astype(np.float32)


@pytest.mark.parametrize("sr,seconds", [(44100, 0.3), (44100, 7.3), (48000, 12.0), (22050, 3.0)])
def test_loudness_matches_pyloudnorm(sr, seconds):
    pyloudnorm = pytest.importorskip("pyloudnorm")
    x = _music_like(seconds, sr)
    block = min(0.4, x.shape[1] / sr)
    reference = pyloudnorm.Meter(sr, block_size=block).integrated_loudness(x.T.astype(np.float64))
    assert loudness(Audio(x, sr)) == pytest.approx(reference, abs=1e-3)
    assert loudness(Audio(np.zeros((2, sr), np.float32), sr)) == float("-inf")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_true_peak_equals_full_oversampling(seed):
    x = _music_like(3.0, seed=seed)
    rng = np.random.default_rng(seed)
    x[:, rng.integers(0, x.shape[1], 5)] = 0.97 * rng.choice([-1, 1], (2, 5))  # isolated spikes ring between samples
    reference = float(np.abs(resample_poly(x, 4, 1, axis=1)).max())
    assert true_peak(x) == pytest.approx(reference, rel=1e-5)
    t = np.arange(SR) / SR
    near_nyquist = (0.5 * np.sin(2 * np.pi * 11025 * t + 0.7))[None].astype(np.float32)
    reference = float(np.abs(resample_poly(near_nyquist, 4, 1, axis=1)).max())
    assert true_peak(near_nyquist) == pytest.approx(reference, rel=1e-5)
    assert true_peak(np.zeros((2, 0), np.float32)) == 0.0


def test_limiter_holds_the_ceiling_and_leaves_quiet_parts_alone():
    x = _music_like(6.0)
    energy = hop_energy(x, SR)
    gain_db = 12.0  # peaks well over the ceiling
    out = limit(PeakMap(ArrayTrack(x, SR)), SR, gain_db, CEILING, energy.bounds)
    out.samples = np.concatenate([block for _, block in out.blocks()], axis=1)
    assert true_peak(out.samples) <= CEILING * (1 + 2e-3)
    g = 10 ** (gain_db / 20)
    ratio = np.abs(out.samples).max(axis=0) / np.maximum(np.abs(x * g).max(axis=0), 1e-12)
    assert ratio.max() <= 1.0 + 1e-5  # the limiter only ever lowers the gain
    quiet = slice(0, x.shape[1] // 6 - SR // 10)
    np.testing.assert_allclose(out.samples[:, quiet], x[:, quiet] * np.float32(g), rtol=1e-6)
    assert out.removed.sum() > 0 and len(out.touched) > 0
    untouched = limit(PeakMap(ArrayTrack(x, SR)), SR, -20.0, CEILING, energy.bounds)
    assert untouched.removed.sum() == 0 and len(untouched.touched) == 0


@pytest.mark.parametrize("target", [-23.0, -14.0, -9.0])
def test_master_meets_loud_targets_under_the_true_peak_ceiling(target):
    audio = Audio(_music_like(10.0), SR)
    out = master(audio, target_lufs=target)
    assert loudness(out) == pytest.approx(target, abs=0.3)
    assert true_peak(out.samples) <= CEILING + 1e-4
    assert out.samples.shape == audio.samples.shape and out.samples.dtype == np.float32


@pytest.mark.parametrize("reverb", [0.25, 0.0])
def test_reverb_and_compression_in_parts_equal_the_whole(reverb):
    import sys

    def chain(x, sr, reverb, workers):
        parts = sys.modules["cuescore.render.master"]._room(ArrayTrack(x, sr), reverb, workers)
        return np.concatenate([block for _, block in parts], axis=1)

    x = _music_like(20.0) * np.float32(3.0)
    whole = chain(x, SR, reverb, workers=1)
    for workers in (2, 3):
        np.testing.assert_allclose(chain(x, SR, reverb, workers=workers), whole, atol=1e-5)
