"""Mastering: the dry SoundFont render made room-sized, even and loud enough for a video.

Chain: a level-setting pre-gain (so the compressor's threshold means the same for every input), a
light reverb (pedalboard, C++), gentle compression, a short fade-out, then the gain that puts the
integrated loudness (ITU-R BS.1770) on target, applied through a look-ahead true-peak limiter
with its ceiling at -1 dBTP. Compression and limiting are gain curves computed once from the mix
(`render.compressor`, `render.limiter`); with the reverb linear, the whole chain is then linear,
and `Mastering.apply` gives each part's stem the mix's processing, so the stems sum to the mix.
The loudness is measured once after compression; the limiter reports the energy it removed per
100 ms hop, from which the loudness after limiting is predicted and the gain corrected, so the
track is re-measured only when the limiter took off more than `TOLERANCE_LU`. Everything streams
over `media.track` blocks: the track is metered, then the reverb runs over parts of it on a grid
fixed by its length (a few parts at a time, in threads where cores are idle) into a temporary
spool file, which the compressor's detector, the meters and the limiter (`render.meter`) read
back, so memory does not grow with the length.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from pedalboard import Reverb

from cuescore.media.audio import Audio
from cuescore.media.track import ArrayTrack, Mapped, Silence, Spool, Track, finite, scaled, spooled
from cuescore.render.compressor import CompressionCurve, CompressorDetector
from cuescore.render.limiter import Limited, PeakMap, limit
from cuescore.render.meter import PEAK_BLOCK, HopEnergy, HopMeter, intersample_peaks, loudness, true_peak
from cuescore.render.parallel import idle_workers

__all__ = ["Mastering", "loudness", "master", "master_track", "master_with_curve", "true_peak"]

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
PART_SECONDS = 20.0
"""Reverb and compression run over parts of at least this long (a track under twice it is one
part), on a grid fixed by the track's length: threads share the parts out."""
MAX_STEPS = 6
MAX_LIMITING_DB = 6.0
"""The gain never goes more than this above the one that meets the target before limiting."""


def _fade(block: np.ndarray, start: int, n: int, fade: int) -> np.ndarray:
    """`block` (samples start.. of a track of `n`) with the raised-cosine fade over the track's last
    `fade` samples applied where it falls (in place)."""
    first = n - fade
    if fade > 1 and start + block.shape[1] > first:
        curve = (0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, fade))).astype(np.float32)
        lo = max(start, first)
        block[:, lo - start:] *= curve[lo - first: start + block.shape[1] - first]
    return block


def master(audio: Audio, target_lufs: float = -14.0, reverb: float = 0.25) -> Audio:
    """`master_track` of audio held in memory; returns new `Audio` of the same shape."""
    out = master_track(ArrayTrack(audio.samples, audio.sample_rate), target_lufs, reverb)
    return Audio(out.read(0, out.n), audio.sample_rate)


def master_track(track: Track, target_lufs: float = -14.0, reverb: float = 0.25) -> Track:
    """Reverb (`reverb` 0-1 = wet level; 0 = none), gentle compression, a short fade-out at the end,
    and loudness normalisation to `target_lufs` through a limiter keeping the true peak (4×
    oversampled) at or under -1 dBTP (`master_with_curve`'s track)."""
    return master_with_curve(track, target_lufs, reverb)[0]


@dataclass
class Mastering:
    """A mix's mastering as fixed gains: the pre-gain, the reverb's wet level, the compressor's
    and the limiter's gain curves (computed from the mix), the fade and the final gain. `apply`
    gives any signal of the mix's length (a part's stem) exactly the same processing, all of it
    linear once the curves are fixed, so mastered stems sum to the mastered mix."""

    n: int
    sample_rate: int
    pre: float
    reverb: float
    fade: int
    compression: CompressionCurve | None = None
    limited: Limited | None = None
    scale: float = 1.0

    def apply(self, track: Track) -> Track:
        """`track` (same length and rate as the mix) mastered with the mix's gains, streamed."""
        if (track.n, track.sample_rate) != (self.n, self.sample_rate):
            raise ValueError(f"a mastering of {self.n} samples at {self.sample_rate} Hz cannot apply to "
                             f"{track.n} samples at {track.sample_rate} Hz")
        if self.compression is None or self.limited is None:
            return Silence(track.channels, self.n, self.sample_rate)
        compressed = self._compressed(self._wet(track))
        limited = dataclasses.replace(self.limited, track=compressed)
        out = spooled((block for _, block in limited.blocks()), track.channels, self.sample_rate)
        return scaled(out, self.scale) if self.scale != 1.0 else out

    def _wet(self, track: Track) -> Spool:
        """`track` times the pre-gain through the room (reverb parts on the fixed grid), spooled."""
        pre = np.float32(self.pre)
        return spooled((block for _, block in _room(Mapped(Mapped(track, finite), lambda b: b * pre), self.reverb)),
                       track.channels, self.sample_rate)

    def _compressed(self, wet: Track) -> Spool:
        """`wet` times the compressor's gain curve, faded out over the last `fade` samples, spooled."""
        return spooled((_fade(block * self.compression.read(start, start + block.shape[1]), start, self.n, self.fade)
                        for start, block in wet.blocks()), wet.channels, self.sample_rate)


def master_with_curve(track: Track, target_lufs: float = -14.0, reverb: float = 0.25) -> tuple[Track, Mastering]:
    """The mastered `track` and its `Mastering` (whose `apply` masters stems the same way).

    Lands within about 0.3 LU of the target unless meeting it would take more than
    `MAX_LIMITING_DB` of extra gain into the limiter (then it stops there, short of the target).
    Silent input stays silent. Streamed: `track` is read twice, the reverberated and the
    compressed track are spooled to temporary files and read again per gain tried; the result is
    a spooled track of the same shape, so memory stays at a few blocks whatever the length.
    """
    if not 0.0 <= reverb <= 1.0:
        raise ValueError(f"reverb must be within 0..1, got {reverb}")
    sr, n = track.sample_rate, track.n
    # The pre-gain only sets how hard the compressor works: the gated level of the plain
    # (unweighted) signal is close enough and needs no filtering pass.
    dry = HopMeter(track.channels, n, sr, weighted=False)
    for _, block in Mapped(track, finite).blocks():
        dry.feed(block)
    plain = dry.result()
    level = plain.loudness(weighted=plain.plain)
    fade = min(n, int(round(min(FADE_SECONDS, track.duration / 4) * sr)))
    if not np.isfinite(level):
        return Silence(track.channels, n, sr), Mastering(n, sr, 0.0, reverb, fade)
    mastering = Mastering(n, sr, float(10.0 ** ((PRE_LEVEL_LUFS - level) / 20.0)), reverb, fade)
    wet = mastering._wet(track)
    detector = CompressorDetector(sr)
    for _, block in wet.blocks():
        detector.feed(block)
    mastering.compression = detector.curve()
    compressed = mastering._compressed(wet)
    meter, all_finite = HopMeter(track.channels, n, sr), True
    for _, block in compressed.blocks():
        all_finite = all_finite and bool(np.all(np.isfinite(block)))
        meter.feed(block)
    energy = meter.result()
    base = energy.loudness()
    if not np.isfinite(base) or not all_finite:
        mastering.compression = None
        return Silence(track.channels, n, sr), mastering
    out, mastering.limited, mastering.scale = _normalise(PeakMap(compressed), energy, target_lufs, base)
    return out, mastering


def _normalise(peaks: PeakMap, energy: HopEnergy, target_lufs: float, base: float) -> tuple[Track, Limited, float]:
    """The gain (through the limiter) that puts `peaks.track` on `target_lufs`: secant steps on
    the predicted loudness, one measurement to check it when the limiter took off enough to matter.
    Returns the limited track, the `Limited` that made it and the final scale it was given."""
    sr = peaks.track.sample_rate
    ceiling = 10.0 ** (TRUE_PEAK_DBTP / 20.0)
    nominal = target_lufs - base
    gain, bias, checked, steps = nominal, 0.0, False, []
    for _ in range(MAX_STEPS):
        limited, predicted = _limit_and_predict(peaks, sr, gain, ceiling, energy)
        level = predicted + bias
        if abs(target_lufs - level) <= PREDICTION_LU:
            if checked or base + gain - predicted <= TOLERANCE_LU:
                break  # verified, or the limiter took off too little for the prediction to be off
            meter = HopMeter(peaks.track.channels, peaks.track.n, sr)
            for _, block in limited.blocks():
                meter.feed(block)
            measured = meter.result().loudness()
            checked, bias, level = True, measured - predicted, measured
            if abs(target_lufs - measured) <= TOLERANCE_LU:
                break
        steps.append((gain, level))
        gain = min(_next_gain(steps, target_lufs), nominal + MAX_LIMITING_DB)
        if gain <= steps[-1][0] + 1e-3 and level < target_lufs:
            break  # at the most limiting allowed
    out = spooled((block for _, block in limited.blocks()), peaks.track.channels, sr)
    # Only where the limiter's gain moved can an oversampled peak have drifted over the ceiling.
    peak = float(intersample_peaks(out, limited.touched * PEAK_BLOCK).max(initial=0.0))
    scale = ceiling / peak if peak > ceiling else 1.0
    return (scaled(out, scale) if scale != 1.0 else out), limited, scale


def _room(track: Track, reverb: float, workers: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """(start, samples) of `track` through the reverb (if `reverb` > 0), in order, over parts of
    the track on a grid fixed by its length (`PART_SECONDS`), a few parts at a time, in threads
    where cores are idle (pedalboard releases the GIL): the reverb is linear, so each part is
    reverberated on its own with a silent tail that overlaps the next. The parts, and the order
    their reverb tails are summed in, depend on the length only: any number of workers gives the
    same samples."""
    n, sr = track.n, track.sample_rate
    if reverb <= 0:
        yield from track.blocks()
        return
    def room() -> Reverb:
        return Reverb(room_size=0.5, damping=0.45, wet_level=reverb, dry_level=1.0 - 0.3 * reverb, width=0.9)

    parts = max(1, int(n / sr // PART_SECONDS))
    if parts == 1:
        yield 0, np.asarray(room()(track.read(0, n), sr), dtype=np.float32)
        return
    workers = min(parts, idle_workers(n, sr) if workers is None else max(1, workers))
    cuts = np.linspace(0, n, parts + 1).astype(int)
    tail = int(REVERB_TAIL_SECONDS * sr)

    def reverberate(k: int) -> np.ndarray:
        part = np.zeros((track.channels, cuts[k + 1] - cuts[k] + tail), np.float32)
        part[:, : cuts[k + 1] - cuts[k]] = track.read(cuts[k], cuts[k + 1])
        return room()(part, sr)

    spill = np.zeros((track.channels, 0), np.float32)  # the previous part's reverb tail
    with ThreadPoolExecutor(workers) as pool:
        for w0 in range(0, parts, 2 * workers):
            ks = range(w0, min(parts, w0 + 2 * workers))
            for k, part in zip(ks, pool.map(reverberate, ks)):
                length = cuts[k + 1] - cuts[k]
                wet = np.zeros((track.channels, length), np.float32)
                wet[:, : spill.shape[1]] += spill
                wet += part[:, :length]
                spill = part[:, length: length + min(tail, n - cuts[k + 1])]
                yield cuts[k], wet


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
