"""Voicing: chord tones placed in a register, voice-led from one chord to the next; scales of a key.

Pitches are MIDI note numbers (60 = middle C); pitch classes are 0-11 (0 = C).
"""

from __future__ import annotations

import itertools
from functools import lru_cache

from cuescore.music.chords import Chord
from cuescore.music.plan import Key

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)
"""Scale steps above the tonic (natural minor)."""


def scale_pitch_classes(key: Key) -> tuple[int, ...]:
    """The seven pitch classes of `key`, tonic first (natural minor for minor keys)."""
    steps = MAJOR_SCALE if key.mode == "major" else MINOR_SCALE
    return tuple((key.tonic + s) % 12 for s in steps)


def chord_scale(chord: Chord, key: Key) -> tuple[int, ...]:
    """The key's seven-note scale bent to fit `chord`, sorted pitch classes.

    Chord tones are spelled in thirds from the root's scale degree (third = two degrees up, fifth
    = four, seventh = six), and each replaces the scale tone of its degree: E major in A minor
    turns G into G# (harmonic minor), Bb major in C major turns B into Bb. A root outside the scale
    counts as the lowered degree above it.
    """
    scale = list(scale_pitch_classes(key))
    if chord.is_none:
        return tuple(sorted(scale))
    if chord.root in scale:
        degree = scale.index(chord.root)
    else:
        degree = scale.index((chord.root + 1) % 12)
        scale[degree] = chord.root
    for interval in _intervals(chord)[1:]:
        steps = 6 if (chord.quality == "dim7" and interval == 9) else _DEGREE_STEPS[interval]
        scale[(degree + steps) % 7] = (chord.root + interval) % 12
    return tuple(sorted(set(scale)))


_DEGREE_STEPS = {1: 1, 2: 1, 3: 2, 4: 2, 5: 3, 6: 4, 7: 4, 8: 4, 9: 5, 10: 6, 11: 6}
"""Semitones above a chord's root → scale degrees above it (6 = b5 and 8 = #5 are fifths)."""


def pitches_in_range(pitch_classes: tuple[int, ...] | list[int], low: int, high: int) -> list[int]:
    """All MIDI pitches in [low, high] whose pitch class is in `pitch_classes`, ascending."""
    pcs = set(pitch_classes)
    return [p for p in range(low, high + 1) if p % 12 in pcs]


def nearest_pitch(pitch_classes: tuple[int, ...] | list[int], target: float, low: int = 0, high: int = 127) -> int:
    """The pitch in [low, high] with a class in `pitch_classes` closest to `target` (lower one on ties)."""
    candidates = pitches_in_range(pitch_classes, low, high)
    if not candidates:
        raise ValueError(f"no pitch of classes {tuple(pitch_classes)} between {low} and {high}")
    return min(candidates, key=lambda p: (abs(p - target), p))


def bass_note(chord: Chord, octave_low: int = 36) -> int:
    """The chord's root in the octave [octave_low, octave_low + 11]."""
    if chord.is_none:
        raise ValueError("the no-chord N has no bass note")
    return octave_low + (chord.root - octave_low) % 12


def fifth_note(chord: Chord, root_pitch: int) -> int:
    """The chord's fifth (or its closest stand-in: b5, #5, or the 4th of sus4) next to `root_pitch`:
    above it when that stays within a tenth of the root, else below."""
    fifth_interval = next((i for i in _intervals(chord) if i in (7, 6, 8)), 7)
    return root_pitch + fifth_interval if fifth_interval <= 7 else root_pitch + fifth_interval - 12


def voice_chord(
    chord: Chord,
    previous: list[int] | None,
    low: int = 48,
    high: int = 72,
    voices: int | None = None,
) -> list[int]:
    """Pitches (ascending) for `chord` within [low, high], voice-led from `previous`.

    Every pitch class of the chord sounds (a triad in four voices doubles its root). Among all such
    voicings the one with least total movement from `previous` wins; without a previous voicing,
    a close root-position voicing near the middle of the range. `voices` defaults to the previous
    voicing's size, else max(3, chord size). Returns [] for N.
    """
    if chord.is_none:
        return []
    n = voices or (len(previous) if previous else max(3, len(chord.pitch_classes)))
    candidates = _voicings(chord.pitch_classes, low, high, n)
    if not candidates:
        raise ValueError(f"cannot voice {chord.label} in {n} voices between {low} and {high}")
    if previous:
        return list(min(candidates, key=lambda v: (_movement(v, previous) + _shape_penalty(v, chord), v)))
    centre = (low + high) / 2.0
    return list(min(candidates, key=lambda v: (_shape_penalty(v, chord) * 2 + abs(_mean(v) - centre)
                                               + (0 if v[0] % 12 == chord.root else 5), v)))


def _intervals(chord: Chord) -> tuple[int, ...]:
    return tuple((pc - chord.root) % 12 for pc in chord.pitch_classes)


def _mean(values: tuple[int, ...]) -> float:
    return sum(values) / len(values)


def _movement(voicing: tuple[int, ...], previous: list[int]) -> float:
    """Total voice movement in semitones: each voice to its partner when the sizes match,
    else each note to the nearest note of the other chord (both ways)."""
    prev = sorted(previous)
    if len(prev) == len(voicing):
        return float(sum(abs(a - b) for a, b in zip(voicing, prev)))
    there = sum(min(abs(a - b) for b in prev) for a in voicing)
    back = sum(min(abs(a - b) for a in voicing) for b in prev)
    return (there + back) / 2.0


def _shape_penalty(voicing: tuple[int, ...], chord: Chord) -> float:
    """Prefer idiomatic voicings: no seconds down low, no gaps wider than an octave between
    neighbours, a doubled root rather than a doubled third or fifth, and (when the chord has more
    tones than voices) root and third kept, the fifth dropped."""
    classes = {p % 12 for p in voicing}
    third = chord.pitch_classes[1]
    penalty = 6.0 * ((chord.root not in classes) + (third not in classes))
    for a, b in zip(voicing, voicing[1:]):
        if b - a > 12:
            penalty += 4.0
        if b - a <= 2 and a < 55:
            penalty += 3.0
    counts: dict[int, int] = {}
    for p in voicing:
        counts[p % 12] = counts.get(p % 12, 0) + 1
    for pc, count in counts.items():
        if count > 1 and pc != chord.root:
            penalty += 2.0 * (count - 1)
    return penalty


@lru_cache(maxsize=4096)
def _voicings(pitch_classes: tuple[int, ...], low: int, high: int, n: int) -> tuple[tuple[int, ...], ...]:
    """Every ascending n-note set of distinct pitches in [low, high] that covers all `pitch_classes`
    (or, when n is smaller than the chord, uses only its tones without repeating a class)."""
    pool = pitches_in_range(pitch_classes, low, high)
    need = set(pitch_classes)
    out = []
    for combo in itertools.combinations(pool, n):
        classes = {p % 12 for p in combo}
        if (n >= len(need) and classes == need) or (n < len(need) and len(classes) == n):
            out.append(combo)
    return tuple(out)
