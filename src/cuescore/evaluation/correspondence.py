"""How well a soundtrack follows its video: cut alignment, emotion correspondence, correlations.

`evaluate_plan(json_path)` reads a plan JSON written by `score_video` (or `MusicPlan.save_json`)
and, when they lie beside it, the MIDI and WAV of the same name. Per-second features come from
a `VideoFeatures` if given, else from the JSON's top-level "motion", "arousal" and "emotion"
(`score_video` writes them).

Metrics (None where the inputs are missing or a correlation is undefined):
- cut_on_beat / cut_on_downbeat: share of hard cuts within 50 ms of a beat / downbeat.
- cut_on_chord_change: share of hard cuts within 50 ms of a chord change.
- emotion_correspondence (Video2Music): among the seconds whose dominant emotion has
  probability ≥ 0.8, the share where the chord sounding at the middle of the second has a
  quality in that emotion's `EMOTION_QUALITIES` set. "neutral" has no affinity set, so its
  seconds are left out (they could never match).
- motion_density_spearman: Spearman ρ of per-second motion and note density (note onsets
  per second in the MIDI, drums excluded; else the plan's density level of the bar).
- arousal_loudness_spearman: Spearman ρ of per-second arousal and loudness (RMS in dB per
  second of the WAV; else the plan's energy of the bar).
  Both correlations leave out a last second that is less than half a second long (a 10.01 s
  clip has 11 timeline rows; the 10 ms of the last one say nothing about density or level).
"""

from __future__ import annotations

import json
import os
from dataclasses import fields
from pathlib import Path

import numpy as np
import pretty_midi
import soundfile as sf
from scipy.stats import spearmanr

from cuescore.analysis.features import EMOTIONS, VideoFeatures, timeline_length
from cuescore.errors import InputError
from cuescore.music.chords import EMOTION_QUALITIES
from cuescore.music.plan import ChordSpan, MusicPlan
from cuescore.music.tempo import BEAT_TOLERANCE, on_grid_share

CONFIDENT = 0.8
"""Probability above which a second's dominant emotion counts (Video2Music)."""


def read_result_json(path: str | os.PathLike, required: tuple[str, ...] = ()) -> dict:
    """OUT.json of `cuescore generate` as a dict; InputError when it is missing, not JSON or lacks
    one of the `required` top-level keys (then it is not a cuescore result)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file; give the OUT.json written by `cuescore generate`")
    try:
        data = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InputError(f"{path} is not JSON; give the OUT.json written by `cuescore generate`") from None
    missing = [key for key in required if not isinstance(data, dict) or key not in data]
    if missing or not isinstance(data, dict):
        what = f" (no '{missing[0]}')" if missing else ""
        raise InputError(f"{path} is not a cuescore result{what}; give the OUT.json written by `cuescore generate`")
    return data


def load_plan(json_path: str | os.PathLike) -> tuple[MusicPlan, dict]:
    """The plan in a JSON file plus the file's whole content (extra top-level fields included)."""
    path = Path(json_path)
    try:
        data = json.loads(path.read_text())
        known = {f.name for f in fields(MusicPlan)}
        plan = MusicPlan.from_dict({k: v for k, v in data.items() if k in known})
    except FileNotFoundError:
        raise InputError(f"{path}: no such file; give a plan JSON written by cuescore") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: not a cuescore plan ({exc})") from None
    return plan, data


def chord_changes(chords: list[ChordSpan]) -> list[float]:
    """Times (s) where the sounding chord changes: each span start whose label differs from the
    chord just before it (the first span counts only if it starts after 0 s)."""
    out = []
    for i, span in enumerate(chords):
        prev = chords[i - 1] if i else None
        touching = prev is not None and abs(prev.end - span.start) < 1e-6
        if not (touching and prev.label == span.label) and (prev is not None or span.start > 1e-6):
            out.append(span.start)
    return out


def emotion_correspondence(emotion: np.ndarray, plan: MusicPlan, threshold: float = CONFIDENT,
                           ) -> tuple[float | None, int]:
    """(share of confident seconds whose chord quality suits the emotion, number of such seconds)."""
    probs = np.asarray(emotion, float)
    hits = total = 0
    for t, row in enumerate(probs):
        e = int(np.argmax(row))
        if row[e] < threshold or not EMOTION_QUALITIES[EMOTIONS[e]]:
            continue
        total += 1
        chord = plan.chord_at(min(t + 0.5, (t + plan.duration) / 2))
        hits += (not chord.is_none) and chord.quality in EMOTION_QUALITIES[EMOTIONS[e]]
    return (hits / total if total else None), total


def _bar_values(plan: MusicPlan, values: list[float], T: int) -> np.ndarray:
    return np.array([values[plan.bar_index(t + 0.5)] if values else 0.0 for t in range(T)], float)


def density_per_second(plan: MusicPlan, midi_path: str | os.PathLike | None = None) -> tuple[np.ndarray, str]:
    """Note onsets per second of the MIDI (drums excluded) or the plan's bar density; and its source."""
    T = timeline_length(plan.duration)
    if midi_path is not None and Path(midi_path).is_file():
        midi = pretty_midi.PrettyMIDI(str(midi_path))
        onsets = [n.start for inst in midi.instruments if not inst.is_drum for n in inst.notes]
        return np.bincount(np.clip(np.asarray(onsets, int), 0, T - 1), minlength=T)[:T].astype(float), "midi"
    return _bar_values(plan, plan.density, T), "plan"


def loudness_per_second(plan: MusicPlan, wav_path: str | os.PathLike | None = None) -> tuple[np.ndarray, str]:
    """RMS level (dB) per second of the WAV, or the plan's bar energy; and its source."""
    T = timeline_length(plan.duration)
    if wav_path is not None and Path(wav_path).is_file():
        audio, rate = sf.read(str(wav_path), dtype="float32", always_2d=True)
        mono = audio.mean(axis=1)
        levels = [np.sqrt(np.mean(mono[t * rate:(t + 1) * rate] ** 2)) if mono[t * rate:(t + 1) * rate].size else 0.0
                  for t in range(T)]
        return 20.0 * np.log10(np.asarray(levels) + 1e-9), "wav"
    return _bar_values(plan, plan.energy, T), "plan"


def spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    """Spearman's ρ over the common length; None if either side is constant or too short."""
    n = min(len(a), len(b))
    x, y = np.asarray(a[:n], float), np.asarray(b[:n], float)
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    return float(spearmanr(x, y).statistic)


def full_seconds(duration: float) -> int:
    """Timeline rows that cover at least half a second of the video."""
    T = timeline_length(duration)
    return T - 1 if T > 1 and duration - (T - 1) < 0.5 else T


def _series(name: str, features: VideoFeatures | None, data: dict) -> np.ndarray | None:
    if features is not None:
        return np.asarray(getattr(features, name), float)
    value = data.get(name)
    return None if value is None else np.asarray(value, float)


def evaluate_plan(json_path: str | os.PathLike, features: VideoFeatures | None = None, *,
                  midi_path: str | os.PathLike | None = None, wav_path: str | os.PathLike | None = None) -> dict:
    """All correspondence metrics for one plan JSON (see the module docstring)."""
    plan, data = load_plan(json_path)
    base = Path(json_path)
    midi_path = midi_path if midi_path is not None else base.with_suffix(".mid")
    wav_path = wav_path if wav_path is not None else base.with_suffix(".wav")
    return evaluate(plan, features, data=data, midi_path=midi_path, wav_path=wav_path)


def evaluate(plan: MusicPlan, features: VideoFeatures | None = None, *, data: dict | None = None,
             midi_path: str | os.PathLike | None = None, wav_path: str | os.PathLike | None = None) -> dict:
    """The metrics for an in-memory plan; `data` holds extra per-second series ("motion", ...)."""
    data = data or {}
    cuts = features.hard_cuts if features is not None else list(plan.cuts)
    emotion = _series("emotion", features, data)
    motion, arousal = _series("motion", features, data), _series("arousal", features, data)
    density, density_source = density_per_second(plan, midi_path)
    loudness, loudness_source = loudness_per_second(plan, wav_path)
    corr, confident = emotion_correspondence(emotion, plan) if emotion is not None else (None, 0)
    n = full_seconds(plan.duration)
    return {
        "hard_cuts": len(cuts),
        "cut_on_beat": on_grid_share(cuts, plan.beats, BEAT_TOLERANCE),
        "cut_on_downbeat": on_grid_share(cuts, plan.downbeats, BEAT_TOLERANCE),
        "cut_on_chord_change": on_grid_share(cuts, chord_changes(plan.chords), BEAT_TOLERANCE),
        "emotion_correspondence": corr,
        "confident_seconds": confident,
        "motion_density_spearman": None if motion is None else spearman(motion[:n], density[:n]),
        "density_source": density_source,
        "arousal_loudness_spearman": None if arousal is None else spearman(arousal[:n], loudness[:n]),
        "loudness_source": loudness_source,
    }
