"""`Timeline`: a `MusicPlan` seen by the part writers — beat positions ↔ seconds, bars, chord spans,
cut and accent times, and where the ending starts.

A beat position is a float: 0 is the plan's first beat, 1 the next, 0.5 the eighth note between
them. Positions between two beats are placed linearly between their times, so subdivisions follow
every tempo change of the plan's beat grid; before the first and after the last beat the edge
beat interval is extended.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np

from cuescore.music.chords import Chord
from cuescore.music.plan import MusicPlan

QUIET_ENERGY = 0.3
"""Below this energy a bar has no drum groove."""
DEFAULT_DENSITY, DEFAULT_ENERGY = 1, 0.4
"""Levels of bars the plan gives none for (a plan without downbeats)."""


@dataclass
class Bar:
    """Bar `index` (-1 for a pickup before the first downbeat): `beats` beats from beat position
    `pos`, sounding [start, end) seconds, with the plan's density level 0-4, energy 0-1 and
    register (semitones the lead moves with the picture)."""

    index: int
    pos: float
    beats: int
    start: float
    end: float
    density: int
    energy: float
    section: str
    register: float = 0.0

    @property
    def quiet(self) -> bool:
        return self.energy < QUIET_ENERGY


@dataclass
class Span:
    """`chord` sounds over [start, end) seconds; `index` is the span's place in `Timeline.spans`."""

    start: float
    end: float
    chord: Chord
    index: int


class Timeline:
    """Timing queries over one plan; built once per arrangement."""

    def __init__(self, plan: MusicPlan) -> None:
        self.plan = plan
        self.duration = float(plan.duration)
        self.beats_per_bar = max(1, int(plan.beats_per_bar))
        self._times, lead = self._extended_beats(plan)
        self._index = np.arange(len(self._times), dtype=float) - lead
        inside = [s for s in sorted(plan.chords, key=lambda s: s.start) if s.start < self.duration]
        self.spans = [Span(max(0.0, s.start), min(s.end, self.duration), s.chord, i) for i, s in enumerate(inside)]
        self._span_starts = [s.start for s in self.spans]
        self.bars = self._bars(plan)
        self._bar_intensity: dict[tuple[float, float], float] = {}
        self.ending = self._ending_start()
        self.cuts = sorted({round(self.snap(c, 0.25), 6) for c in plan.marked_cuts if 0.0 < c < self.duration})
        self.accents = sorted({round(self.snap(a, 1.0), 6) for a in plan.accents if 0.0 <= a < self.duration})

    def _extended_beats(self, plan: MusicPlan) -> tuple[np.ndarray, int]:
        """The plan's beats extended by the edge intervals to cover [0, duration + 2 bars], and how
        many beats were added before the first."""
        beats = list(plan.beats)
        if len(beats) < 2:
            period = 60.0 / plan.tempo_map[0].bpm
            beats = [beats[0] if beats else 0.0]
            beats.append(beats[0] + period)
        first, last = beats[1] - beats[0], beats[-1] - beats[-2]
        lead = int(np.ceil(max(0.0, beats[0]) / first))
        head = [beats[0] - first * k for k in range(lead, 0, -1)]
        tail_count = int(np.ceil(max(0.0, self.duration - beats[-1]) / last)) + 2 * self.beats_per_bar
        tail = [beats[-1] + last * k for k in range(1, tail_count + 1)]
        return np.asarray(head + beats + tail, dtype=float), lead

    def time(self, pos: float) -> float:
        """Seconds at beat position `pos`."""
        return float(np.interp(pos, self._index, self._times))

    def position(self, t: float) -> float:
        """Beat position at `t` seconds (inverse of `time`)."""
        return float(np.interp(t, self._times, self._index))

    def snap(self, t: float, step: float) -> float:
        """`t` moved to the nearest grid point of `step` beats (1 = beat, 0.25 = sixteenth)."""
        return self.time(round(self.position(t) / step) * step)

    def _bars(self, plan: MusicPlan) -> list[Bar]:
        section_at = self._section_lookup(plan)
        starts = [round(self.position(d)) for d in plan.downbeats if d < self.duration]
        if not plan.downbeats:
            starts = list(range(0, int(np.ceil(self.position(self.duration))), self.beats_per_bar))
        bars = []
        if not starts or self.time(starts[0]) > 0.05:
            first = starts[0] if starts else self.beats_per_bar
            lead_in = int(first - np.floor(self.position(0.0)))
            energy = min(plan.energy[0], QUIET_ENERGY - 0.01) if plan.energy else 0.2
            bars.append(Bar(-1, float(first - lead_in), lead_in, 0.0, min(self.time(first), self.duration),
                            0, energy, section_at(0.0)))
        for i, pos in enumerate(starts):
            end_pos = starts[i + 1] if i + 1 < len(starts) else pos + self.beats_per_bar
            start = self.time(pos)
            bars.append(Bar(i, float(pos), int(end_pos - pos), start, min(self.time(end_pos), self.duration),
                            int(np.clip(plan.density[i], 0, 4)) if i < len(plan.density) else DEFAULT_DENSITY,
                            float(np.clip(plan.energy[i], 0, 1)) if i < len(plan.energy) else DEFAULT_ENERGY,
                            section_at(start), float(plan.register[i]) if i < len(plan.register) else 0.0))
        return [b for b in bars if b.end - b.start > 1e-6 and b.beats > 0]

    @staticmethod
    def _section_lookup(plan: MusicPlan):
        sections = sorted(plan.sections, key=lambda s: s.start)

        def section_at(t: float) -> str:
            label = sections[0].label if sections else "A"
            for s in sections:
                if s.start <= t + 1e-6:
                    label = s.label
            return label
        return section_at

    def _ending_start(self) -> float:
        """Where the final chord starts to be held: the start of the last chord span, but no earlier
        than the last downbeat that leaves at least one second (patterns go on until then)."""
        if not self.spans or self.spans[-1].chord.is_none:
            return self.duration
        downbeats = [b.start for b in self.bars if b.index >= 0 and self.duration - b.start >= 1.0]
        latest_bar = downbeats[-1] if downbeats else 0.0
        return max(self.spans[-1].start, latest_bar)

    def span_at(self, t: float) -> Span | None:
        """The chord span sounding at `t` seconds, or None between spans."""
        i = bisect.bisect_right(self._span_starts, t + 1e-9) - 1
        if i >= 0 and self.spans[i].start - 1e-9 <= t < self.spans[i].end:
            return self.spans[i]
        return None

    def spans_starting(self, t0: float, t1: float) -> list[Span]:
        """Spans whose start lies in (t0, t1] seconds."""
        lo = bisect.bisect_right(self._span_starts, t0 + 1e-9)
        hi = bisect.bisect_right(self._span_starts, t1 + 1e-9)
        return self.spans[lo:hi]

    def next_span(self, span: Span) -> Span | None:
        """The span right after `span`, if it starts where `span` ends."""
        i = span.index + 1
        if i < len(self.spans) and abs(self.spans[i].start - span.end) < 1e-3:
            return self.spans[i]
        return None

    def bar_at(self, t: float) -> Bar:
        """The bar sounding at `t` seconds (the last bar after the end)."""
        for bar in self.bars:
            if bar.start - 1e-9 <= t < bar.end:
                return bar
        return self.bars[-1] if t >= self.bars[-1].start else self.bars[0]

    def energy_at(self, t: float) -> float:
        """Energy 0-1 at `t` seconds: the bar's energy moved by how far the plan's per-second
        intensity curve (values at the middle of each second, interpolated) stands from its mean
        over the bar, so the dynamics move within the bar while the bar keeps its level (the energy
        control scales the bars, not the curve); the bar's energy alone without a curve."""
        bar = self.bar_at(t)
        if not self.plan.intensity:
            return bar.energy
        key = (bar.start, bar.end)
        if key not in self._bar_intensity:
            self._bar_intensity[key] = float(np.mean([self._curve(self.plan.intensity, bar.start + (bar.end - bar.start)
                                                                  * (k + 0.5) / 8) for k in range(8)]))
        return float(np.clip(bar.energy + self._curve(self.plan.intensity, t) - self._bar_intensity[key], 0.0, 1.0))

    def level_at(self, t: float) -> int:
        """Density level 0-4 at `t` seconds: the plan's per-second activity curve, rounded, else
        the bar's density."""
        if not self.plan.activity:
            return self.bar_at(t).density
        return int(np.clip(round(self._curve(self.plan.activity, t)), 0, 4))

    @staticmethod
    def _curve(values: list[float], t: float) -> float:
        """A per-second curve (values at the middle of each second) at `t` seconds, interpolated."""
        return float(np.interp(t, np.arange(len(values)) + 0.5, values))

    def is_accent(self, t: float, tolerance: float = 0.02) -> bool:
        """True when `t` is within `tolerance` seconds of a (beat-snapped) accent."""
        i = bisect.bisect_left(self.accents, t - tolerance)
        return i < len(self.accents) and abs(self.accents[i] - t) <= tolerance

