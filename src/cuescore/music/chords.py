"""Chords: the MuVi-Sync vocabulary, label parsing and printing, transposition, pitch classes.

Token 0 is `N` (no chord); token `1 + 13 * root + q` is the chord with `root` (0 = C .. 11 = B)
and quality index `q` in `QUALITIES`; 157 is END and 158 is PAD. Labels print as MuVi-Sync's
`chord.json` spells them: `C`, `C#:min7`, `A:min`, `F:maj7`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ROOTS = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
QUALITIES = ("maj", "dim", "sus4", "min7", "min", "sus2", "aug", "dim7", "maj6", "hdim7", "7", "min6", "maj7")
NO_CHORD, END, PAD = 0, 157, 158
VOCAB_SIZE = 159
"""Tokens 0..158: N, the 156 chords, END, PAD."""

INTERVALS: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7), "dim": (0, 3, 6), "sus4": (0, 5, 7), "min7": (0, 3, 7, 10), "min": (0, 3, 7),
    "sus2": (0, 2, 7), "aug": (0, 4, 8), "dim7": (0, 3, 6, 9), "maj6": (0, 4, 7, 9),
    "hdim7": (0, 3, 6, 10), "7": (0, 4, 7, 10), "min6": (0, 3, 7, 9), "maj7": (0, 4, 7, 11),
}
"""Semitones above the root for each quality."""

EMOTION_QUALITIES: dict[str, frozenset[str]] = {
    "exciting": frozenset({"maj", "sus4", "7"}),
    "fearful": frozenset({"dim", "min7", "dim7", "hdim7"}),
    "tense": frozenset({"dim", "sus4", "min7", "7"}),
    "sad": frozenset({"min7", "min", "sus2"}),
    "relaxing": frozenset({"maj", "maj6", "maj7"}),
    "neutral": frozenset(),
}
"""Video2Music's emotion → chord-quality affinities."""

_NOTE = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ALIASES = {
    "": "maj", "maj": "maj", "M": "maj", "major": "maj",
    "m": "min", "min": "min", "minor": "min", "-": "min",
    "dim": "dim", "o": "dim", "°": "dim",
    "aug": "aug", "+": "aug",
    "sus4": "sus4", "sus": "sus4", "sus2": "sus2",
    "7": "7", "dom7": "7",
    "maj7": "maj7", "M7": "maj7", "Δ": "maj7", "Δ7": "maj7",
    "m7": "min7", "min7": "min7", "-7": "min7",
    "dim7": "dim7", "o7": "dim7", "°7": "dim7",
    "hdim7": "hdim7", "m7b5": "hdim7", "min7b5": "hdim7", "ø": "hdim7", "ø7": "hdim7",
    "6": "maj6", "maj6": "maj6", "M6": "maj6",
    "m6": "min6", "min6": "min6",
}
_LABEL = re.compile(r"^\s*([A-Ga-g])([#b♯♭]*)\s*:?\s*([^/\s]*)(?:/\S+)?\s*$")


@dataclass(frozen=True)
class Chord:
    """A chord as root pitch class (0-11) and quality; `Chord.none()` is the no-chord `N`."""

    root: int | None
    quality: str | None

    @staticmethod
    def none() -> "Chord":
        return Chord(None, None)

    @property
    def is_none(self) -> bool:
        return self.root is None

    @property
    def label(self) -> str:
        if self.is_none:
            return "N"
        name = ROOTS[self.root]
        return name if self.quality == "maj" else f"{name}:{self.quality}"

    @property
    def token(self) -> int:
        if self.is_none:
            return NO_CHORD
        return 1 + 13 * self.root + QUALITIES.index(self.quality)

    @property
    def pitch_classes(self) -> tuple[int, ...]:
        """Pitch classes (0-11), root first; empty for N."""
        if self.is_none:
            return ()
        return tuple((self.root + i) % 12 for i in INTERVALS[self.quality])

    def transpose(self, semitones: int) -> "Chord":
        return self if self.is_none else Chord((self.root + semitones) % 12, self.quality)

    def __str__(self) -> str:
        return self.label


def parse_chord(label: str) -> Chord:
    """Parse `C`, `Am`, `Bb7`, `C#:min7`, `F:maj7`, `N` (bass after `/` is ignored).

    Raises ValueError with the label for anything else.
    """
    text = label.strip()
    if text in ("N", "N.C.", "NC", "X"):
        return Chord.none()
    m = _LABEL.match(text)
    if not m:
        raise ValueError(f"not a chord label: {label!r}")
    letter, accidentals, quality = m.groups()
    root = _NOTE[letter.upper()] + sum(1 if a in "#♯" else -1 for a in accidentals)
    if quality not in _ALIASES:
        raise ValueError(f"unknown chord quality {quality!r} in {label!r}; known: {', '.join(QUALITIES)}")
    return Chord(root % 12, _ALIASES[quality])


def chord_from_token(token: int) -> Chord:
    """Inverse of `Chord.token`; ValueError for END, PAD or out-of-range tokens."""
    if token == NO_CHORD:
        return Chord.none()
    if not 1 <= token <= 156:
        raise ValueError(f"token {token} is not a chord (valid: 0..156)")
    root, q = divmod(token - 1, 13)
    return Chord(root, QUALITIES[q])


def parse_progression(text: str) -> list[Chord]:
    """Split a progression such as `"C Am F G"` (spaces, commas or bars) into chords."""
    parts = [p for p in re.split(r"[\s,|]+", text.strip()) if p]
    if not parts:
        raise ValueError("empty chord progression")
    return [parse_chord(p) for p in parts]


def vocabulary() -> dict[str, int]:
    """Label → token for N and the 156 chords (MuVi-Sync `chord.json`)."""
    vocab = {"N": NO_CHORD}
    for root in range(12):
        for quality in QUALITIES:
            c = Chord(root, quality)
            vocab[c.label] = c.token
    return vocab
