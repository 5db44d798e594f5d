"""`MusicPlan`: what an engine decides before any note is written.

Times are seconds from the start of the video. Beats and downbeats come from the tempo map;
`density` and `energy` have one value per bar (bar i starts at `downbeats[i]`).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from cuescore.fileio import write_json
from cuescore.music.chords import Chord, parse_chord

MODES = ("major", "minor")
_FLAT_NAMES = {1: "Db", 3: "Eb", 5: "F", 8: "Ab", 10: "Bb", 0: "C", 7: "G", 2: "D"}
_FLAT_MAJOR = frozenset({5, 10, 3, 8, 1})
"""F, Bb, Eb, Ab and Db major are written with flats."""
_FLAT_MINOR = frozenset({2, 7, 0, 5, 10})
"""D, G, C, F and Bb minor are written with flats."""


@dataclass
class TempoChange:
    """From `time` seconds on, the tempo is `bpm` quarter notes per minute (until the next change)."""

    time: float
    bpm: float


@dataclass
class ChordSpan:
    """The chord `label` sounds from `start` to `end` seconds."""

    start: float
    end: float
    label: str

    @property
    def chord(self) -> Chord:
        return parse_chord(self.label)


@dataclass
class Section:
    """A musical section spanning [start, end) seconds; `label` like "A", "B", "outro"."""

    start: float
    end: float
    label: str


@dataclass
class Key:
    """Tonic pitch class (0 = C) and mode ("major" or "minor")."""

    tonic: int
    mode: str

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        self.tonic %= 12

    @property
    def name(self) -> str:
        """"A minor", "Bb major": flats for the keys written with flats, sharps otherwise."""
        flat = _FLAT_MAJOR if self.mode == "major" else _FLAT_MINOR
        tonic = _FLAT_NAMES[self.tonic] if self.tonic in flat else Chord(self.tonic, "maj").label
        return f"{tonic} {self.mode}"

    @staticmethod
    def parse(text: str) -> "Key":
        """`"A minor"`, `"Am"`, `"C major"`, `"C"`, `"F# min"`, `"Bb:minor"`."""
        raw = text.strip().replace(":", " ")
        parts = raw.split()
        if len(parts) == 2:
            tonic, mode = parts
            mode = {"maj": "major", "major": "major", "min": "minor", "minor": "minor", "m": "minor"}.get(mode.lower())
            if mode is None:
                raise ValueError(f"not a key: {text!r}; write it like 'A minor' or 'C major'")
            return Key(parse_chord(tonic).root, mode)
        if len(parts) == 1:
            chord = parse_chord(parts[0])
            if chord.is_none or chord.quality not in ("maj", "min"):
                raise ValueError(f"not a key: {text!r}; write it like 'A minor' or 'C major'")
            return Key(chord.root, "minor" if chord.quality == "min" else "major")
        raise ValueError(f"not a key: {text!r}; write it like 'A minor' or 'C major'")


@dataclass
class MusicPlan:
    """The musical skeleton of a soundtrack.

    tempo_map: tempo changes, the first at 0 s. beats, downbeats: times in seconds.
    density: per bar, 0-4 (Video2Music's note-density levels). energy: per bar, 0-1.
    instruments: role ("pad", "keys", "bass", "lead", ...) → General MIDI program 0-127;
        drums are on when "drums" is present (value = GM kit, 0 = standard).
    accents: times of visual impacts that the arrangement should mark.
    cuts: every hard cut of the video (reported); marked_cuts: the cuts (and hit points) the
        arrangement marks with fills and crashes (no cuts when the user turns their influence off).
    hits: the user's hit points (s), each a downbeat with a chord change, an accent and a crash.
    intensity: per second, the intensity curve (0-1) the energy followed: the user's keyframes
        interpolated, or the engine's own energy. activity: per second, the density level (0-4,
        fractional) the bars' density followed. The arrangement follows both within each bar
        (dynamics and rhythm beat by beat); empty = the bar levels alone.
    register: per bar, semitones the lead's register moves with the picture (0 = its centre).
    swing: beats by which notes on the off-beat eighths are played late (0 straight, 1/6 the
        triplet feel of jazz swing).
    """

    duration: float
    tempo_map: list[TempoChange]
    beats: list[float]
    downbeats: list[float]
    key: Key
    chords: list[ChordSpan]
    sections: list[Section] = field(default_factory=list)
    density: list[int] = field(default_factory=list)
    energy: list[float] = field(default_factory=list)
    instruments: dict[str, int] = field(default_factory=dict)
    accents: list[float] = field(default_factory=list)
    cuts: list[float] = field(default_factory=list)
    marked_cuts: list[float] = field(default_factory=list)
    beats_per_bar: int = 4
    engine: str = ""
    seed: int | None = None
    hits: list[float] = field(default_factory=list)
    intensity: list[float] = field(default_factory=list)
    activity: list[float] = field(default_factory=list)
    register: list[float] = field(default_factory=list)
    swing: float = 0.0

    def validate(self) -> None:
        """ValueError if the plan is inconsistent (unsorted times, bars without levels, ...)."""
        if not self.tempo_map or self.tempo_map[0].time > 1e-9:
            raise ValueError("tempo_map must start at 0 s")
        if any(b <= a for a, b in zip(self.beats, self.beats[1:])):
            raise ValueError("beats must be strictly increasing")
        if len(self.density) != len(self.downbeats) or len(self.energy) != len(self.downbeats):
            raise ValueError("density and energy need one value per bar (downbeat)")
        if self.register and len(self.register) != len(self.downbeats):
            raise ValueError("register needs one value per bar (downbeat)")
        for span in self.chords:
            if span.end <= span.start:
                raise ValueError(f"chord {span.label} has end <= start")
            parse_chord(span.label)

    def chord_at(self, t: float) -> Chord:
        """The chord sounding at `t` seconds (N outside every span)."""
        for span in self.chords:
            if span.start <= t < span.end:
                return span.chord
        return Chord.none()

    def bar_index(self, t: float) -> int:
        """Index of the bar containing `t` (0 before the first downbeat)."""
        return max(0, int(np.searchsorted(np.asarray(self.downbeats), t, side="right")) - 1)

    @property
    def mean_bpm(self) -> float:
        """Tempo averaged over the duration (from the beat grid when it has ≥ 2 beats)."""
        if len(self.beats) >= 2:
            return 60.0 / float(np.median(np.diff(self.beats)))
        return self.tempo_map[0].bpm

    def to_dict(self) -> dict:
        d = asdict(self)
        d["key"] = self.key.name
        d["tempo_bpm"] = round(self.mean_bpm, 3)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "MusicPlan":
        """Rebuild a plan from `to_dict` output; other top-level fields (as in OUT.json) are ignored."""
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        return cls(
            **{k: v for k, v in d.items() if k not in ("tempo_map", "key", "chords", "sections")},
            tempo_map=[TempoChange(**t) for t in d["tempo_map"]],
            key=Key.parse(d["key"]),
            chords=[ChordSpan(**c) for c in d["chords"]],
            sections=[Section(**s) for s in d.get("sections", [])],
        )

    def save_json(self, path: str | os.PathLike, extra: dict | None = None) -> Path:
        """Write the plan (plus `extra` top-level fields) as JSON, atomically."""
        return write_json(path, {**self.to_dict(), **(extra or {})})
