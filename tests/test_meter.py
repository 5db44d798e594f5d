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


# SciPy stays a dependency for the tests; the meter, limiter and synthesiser no longer import it.

@pytest.mark.parametrize("attenuation,width,cutoff", [(70.0, 0.15, 0.5), (60.0, 0.05, 0.25), (30.0, 0.2, 0.3),
                                                      (12.0, 0.4, 0.7)])
def test_kaiser_design_equals_scipys(attenuation, width, cutoff):
    from scipy.signal import firwin, kaiserord

    from cuescore.render.fir import kaiser_lowpass, kaiser_order
    taps, beta = kaiser_order(attenuation, width)
    assert (taps, beta) == kaiserord(attenuation, width)
    for n in (taps, taps + 1, 81, 1, 2):
        np.testing.assert_allclose(kaiser_lowpass(n, cutoff, beta), firwin(n, cutoff, window=("kaiser", beta)),
                                   rtol=0, atol=1e-14)
    with pytest.raises(ValueError):
        kaiser_order(5.0, 0.1)


def test_true_peak_interpolator_is_resample_polys_impulse_response():
    from cuescore.render.meter import OVERSAMPLE, _interpolator
    taps, half = _interpolator()
    impulse = np.zeros(2 * half + 1)
    impulse[half] = 1.0
    response = resample_poly(impulse, OVERSAMPLE, 1)  # phase k of sample n weighs x[n+t] by taps[half + t, k]
    expected = np.stack([response[OVERSAMPLE * (2 * half - np.arange(2 * half + 1)) + k] for k in range(OVERSAMPLE)], 1)
    assert np.array_equal(taps, expected.astype(np.float32))
    assert half == 10 and taps[half, 0] > 1.0


@pytest.mark.parametrize("channels", [1, 2, 3])
def test_streamed_k_weighting_equals_sosfilt_over_the_whole_signal(channels):
    from scipy.signal import sosfilt

    from cuescore.render.iir import SosFilter
    from cuescore.render.meter import k_weighting
    x = _music_like(2.0, 48000)[[0, 1, 0][:channels]]
    reference = sosfilt(k_weighting(48000), x.astype(np.float64), axis=1)
    f = SosFilter(k_weighting(48000), channels, 48000)
    cuts = [0, 1, 1, 4097, 50000, 96000]  # an empty block, a one-sample block, uneven ones
    y = np.concatenate([f.filter(x[:, a:b]) for a, b in zip(cuts, cuts[1:])], axis=1)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y, reference, rtol=0, atol=1e-6)


def test_trailing_max_equals_scipys_maximum_filter():
    from scipy.ndimage import maximum_filter1d

    from cuescore.render.limiter import trailing_max
    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 100, 1000):
        for size in {1, 2, 3, 16, max(1, n - 1), n, n + 1, 3 * n + 5}:
            for x in (rng.standard_normal(n), np.where(rng.random(n) < 0.05, rng.random(n), 0.0)):
                expected = maximum_filter1d(x, size=size, origin=(size - 1) // 2, mode="constant", cval=0.0)
                assert np.array_equal(trailing_max(x, size), expected), (n, size)
