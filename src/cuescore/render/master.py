"""Mastering: the dry SoundFont render made room-sized, even and loud enough for a video.

Chain: a level-setting pre-gain (so the compressor's threshold means the same for every input), a
light reverb, gentle compression, a short fade-out, then loudness normalisation to the target
integrated loudness (ITU-R BS.1770 via pyloudnorm) into a limiter, repeated until the limiter no
longer pulls the loudness off target, and a final true-peak guard at -1 dBTP (4× oversampled peak).
"""

from __future__ import annotations

import numpy as np
import pyloudnorm
from pedalboard import Compressor, Limiter, Pedalboard, Reverb
from scipy.signal import resample_poly

from cuescore.media.audio import Audio

PRE_LEVEL_LUFS = -20.0
"""Loudness the compressor sees, whatever the input level."""
TRUE_PEAK_DBTP = -1.0
LIMITER_DB = -2.0
FADE_SECONDS = 0.5
TOLERANCE_LU = 0.3


def loudness(audio: Audio) -> float:
    """Integrated loudness in LUFS (-inf for silence); blocks shorten for clips under 0.4 s."""
    block = min(0.4, audio.duration)
    if block <= 0:
        return float("-inf")
    meter = pyloudnorm.Meter(audio.sample_rate, block_size=block)
    with np.errstate(divide="ignore"):
        return float(meter.integrated_loudness(audio.samples.T.astype(np.float64)))


def true_peak(samples: np.ndarray, chunk: int = 1 << 18) -> float:
    """Peak of `samples` [C, N] oversampled 4× (an estimate of the inter-sample true peak), linear.
    Works through overlapping chunks so long tracks need little memory."""
    n, pad, peak = samples.shape[1], 64, 0.0
    for start in range(0, n, chunk):
        left = min(start, pad)
        segment = samples[:, start - left: start + chunk + pad]
        up = resample_poly(segment, 4, 1, axis=1)[:, 4 * left: 4 * (left + min(chunk, n - start))]
        peak = max(peak, float(np.abs(up).max()))
    return peak


def _gain(samples: np.ndarray, db: float) -> np.ndarray:
    return (samples * np.float32(10.0 ** (db / 20.0))).astype(np.float32)


def _fade_out(samples: np.ndarray, sample_rate: int, seconds: float) -> np.ndarray:
    n = min(samples.shape[1], int(round(seconds * sample_rate)))
    if n > 1:
        curve = (0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, n))).astype(np.float32)
        samples = samples.copy()
        samples[:, -n:] *= curve
    return samples


def master(audio: Audio, target_lufs: float = -14.0, reverb: float = 0.25) -> Audio:
    """Reverb (`reverb` 0-1 = wet level; 0 = none), gentle compression, a short fade-out at the end,
    and loudness normalisation to `target_lufs` with a limiter keeping the true peak under -1 dBTP.

    Lands within about 0.3 LU of the target unless the target asks for more than the limiter can
    give without squashing (then as close as the peak limit allows). Silent input stays silent.
    Returns new `Audio` of the same shape.
    """
    if not 0.0 <= reverb <= 1.0:
        raise ValueError(f"reverb must be within 0..1, got {reverb}")
    sr = audio.sample_rate
    x = np.nan_to_num(audio.samples.astype(np.float32))
    level = loudness(Audio(x, sr))
    if not np.isfinite(level):
        return Audio(np.zeros_like(x), sr)
    x = _gain(x, PRE_LEVEL_LUFS - level)
    stages = []
    if reverb > 0:
        stages.append(Reverb(room_size=0.5, damping=0.45, wet_level=reverb, dry_level=1.0 - 0.3 * reverb, width=0.9))
    stages.append(Compressor(threshold_db=-20.0, ratio=2.0, attack_ms=25.0, release_ms=250.0))
    x = Pedalboard(stages)(x, sr)
    x = _fade_out(x, sr, min(FADE_SECONDS, audio.duration / 4))
    if not np.all(np.isfinite(x)) or not np.isfinite(loudness(Audio(x, sr))):
        return Audio(np.zeros_like(audio.samples), sr)

    gain = target_lufs - loudness(Audio(x, sr))
    out = x
    for _ in range(6):
        out = _peak_safe(Limiter(threshold_db=LIMITER_DB, release_ms=120.0)(_gain(x, gain), sr))
        error = target_lufs - loudness(Audio(out, sr))
        if abs(error) <= TOLERANCE_LU:
            break
        gain += error
    return Audio(out, sr)


def _peak_safe(samples: np.ndarray) -> np.ndarray:
    """Scaled down, if needed, so that the true peak stays at or below `TRUE_PEAK_DBTP`."""
    ceiling = 10.0 ** (TRUE_PEAK_DBTP / 20.0)
    peak = true_peak(samples)
    return (samples * np.float32(ceiling / peak)).astype(np.float32) if peak > ceiling else samples
