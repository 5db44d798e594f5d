"""Mastering: the dry SoundFont render made room-sized, even and loud enough for a video.

Chain: a level-setting pre-gain (so the compressor's threshold means the same for every input), a
light reverb and gentle compression (pedalboard, C++), a short fade-out, then the gain that puts
the integrated loudness (ITU-R BS.1770) on target, applied through a look-ahead true-peak limiter
with its ceiling at -1 dBTP. The loudness is measured once after compression; the limiter reports
the energy it removed per 100 ms hop, from which the loudness after limiting is predicted and the
gain corrected, so the track is re-measured only when the limiter took off more than
`TOLERANCE_LU`. Meters and limiter work on whole arrays (`render.meter`, `render.limiter`); reverb
and compression run over parts of the track on a grid fixed by its length, in threads where cores
are idle. About 0.3 s of CPU per minute of stereo audio at the default target, 40 % of it in the reverb.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from pedalboard import Compressor, Pedalboard, Reverb

from cuescore.media.audio import Audio
from cuescore.render.limiter import Limited, PeakMap, limit
from cuescore.render.meter import PEAK_BLOCK, HopEnergy, hop_energy, intersample_peaks, loudness, true_peak
from cuescore.render.parallel import idle_workers

__all__ = ["loudness", "master", "true_peak"]

PRE_LEVEL_LUFS = -20.0
"""Loudness the compressor sees, whatever the input level."""
TRUE_PEAK_DBTP = -1.0
LIMITER_MARGIN_DB = 0.05
"""The limiter aims this far under the ceiling: it covers what the gain's release can move an
oversampled peak (under 0.03 dB; where the gain ramps down faster, the peaks are measured again)."""
FADE_SECONDS = 0.5
TOLERANCE_LU = 0.3
PREDICTION_LU = 0.15
"""Stop correcting the gain once the predicted loudness is this close to the target (inaudible)."""
REVERB_TAIL_SECONDS = 4.0
"""The reverb's tail is below -130 dB by then: a part's reverb is computed this far past its end."""
COMPRESSOR_PREROLL_SECONDS = 2.0
"""Audio fed to the compressor ahead of a part (8 release times): its state then matches exactly."""
PART_SECONDS = 20.0
"""Reverb and compression run over parts of at least this long (a track under twice it is one
part), on a grid fixed by the track's length: threads share the parts out."""
MAX_STEPS = 6
MAX_LIMITING_DB = 6.0
"""The gain never goes more than this above the one that meets the target before limiting."""


def _fade_out(samples: np.ndarray, sample_rate: int, seconds: float) -> np.ndarray:
    """`samples` with a raised-cosine fade over the last `seconds` (in place)."""
    n = min(samples.shape[1], int(round(seconds * sample_rate)))
    if n > 1:
        samples[:, -n:] *= (0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, n))).astype(np.float32)
    return samples


def master(audio: Audio, target_lufs: float = -14.0, reverb: float = 0.25) -> Audio:
    """Reverb (`reverb` 0-1 = wet level; 0 = none), gentle compression, a short fade-out at the end,
    and loudness normalisation to `target_lufs` through a limiter keeping the true peak (4×
    oversampled) at or under -1 dBTP.

    Lands within about 0.3 LU of the target unless meeting it would take more than
    `MAX_LIMITING_DB` of extra gain into the limiter (then it stops there, short of the target).
    Silent input stays silent.
    Returns new `Audio` of the same shape.
    """
    if not 0.0 <= reverb <= 1.0:
        raise ValueError(f"reverb must be within 0..1, got {reverb}")
    sr = audio.sample_rate
    x = np.asarray(audio.samples, dtype=np.float32)
    if not np.all(np.isfinite(x)):
        x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    # The pre-gain only sets how hard the compressor works: the gated level of the plain
    # (unweighted) signal is close enough and needs no filtering pass.
    dry = hop_energy(x, sr, weighted=False)
    level = dry.loudness(weighted=dry.plain)
    if not np.isfinite(level):
        return Audio(np.zeros_like(x), sr)
    x = x * np.float32(10.0 ** ((PRE_LEVEL_LUFS - level) / 20.0))
    x = _fade_out(_room_and_compression(x, sr, reverb), sr, min(FADE_SECONDS, audio.duration / 4))
    energy = hop_energy(x, sr)
    base = energy.loudness()
    if not np.isfinite(base) or not np.all(np.isfinite(x)):
        return Audio(np.zeros_like(audio.samples, dtype=np.float32), sr)

    ceiling = 10.0 ** (TRUE_PEAK_DBTP / 20.0)
    nominal = target_lufs - base
    gain, bias, checked, steps = nominal, 0.0, False, []
    peaks = PeakMap(x)
    for _ in range(MAX_STEPS):
        limited, predicted = _limit_and_predict(peaks, sr, gain, ceiling, energy)
        level = predicted + bias
        if abs(target_lufs - level) <= PREDICTION_LU:
            if checked or base + gain - predicted <= TOLERANCE_LU:
                break  # verified, or the limiter took off too little for the prediction to be off
            measured = loudness(Audio(limited.samples, sr))
            checked, bias, level = True, measured - predicted, measured
            if abs(target_lufs - measured) <= TOLERANCE_LU:
                break
        steps.append((gain, level))
        gain = min(_next_gain(steps, target_lufs), nominal + MAX_LIMITING_DB)
        if gain <= steps[-1][0] + 1e-3 and level < target_lufs:
            break  # at the most limiting allowed
    out = limited.samples
    # Only where the limiter's gain moved can an oversampled peak have drifted over the ceiling.
    peak = float(intersample_peaks(out, limited.touched * PEAK_BLOCK).max(initial=0.0))
    if peak > ceiling:
        out *= np.float32(ceiling / peak)
    return Audio(out, sr)


def _room_and_compression(x: np.ndarray, sr: int, reverb: float, workers: int | None = None) -> np.ndarray:
    """Reverb (if `reverb` > 0) then compression, over parts of the track on a grid fixed by its
    length (`PART_SECONDS`), in threads where cores are idle (pedalboard releases the GIL): the
    reverb is linear, so each part is reverberated on its own with a silent tail that overlaps the
    next; each part is compressed after a pre-roll of the audio before it, long enough for the
    compressor's state to match a whole-track one's. The parts, and the order their reverb tails
    are summed in, depend on the length only: any number of workers gives the same samples."""
    def room() -> Reverb:
        return Reverb(room_size=0.5, damping=0.45, wet_level=reverb, dry_level=1.0 - 0.3 * reverb, width=0.9)

    def compression() -> Compressor:
        return Compressor(threshold_db=-20.0, ratio=2.0, attack_ms=25.0, release_ms=250.0)

    n = x.shape[1]
    # The parts lie on a grid fixed by the length alone: the workers only change who computes a
    # part, never where parts start, so the output is the same for any number of them.
    parts = max(1, int(n / sr // PART_SECONDS))
    workers = min(parts, idle_workers(n, sr) if workers is None else max(1, workers))
    if parts == 1:
        board = Pedalboard(([room()] if reverb > 0 else []) + [compression()])
        return np.asarray(board(x, sr), dtype=np.float32)
    cuts = np.linspace(0, n, parts + 1).astype(int)
    tail, pre = int(REVERB_TAIL_SECONDS * sr), int(COMPRESSOR_PREROLL_SECONDS * sr)
    with ThreadPoolExecutor(workers) as pool:
        wet = x
        if reverb > 0:
            def reverberate(k: int) -> np.ndarray:
                part = np.zeros((x.shape[0], cuts[k + 1] - cuts[k] + tail), np.float32)
                part[:, : cuts[k + 1] - cuts[k]] = x[:, cuts[k]:cuts[k + 1]]
                return room()(part, sr)
            wet = np.zeros_like(x)
            for k, part in enumerate(pool.map(reverberate, range(parts))):
                stop = min(n, cuts[k] + part.shape[1])
                wet[:, cuts[k]:stop] += part[:, : stop - cuts[k]]

        def compress(k: int) -> np.ndarray:
            start = max(0, cuts[k] - pre)
            return compression()(wet[:, start:cuts[k + 1]], sr)[:, cuts[k] - start:]
        return np.concatenate(list(pool.map(compress, range(parts))), axis=1).astype(np.float32, copy=False)


def _limit_and_predict(
    peaks: PeakMap, sr: int, gain: float, ceiling: float, energy: HopEnergy
) -> tuple[Limited, float]:
    """The signal after `gain` dB through the limiter, and its predicted integrated loudness: each
    hop's K-weighted energy scaled by the share of plain energy the limiter left there (the
    limiter's gain moves slowly next to the K-weighting filter's memory: the shares agree closely)."""
    limited = limit(peaks, sr, gain, ceiling * 10.0 ** (-LIMITER_MARGIN_DB / 20.0), energy.bounds)
    with np.errstate(divide="ignore", invalid="ignore"):
        kept = np.where(energy.plain > 0, 1.0 - limited.removed / energy.plain, 1.0)
    predicted = energy.loudness(scale=10.0 ** (gain / 10.0), weighted=energy.weighted * np.clip(kept, 0.0, 1.0))
    return limited, predicted


def _next_gain(steps: list[tuple[float, float]], target: float) -> float:
    """Secant step on loudness(gain) from the last two (gain, loudness) pairs; limiting makes the
    slope less than 1, so the first step assumes 1 and later ones use the measured slope."""
    gain, level = steps[-1]
    slope = 1.0
    if len(steps) > 1 and abs(gain - steps[-2][0]) > 1e-6:
        slope = float(np.clip((level - steps[-2][1]) / (gain - steps[-2][0]), 0.05, 1.0))
    return gain + (target - level) / slope
