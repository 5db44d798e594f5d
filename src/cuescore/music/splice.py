"""Replace one range of a plan and its score with another's, joined on bar lines.

`cuescore regenerate` recomposes a video with another seed (or other controls) on the same beat
grid and takes only the range [a, b) from the new version, a and b being downbeats of the grid
(`widen_to_bars`). Outside the range everything stays exactly as it was: every note that ends by
a or starts at or after b, every chord span and bar level there. A note of the old score that
rings from before a into the range is cut at a; a new note is cut at b.
"""

from __future__ import annotations

import bisect
import dataclasses

from cuescore.music.plan import ChordSpan, MusicPlan
from cuescore.music.score import Note, Score, Track

MIN_NOTE_SECONDS = 0.01
"""A note cut shorter than this at a range boundary is dropped (as `Track.tidy` drops them)."""


def widen_to_bars(downbeats: list[float], start: float, end: float, duration: float) -> tuple[float, float]:
    """(a, b): [start, end) widened to the nearest bar lines around it: a is the last downbeat at
    or before `start` (0 before the first), b the first downbeat at or after `end` (the end of
    the music after the last). Seconds."""
    eps = 1e-6
    i = bisect.bisect_right(downbeats, start + eps) - 1
    j = bisect.bisect_left(downbeats, end - eps)
    return (downbeats[i] if i >= 0 else 0.0), (downbeats[j] if j < len(downbeats) else duration)


def same_grid(old: MusicPlan, new: MusicPlan, tolerance: float = 1e-9) -> bool:
    """True when both plans have the same beats and downbeats (to `tolerance` seconds)."""
    return (len(old.beats) == len(new.beats) and len(old.downbeats) == len(new.downbeats)
            and all(abs(x - y) <= tolerance for x, y in zip(old.beats + old.downbeats, new.beats + new.downbeats)))


def splice_plan(old: MusicPlan, new: MusicPlan, a: float, b: float) -> MusicPlan:
    """`old` with its chords, per-bar density and energy in [a, b) taken from `new` (same grid).
    Sections, cuts, accents, instruments and the tempo stay those of `old`."""
    inside = [a <= d < b for d in old.downbeats]
    chords = (_clip_spans(old.chords, -float("inf"), a) + _clip_spans(new.chords, a, b)
              + _clip_spans(old.chords, b, float("inf")))
    return dataclasses.replace(
        old, chords=chords,
        density=[n if i else o for o, n, i in zip(old.density, new.density, inside)],
        energy=[n if i else o for o, n, i in zip(old.energy, new.energy, inside)])


def _clip_spans(spans: list[ChordSpan], lo: float, hi: float) -> list[ChordSpan]:
    """The parts of `spans` within [lo, hi)."""
    return [ChordSpan(max(s.start, lo), min(s.end, hi), s.label) for s in spans
            if min(s.end, hi) - max(s.start, lo) > 1e-9]


def splice_score(old: Score, new: Score, a: float, b: float) -> Score:
    """`old` with the notes and controller changes of [a, b) taken from `new`, track by track
    (matched by name; a track only one of them has keeps its notes on its own side). Notes of
    `old` that end by `a` or start at or after `b` are kept as they are."""
    names = [t.name for t in old.tracks] + [t.name for t in new.tracks if t.name not in {o.name for o in old.tracks}]
    olds, news = {t.name: t for t in old.tracks}, {t.name: t for t in new.tracks}
    tracks = []
    for name in names:
        was, now = olds.get(name), news.get(name)
        shape = was or now
        notes = ([] if was is None else _before(was.notes, a) + [n for n in was.notes if n.start >= b]) + (
            [] if now is None else [Note(n.pitch, n.start, min(n.end, b), n.velocity) for n in now.notes
                                    if a <= n.start < b and min(n.end, b) - n.start >= MIN_NOTE_SECONDS])
        controls = ([] if was is None else [c for c in was.controls if not a <= c.time < b]) + (
            [] if now is None else [c for c in now.controls if a <= c.time < b])
        tracks.append(Track(name, shape.program, shape.is_drum, sorted(notes, key=lambda n: (n.start, n.pitch)),
                            sorted(controls, key=lambda c: c.time), shape.volume, shape.pan))
    return Score(tracks, list(old.tempo_map), old.duration, old.key, old.beats_per_bar)


def _before(notes: list[Note], a: float) -> list[Note]:
    """The notes starting before `a`, those ringing past it cut at `a` (dropped when too short)."""
    kept = []
    for n in notes:
        if n.start >= a:
            continue
        if n.end <= a:
            kept.append(n)
        elif a - n.start >= MIN_NOTE_SECONDS:
            kept.append(Note(n.pitch, n.start, a, n.velocity))
    return kept
