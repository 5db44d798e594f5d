"""Rhythm patterns for the pitched accompaniment, and the shared dynamics of every part.

A pattern is a cell of `Step`s measured in beats, tiled across a bar. A step plays either the
block chord (`BLOCK`) or tones picked by index from an ascending arpeggio of chord tones (keys), or
a scale degree of the chord ("R" root, "5" fifth, "8" octave) for the bass. Each density level
0-4 has a few patterns a player would choose from; sections keep their choice so that a repeated
section sounds alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cuescore.music.timeline import Bar, Timeline

BLOCK = ()
"""Step tones meaning "the whole block chord"."""


@dataclass(frozen=True)
class Step:
    """Play `tones` at `offset` beats into the cell for `length` beats."""

    offset: float
    length: float
    tones: tuple = BLOCK


@dataclass(frozen=True)
class Pattern:
    """A named cell of `cell` beats (0 = the whole bar) tiled across each bar."""

    name: str
    cell: float
    steps: tuple[Step, ...]
    roll: float = 0.0
    """Seconds between the notes of a chord step, lowest first (a rolled, harp-like chord)."""

    def steps_in(self, beats: int) -> list[Step]:
        """The steps of a bar of `beats` beats, offsets from the downbeat, cut at the bar line.
        Whole-bar patterns (cell 0) are written for four beats and stretched to the bar."""
        if not self.cell:
            scale = beats / 4.0
            return [Step(s.offset * scale, s.length * scale, s.tones) for s in self.steps]
        out = []
        for k in range(int(np.ceil(beats / self.cell))):
            for s in self.steps:
                offset = k * self.cell + s.offset
                if offset < beats - 1e-9:
                    out.append(Step(offset, min(s.length, beats - offset), s.tones))
        return out


RING_STEPS = 2
"""How many steps a ringing arpeggio note lasts: long enough to sound legato, short enough that at
most two arpeggio notes overlap (a note held to the end of the cell piles up four or five)."""


def _run(name: str, step: float, tones: tuple, ring: bool = False) -> Pattern:
    """A cell of equal steps, one tone (arpeggio index or bass degree) each; with `ring`, every note
    sounds for `RING_STEPS` steps (within the cell), as under a half-lifted sustain pedal."""
    cell = step * len(tones)
    return Pattern(name, cell, tuple(Step(i * step, min(RING_STEPS * step, cell - i * step) if ring else step, (t,))
                                     for i, t in enumerate(tones)))


KEYS_PATTERNS: dict[int, tuple[Pattern, ...]] = {
    0: (
        Pattern("whole", 0, (Step(0, 4),)),
        Pattern("rolled", 0, (Step(0, 4, (0, 2, 4)),), roll=0.07),
    ),
    1: (
        Pattern("halves", 2, (Step(0, 2),), roll=0.02),
        Pattern("charleston", 4, (Step(0, 1.5), Step(1.5, 2.5))),
        Pattern("broken halves", 2, (Step(0, 2, (0,)), Step(1, 1, (2, 4)))),
    ),
    2: (
        Pattern("oom-pah", 2, (Step(0, 1, (0,)), Step(1, 1, (2, 3, 4)))),
        Pattern("arpeggio and chord", 2, (Step(0, 1, (0,)), Step(1, 0.5, (2, 4)), Step(1.5, 0.5, (3,)))),
        Pattern("syncopated", 4, (Step(0, 1.5), Step(1.5, 1, (2, 4)), Step(2.5, 0.5, (3,)), Step(3, 1, (0, 2)))),
    ),
    3: (
        Pattern("eighth dyads", 1, (Step(0, 0.5, (0, 2)), Step(0.5, 0.5, (3,)))),
        Pattern("pop eighths", 4, (Step(0, 1.5), Step(1.5, 1.0), Step(2.5, 0.5, (4,)), Step(3, 0.5, (2, 3)),
                                   Step(3.5, 0.5, (2, 4)))),
        Pattern("chord and eighths", 2, (Step(0, 0.5), Step(0.5, 0.5, (3,)), Step(1, 0.5, (2, 4)),
                                         Step(1.5, 0.5, (3,)))),
    ),
    4: (
        _run("sixteenth arpeggio", 0.25, (0, 1, 2, 3, 1, 2, 3, 4), ring=True),
        _run("sixteenth up-down", 0.25, (0, 1, 2, 3, 4, 3, 2, 1)),
        _run("broken sixteenths", 0.25, (0, 2, 1, 3)),
    ),
}
"""Keys patterns per density level. Both the onsets per 4/4 bar (on average 1, 2.7, 4.7, 7, 16) and
the notes per bar (3, 6, 8, 11-14, 16, with three-note block chords) rise with the level, so the
note density heard follows the level whichever pattern a section draws."""

BASS_PATTERNS: dict[int, tuple[Pattern, ...]] = {
    0: (Pattern("held", 0, (Step(0, 4, ("R",)),)),),
    1: (
        Pattern("root-fifth", 4, (Step(0, 2, ("R",)), Step(2, 2, ("5",)))),
        Pattern("dotted", 4, (Step(0, 1.5, ("R",)), Step(1.5, 2.5, ("R",)))),
    ),
    2: (
        _run("quarters", 1, ("R", "R", "5", "R")),
        Pattern("two-feel", 4, (Step(0, 1.5, ("R",)), Step(1.5, 0.5, ("R",)), Step(2, 2, ("5",)))),
    ),
    3: (
        _run("eighths", 0.5, ("R", "R", "R", "8", "R", "R", "5", "R")),
        Pattern("syncopated", 4, (Step(0, 0.75, ("R",)), Step(0.75, 0.75, ("R",)), Step(1.5, 1, ("8",)),
                                  Step(2.5, 0.5, ("5",)), Step(3, 1, ("R",)))),
    ),
    4: (
        _run("driving eighths", 0.5, ("R", "R", "8", "R", "R", "5", "8", "5")),
        _run("octave eighths", 0.5, ("R", "8", "R", "8", "R", "8", "5", "8")),
    ),
}


class PatternChooser:
    """Picks a pattern per (section, level), kept for the whole section, with an occasional
    variation on the last bar of a 4-bar phrase. Deterministic for a given generator."""

    def __init__(self, table: dict[int, tuple[Pattern, ...]], rng: np.random.Generator) -> None:
        self.table = table
        self.rng = rng
        self._chosen: dict[tuple[str, int], int] = {}

    def __call__(self, bar: Bar, level: int) -> Pattern:
        options = self.table[int(np.clip(level, 0, 4))]
        key = (bar.section, level)
        if key not in self._chosen:
            self._chosen[key] = int(self.rng.integers(len(options)))
        index = self._chosen[key]
        if len(options) > 1 and bar.index % 4 == 3 and self.rng.random() < 0.35:
            index = (index + 1 + int(self.rng.integers(len(options) - 1))) % len(options)
        return options[index]


def steps_by_beat(choose: PatternChooser, bar: Bar, levels: list[int]) -> list[tuple[Step, Pattern]]:
    """The bar's steps when its level changes beat by beat (`levels`, one per beat): each beat
    takes the steps of its own level's pattern (chosen as for a whole bar of that level), and a
    step is cut where the next one of another level starts. Sorted by offset."""
    chosen = {level: choose(bar, level) for level in sorted(set(levels))}
    out = []
    for level, pattern in chosen.items():
        out += [(s, pattern) for s in pattern.steps_in(bar.beats) if levels[min(int(s.offset), len(levels) - 1)] == level]
    out.sort(key=lambda item: item[0].offset)
    for i, (step, pattern) in enumerate(out[:-1]):
        following, other = out[i + 1]
        if other is not pattern and step.offset + step.length > following.offset:
            out[i] = (Step(step.offset, following.offset - step.offset, step.tones), pattern)
    return out


def beat_levels(tl: Timeline, bar: Bar, level_of: Callable[[float], int] | None = None) -> list[int]:
    """Per beat of `bar`: the density level at the middle of the beat (`Timeline.level_at`), or
    `level_of(t)` when given."""
    at = level_of or tl.level_at
    return [int(np.clip(at(tl.time(bar.pos + k + 0.5)), 0, 4)) for k in range(bar.beats)]


def metric_weight(offset: float) -> int:
    """Velocity offset for an onset `offset` beats after the downbeat: downbeat > beat > eighth > sixteenth."""
    if abs(offset) < 1e-6:
        return 8
    if abs(offset - round(offset)) < 1e-6:
        return 2
    if abs(offset * 2 - round(offset * 2)) < 1e-6:
        return -4
    return -8


def velocity(tl: Timeline, t: float, energy: float, base: int, spread: int, offset: float,
             rng: np.random.Generator) -> int:
    """MIDI velocity: `base + spread * energy`, shaped by metre, raised on accents and marked cuts
    (so a cut is heard on a beat even without drums), humanised ±3."""
    marked = tl.is_accent(t) or any(abs(c - t) <= 0.02 for c in tl.cuts)
    v = base + spread * energy + metric_weight(offset) + (16 if marked else 0)
    return int(np.clip(round(v + rng.integers(-3, 4)), 1, 127))


def bass_level(tl: Timeline, t: float) -> int:
    """Bass rhythm level 0-4 at `t` seconds from the density level and energy there together."""
    return int(np.clip(round((tl.level_at(t) + 4.0 * tl.energy_at(t)) / 2.0), 0, 4))
