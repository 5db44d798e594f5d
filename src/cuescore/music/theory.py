"""Tonal theory: scales and scale degrees, chords in a key, and chord colours chosen by mood.

A key's scale is the pitch classes counted as in the key (minor includes the raised 7th of
harmonic minor, so its V is diatonic). `DEGREES` names each scale degree with its triad;
`quality_scores` ranks the colours (7ths, 6ths, sus) a degree may take without leaving the key,
preferring plain triads and nudged by Video2Music's emotion → quality affinities
(`EMOTION_QUALITIES`).
"""

from __future__ import annotations

import numpy as np

from cuescore.analysis.features import EMOTIONS
from cuescore.music.chords import EMOTION_QUALITIES, INTERVALS, Chord
from cuescore.music.plan import Key

SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10, 11)}
"""Pitch classes above the tonic counted as in the key; minor includes the raised 7th."""

DEGREES: dict[str, tuple[tuple[str, int, str], ...]] = {
    "major": (("I", 0, "maj"), ("ii", 2, "min"), ("iii", 4, "min"), ("IV", 5, "maj"), ("V", 7, "maj"),
              ("vi", 9, "min"), ("vii°", 11, "dim")),
    "minor": (("i", 0, "min"), ("ii°", 2, "dim"), ("III", 3, "maj"), ("iv", 5, "min"), ("v", 7, "min"),
              ("V", 7, "maj"), ("VI", 8, "maj"), ("VII", 10, "maj")),
}
"""Roman numeral, semitones above the tonic, triad quality."""

_QUALITY_BASE = {"triad": 1.0, "seventh": 0.6, "sixth": 0.35, "sus": 0.35, "other": 0.1}
_EMOTION_GAIN = 1.5        # quality score per unit of emotion probability × weight_emotion


def scale(key: Key) -> frozenset[int]:
    """Pitch classes (0-11) in `key`."""
    return frozenset((key.tonic + i) % 12 for i in SCALES[key.mode])


def is_diatonic(chord: Chord, key: Key) -> bool:
    """True when every note of `chord` is in `key` (N counts as not diatonic)."""
    return not chord.is_none and set(chord.pitch_classes) <= scale(key)


_FAMILY = {"maj": "maj", "7": "maj", "maj7": "maj", "maj6": "maj", "aug": "maj", "min": "min", "min7": "min",
           "min6": "min", "dim": "dim", "dim7": "dim", "hdim7": "dim", "sus2": "sus", "sus4": "sus"}
"""Quality → the triad it colours; a colour keeps its degree's third and fifth (or drops the third: sus)."""


def _quality_class(quality: str, triad: str) -> str:
    if quality == triad:
        return "triad"
    if quality in ("maj7", "min7", "7", "hdim7", "dim7"):
        return "seventh"
    if quality in ("maj6", "min6"):
        return "sixth"
    return "sus" if quality in ("sus2", "sus4") else "other"


def quality_affinity(emotion: np.ndarray) -> dict[str, float]:
    """Quality → summed probability of the emotions it suits."""
    out: dict[str, float] = {}
    for p, name in zip(emotion, EMOTIONS):
        for q in EMOTION_QUALITIES[name]:
            out[q] = out.get(q, 0.0) + float(p)
    return out


def quality_scores(root: int, triad: str, key: Key, emotion: np.ndarray, weight: float,
                   resolved: bool = False, allow_sus: bool = True) -> dict[str, float]:
    """Score of each in-key quality on `root` (plus the degree's own triad): a preference for
    plain triads, raised by `weight` × the probability of the emotions the quality suits.
    resolved: only qualities that can close a piece (no sus, dim or aug).
    allow_sus: False keeps the triad's third (a cadence's dominant, a chord that resolves one)."""
    aff = quality_affinity(np.asarray(emotion, float))
    pcs = scale(key)
    scores = {}
    for q, intervals in INTERVALS.items():
        in_key = {(root + i) % 12 for i in intervals} <= pcs
        if q != triad and (_FAMILY[q] not in (_FAMILY[triad], "sus") or not in_key):
            continue
        if resolved and q != triad and q in ("sus2", "sus4", "dim", "aug", "dim7", "hdim7"):
            continue
        if not allow_sus and q != triad and _FAMILY[q] == "sus":
            continue
        scores[q] = _QUALITY_BASE[_quality_class(q, triad)] + _EMOTION_GAIN * weight * aff.get(q, 0.0)
    return scores


def color_chord(root: int, triad: str, key: Key, emotion: np.ndarray, weight: float,
                rng: np.random.Generator | None = None, resolved: bool = False, allow_sus: bool = True) -> Chord:
    """The chord on `root`: the best-scoring in-key colour (ties broken by `rng` when given)."""
    return Chord(root % 12, _best(quality_scores(root, triad, key, emotion, weight, resolved, allow_sus), rng))


def chromatic_colour(root: int, colours: dict[str, float], emotion: np.ndarray, weight: float,
                     rng: np.random.Generator | None = None) -> Chord:
    """A chromatic chord on `root` (secondary dominant, borrowed chord, suspension): the best of
    `colours` (quality → base score), each raised by `weight` × the probability of the emotions
    it suits, as in `quality_scores`."""
    aff = quality_affinity(np.asarray(emotion, float))
    return Chord(root % 12, _best({q: b + _EMOTION_GAIN * weight * aff.get(q, 0.0) for q, b in colours.items()}, rng))


def _best(scores: dict[str, float], rng: np.random.Generator | None) -> str:
    jitter = rng.uniform(0.0, 0.05, len(scores)) if rng is not None else np.zeros(len(scores))
    return max(zip(scores, np.asarray(list(scores.values())) + jitter), key=lambda kv: kv[1])[0]


def key_for_chords(chords: list[Chord], mode: str, fixed_mode: bool) -> Key:
    """The key in which most of `chords` are diatonic; the first chord's root as tonic and
    `mode` break ties (fixed_mode: only keys of `mode`)."""
    best, best_score = Key(chords[0].root, mode), -1.0
    for tonic in range(12):
        for m in ((mode,) if fixed_mode else ("major", "minor")):
            key = Key(tonic, m)
            score = sum(is_diatonic(c, key) for c in chords)
            score += 0.6 * (tonic == chords[0].root) + 0.2 * (m == mode)
            if score > best_score:
                best, best_score = key, score
    return best


def degree_of(chord: Chord, key: Key) -> int | None:
    """Index of the degree whose root (and, where two share a root, triad family) is the chord's."""
    family = _FAMILY[chord.quality]
    matches = [i for i, (_, offset, triad) in enumerate(DEGREES[key.mode]) if (key.tonic + offset) % 12 == chord.root]
    exact = [i for i in matches if DEGREES[key.mode][i][2] == family]
    return (exact or matches or [None])[0]

