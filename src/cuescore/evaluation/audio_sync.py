"""How an audio track follows its video, measured from the audio itself (librosa), for any system.

The plan-based metrics (`correspondence.evaluate`) read where a plan *put* its beats. These read
what can be *heard*: the audio is beat-tracked (`librosa.beat.beat_track`) and

- audio_cut_on_beat: share of the video's hard cuts within `AUDIO_BEAT_TOLERANCE` (70 ms) of a
  tracked beat. Near either end (within `END_CONTEXT_S`, at most a fifth of the piece, of the start
  or the end, and before the first tracked beat or after the last, where a tracker lacks context
  and trims its beats) a note onset counts instead; `cuts_judged_by_onset` says how many. Elsewhere only beats count, so audio
  the tracker finds no beat in (noise, a random model) does not pass on its onsets.
- audio_tempo_bpm: the tracker's tempo.
- with a plan: tempo agreement (the audio's tempo over the plan's; MIREX accuracy 1 = within 4 %,
  accuracy 2 = within 4 % of 1, 2, 3, 1/2 or 1/3 times it) and chord agreement: for each plan
  chord span, the share of the audio's chroma (`librosa.feature.chroma_stft`) in the chord's pitch
  classes (chance: the chord's size over 12), and their duration-weighted mean. Null without a plan.

`evaluate_audio(audio, cuts, plan)` takes any media file with sound (a WAV another system wrote,
a scored video); `video_hard_cuts(video)` finds the cuts as `cuescore analyze` does;
`evaluate_scored_video(OUT.mp4)` and `evaluate_audio_for_video(AUDIO, VIDEO, PLAN)` are the two
forms of `cuescore evaluate` on audio.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np

from cuescore.errors import InputError
from cuescore.evaluation.correspondence import evaluate_plan, load_plan, read_result_json
from cuescore.media.audio import read_audio_track
from cuescore.music.plan import ChordSpan, MusicPlan

AUDIO_BEAT_TOLERANCE = 0.07
"""Seconds between a cut and a heard beat that still count as on the beat."""
ANALYSIS_RATE = 22050
"""Sample rate the audio is analysed at (librosa's default)."""
TEMPO_TOLERANCE = 0.04
"""Relative tempo error of MIREX's tempo accuracies."""
OCTAVE_FACTORS = (1.0, 2.0, 3.0, 0.5, 1.0 / 3.0)
END_CONTEXT_S = 4.0
"""Seconds at either end of the audio where a cut outside the tracked beats may be judged by an onset
(librosa trims weak beats at the ends: 3.6 s of an affective render's fade on the shared clips)."""


@dataclass
class HeardRhythm:
    """What the beat tracker heard: beat and onset times and the duration (seconds), the tempo (BPM)."""

    beats: np.ndarray
    onsets: np.ndarray
    tempo_bpm: float
    duration: float


def load_mono(path: str | os.PathLike) -> np.ndarray:
    """The first audio stream of any media file, mono float32 [N] at `ANALYSIS_RATE`."""
    return read_audio_track(path, ANALYSIS_RATE, channels=1).samples[0]


def track_rhythm(y: np.ndarray, sr: int = ANALYSIS_RATE) -> HeardRhythm:
    """Beats, onsets and tempo of mono audio `y` [N] at `sr` Hz."""
    tempo, beats = librosa.beat.beat_track(y=y, sr=sr, units="time")
    onsets = librosa.onset.onset_detect(y=y, sr=sr, units="time")
    return HeardRhythm(np.asarray(beats, float), np.asarray(onsets, float), float(np.atleast_1d(tempo)[0]),
                       y.size / sr)


def _near(times: np.ndarray, t: float, tolerance: float) -> bool:
    return bool(times.size) and float(np.min(np.abs(times - t))) <= tolerance + 1e-9


def audio_cut_on_beat(cuts: list[float], rhythm: HeardRhythm, tolerance: float = AUDIO_BEAT_TOLERANCE,
                      ) -> tuple[float | None, int]:
    """(share of `cuts` on a heard beat, or on an onset near an end outside the tracked beats (see
    the module docstring); None without cuts, how many cuts were judged by onsets)."""
    if not cuts:
        return None, 0
    beats = rhythm.beats
    first, last = (float(beats[0]), float(beats[-1])) if beats.size else (np.inf, -np.inf)
    context = min(END_CONTEXT_S, rhythm.duration / 5)
    hits = by_onset = 0
    for cut in cuts:
        lead_in = cut < first - tolerance and cut <= context
        tail = cut > last + tolerance and cut >= rhythm.duration - context
        by_onset += int(lead_in or tail)
        hits += _near(beats, cut, tolerance) or ((lead_in or tail) and _near(rhythm.onsets, cut, tolerance))
    return hits / len(cuts), by_onset


def tempo_agreement(audio_bpm: float, plan_bpm: float) -> dict:
    """The audio's tempo against the plan's: ratio, MIREX accuracy 1 and 2 (booleans)."""
    ratio = audio_bpm / plan_bpm if plan_bpm > 0 else float("nan")
    close = [abs(ratio / f - 1.0) <= TEMPO_TOLERANCE for f in OCTAVE_FACTORS]
    return {"plan_tempo_bpm": round(plan_bpm, 3), "ratio": round(ratio, 4), "acc1": close[0], "acc2": any(close)}


def chord_agreement(y: np.ndarray, chords: list[ChordSpan], sr: int = ANALYSIS_RATE) -> dict:
    """Per chord span of the plan, the share of the audio's chroma in the chord's pitch classes;
    the duration-weighted mean, and the same mean by chance (chord size / 12)."""
    hop = 512
    chroma = librosa.feature.chroma_stft(y=y, sr=sr, hop_length=hop, n_fft=4096, norm=None)  # loud frames weigh more
    times = librosa.frames_to_time(np.arange(chroma.shape[1]), sr=sr, hop_length=hop)
    spans, weights, chance = [], [], []
    for span in chords:
        tones = list(span.chord.pitch_classes) if not span.chord.is_none else []
        inside = (times >= span.start) & (times < span.end)
        total = float(chroma[:, inside].sum())
        if not tones or total <= 0:
            continue
        share = float(chroma[tones][:, inside].sum()) / total
        spans.append({"start": span.start, "end": span.end, "label": span.label, "chord_tone_share": round(share, 4)})
        weights.append(span.end - span.start)
        chance.append(len(tones) / 12.0)
    if not spans:
        return {"chord_tone_share": None, "chance": None, "spans": []}
    shares = [s["chord_tone_share"] for s in spans]
    return {"chord_tone_share": round(float(np.average(shares, weights=weights)), 4),
            "chance": round(float(np.average(chance, weights=weights)), 4), "spans": spans}


def video_hard_cuts(video: str | os.PathLike) -> list[float]:
    """The hard cuts of `video` (seconds), found as `cuescore analyze` finds them."""
    from cuescore.analysis.base import ANALYSIS_SIDE
    from cuescore.analysis.cuts import CutDetector
    from cuescore.analysis.features import HARD_CUT
    from cuescore.media.decode import Sampling, iter_sampled
    from cuescore.media.probe import probe

    info = probe(video)
    detector = CutDetector(info.fps or 30.0)
    for t, (image,) in iter_sampled(video, [Sampling(max_side=ANALYSIS_SIDE)], threads=False):
        detector.update(t, image)
    detector.finish(info.duration)
    return sorted(tr.time for tr in detector.transitions if tr.kind == HARD_CUT)


def evaluate_audio(audio: str | os.PathLike, cuts: list[float], plan: MusicPlan | None = None) -> dict:
    """The audio metrics (module docstring) of the sound in `audio` against the video's hard `cuts`."""
    y = load_mono(audio)
    rhythm = track_rhythm(y)
    share, by_onset = audio_cut_on_beat(cuts, rhythm)
    return {
        "hard_cuts": len(cuts),
        "audio_cut_on_beat": share,
        "cuts_judged_by_onset": by_onset,
        "audio_tempo_bpm": round(rhythm.tempo_bpm, 3),
        "heard_beats": int(rhythm.beats.size),
        "tempo_agreement": None if plan is None else tempo_agreement(rhythm.tempo_bpm, plan.mean_bpm),
        "chord_agreement": None if plan is None else chord_agreement(y, plan.chords),
    }


def evaluate_scored_video(video_out: str | os.PathLike) -> dict:
    """Metrics of a video `score_video` wrote: its own sound against its cuts. With OUT.json beside
    it, the cuts come from there and, when it holds a plan, the plan-based metrics
    (`correspondence.evaluate_plan`: cut_on_beat, ...) are reported too; else the cuts are detected."""
    beside = Path(video_out).with_suffix(".json")
    if not beside.is_file():
        try:
            cuts = video_hard_cuts(video_out)
        except InputError:
            raise InputError(f"{video_out}: not a video with sound (and no {beside.name} beside it); for an audio "
                             "file give --video VIDEO") from None
        return evaluate_audio(video_out, cuts)
    cuts = list(read_result_json(beside, ("cuts",))["cuts"])
    try:
        plan, _ = load_plan(beside)
    except InputError:  # an audio engine's record: no plan
        return evaluate_audio(video_out, cuts)
    return {**evaluate_plan(beside), **evaluate_audio(video_out, cuts, plan)}


def evaluate_audio_for_video(audio: str | os.PathLike, video: str | os.PathLike,
                             plan_json: str | os.PathLike | None = None) -> dict:
    """Metrics of any audio file against the hard cuts detected in `video` (and a plan JSON's tempo and chords)."""
    plan = load_plan(plan_json)[0] if plan_json is not None else None
    return evaluate_audio(audio, video_hard_cuts(video), plan)
