"""The drum part (General MIDI channel 10): grooves whose intensity follows energy, fills into cuts
and section changes, crashes on cuts, and extra hits on visual accents.

Energy tiers: below `QUIET_ENERGY` (0.3) no groove at all; up to 0.5 a light groove (side stick,
quarter hats); up to 0.75 a backbeat with eighth hats; above that busier kicks and sixteenth hats
or ride. A cut always gets a crash on its (sixteenth-snapped) time — a lighter one (at the quietest
groove's level), without kick or fill, when the music around it is quiet.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cuescore.music.score import Note, Track
from cuescore.music.timeline import QUIET_ENERGY, Timeline

KICK, SIDE_STICK, SNARE, CLOSED_HAT, OPEN_HAT, RIDE, CRASH = 36, 37, 38, 42, 46, 51, 49
FLOOR_TOM, LOW_TOM, MID_TOM, HIGH_TOM = 43, 45, 47, 50
CYMBALS = frozenset({CRASH, RIDE, OPEN_HAT})
LEVEL = {KICK: 10, SNARE: 6, SIDE_STICK: -4, CLOSED_HAT: -16, OPEN_HAT: -10, RIDE: -12, CRASH: 2,
         FLOOR_TOM: 2, LOW_TOM: 0, MID_TOM: -2, HIGH_TOM: -4}
"""Velocity offset per drum so the kit sits balanced."""


@dataclass(frozen=True)
class Groove:
    """Hits of one 4-beat bar: drum → onsets in beats."""

    name: str
    hits: dict[int, tuple[float, ...]]


def _every(step: float) -> tuple[float, ...]:
    return tuple(np.arange(0, 4, step).round(4))


GROOVES: dict[int, tuple[Groove, ...]] = {
    1: (
        Groove("light", {KICK: (0, 2), SIDE_STICK: (1, 3), CLOSED_HAT: _every(1)}),
        Groove("brushy", {KICK: (0, 2.5), SIDE_STICK: (3,), CLOSED_HAT: _every(0.5)}),
    ),
    2: (
        Groove("backbeat", {KICK: (0, 2), SNARE: (1, 3), CLOSED_HAT: _every(0.5)}),
        Groove("push", {KICK: (0, 2, 2.5), SNARE: (1, 3), CLOSED_HAT: _every(0.5)[:-1], OPEN_HAT: (3.5,)}),
    ),
    3: (
        Groove("drive", {KICK: (0, 1.5, 2, 2.75), SNARE: (1, 3), CLOSED_HAT: _every(0.25)}),
        Groove("floor", {KICK: (0, 1, 2, 3), SNARE: (1, 3), CLOSED_HAT: (0, 1, 2, 3), OPEN_HAT: (0.5, 1.5, 2.5, 3.5)}),
        Groove("ride", {KICK: (0, 1.5, 2.5), SNARE: (1, 3, 3.75), RIDE: _every(0.5)}),
    ),
}

FILLS: dict[int, tuple[tuple[float, int], ...]] = {
    1: ((0.0, SNARE), (0.5, SNARE)),
    2: ((0.0, SNARE), (0.25, SNARE), (0.5, SNARE), (0.75, SNARE)),
    3: ((0.0, SNARE), (0.25, SNARE), (0.5, HIGH_TOM), (0.75, HIGH_TOM),
        (1.0, MID_TOM), (1.25, MID_TOM), (1.5, LOW_TOM), (1.75, FLOOR_TOM)),
}
"""Fill hits (beats from the fill's start); tier 3 fills take two beats, the others one."""


def energy_tier(energy: float) -> int:
    """0 (no drums) … 3 (busiest) from a bar's energy."""
    if energy < QUIET_ENERGY:
        return 0
    return 1 if energy < 0.5 else 2 if energy < 0.75 else 3


class _Kit:
    """Hits collected by (beat position, drum); a second hit on the same spot keeps the louder."""

    def __init__(self, tl: Timeline, rng: np.random.Generator) -> None:
        self.tl, self.rng = tl, rng
        self.hits: dict[tuple[float, int], int] = {}

    def hit(self, pos: float, drum: int, energy: float, boost: int = 0) -> None:
        t = self.tl.time(pos)
        if t >= self.tl.duration or t < 0:
            return
        on_beat = abs(pos - round(pos)) < 1e-6
        v = 48 + 58 * energy + LEVEL.get(drum, 0) + boost + (4 if on_beat else -3)
        v += 14 if self.tl.is_accent(t) else 0
        v = int(np.clip(round(v + self.rng.integers(-4, 5)), 1, 127))
        key = (round(pos, 4), drum)
        self.hits[key] = max(v, self.hits.get(key, 0))

    def clear(self, start: float, end: float, keep: frozenset[int] = frozenset()) -> None:
        """Remove hits in [start, end) beat positions except drums in `keep`."""
        for key in [k for k in self.hits if start - 1e-6 <= k[0] < end - 1e-6 and k[1] not in keep]:
            del self.hits[key]

    def track(self, program: int) -> Track:
        notes = []
        for (pos, drum), v in sorted(self.hits.items()):
            t = self.tl.time(pos)
            length = 1.5 if drum in CYMBALS else 0.2
            notes.append(Note(drum, t, min(t + length, self.tl.duration), v))
        return Track("drums", program, is_drum=True, notes=notes)


def write_drums(tl: Timeline, program: int, rng: np.random.Generator) -> Track:
    """The drum track for the whole timeline; `program` is the GM kit (0 = standard)."""
    kit = _Kit(tl, rng)
    chosen: dict[tuple[str, int], Groove] = {}
    bars = [b for b in tl.bars if b.start < tl.ending - 1e-6]
    for i, bar in enumerate(bars):
        tier = energy_tier(bar.energy)
        if tier == 0:
            continue
        key = (bar.section, tier)
        if key not in chosen:
            options = GROOVES[tier]
            chosen[key] = options[int(rng.integers(len(options)))]
        for drum, onsets in chosen[key].hits.items():
            for onset in onsets:
                if onset < bar.beats and bar.pos + onset < tl.position(tl.ending) - 1e-6:
                    kit.hit(bar.pos + onset, drum, tl.energy_at(tl.time(bar.pos + onset)))
        entering = i == 0 or bars[i - 1].quiet or bars[i - 1].section != bar.section
        if bar.index >= 0 and (entering or (tier == 3 and bar.index % 4 == 0)):
            kit.hit(bar.pos, CRASH, bar.energy)
        end = bar.pos + bar.beats
        cut_at_end = any(abs(tl.position(c) - end) < 1e-3 for c in tl.cuts)
        section_next = i + 1 < len(bars) and bars[i + 1].section != bar.section and rng.random() < 0.7
        phrase_end = tier == 3 and bar.index % 4 == 3 and rng.random() < 0.5
        if not cut_at_end and (section_next or phrase_end) and tl.time(end) <= tl.ending + 1e-6:
            _fill(kit, end, bar.energy)
    for cut in tl.cuts:  # every fill first: a fill clears the groove under it, a cut's crash included
        before = tl.bar_at(max(0.0, tl.time(tl.position(cut) - 1.0)))
        if not before.quiet and cut <= tl.ending + 1e-6:
            _fill(kit, tl.position(cut), before.energy)
    for cut in tl.cuts:
        _crash_at(tl, kit, cut)
    for accent in tl.accents:
        bar = tl.bar_at(accent)
        if not bar.quiet and accent < tl.ending:
            pos = round(tl.position(accent), 4)
            kit.hit(pos, KICK, bar.energy, 6)
            kit.hit(pos, CRASH if energy_tier(bar.energy) >= 2 else OPEN_HAT, bar.energy, 4)
    _final_hit(tl, kit)
    return kit.track(program)


def _fill(kit: _Kit, end: float, energy: float) -> None:
    """A fill of the energy's tier leading into beat position `end` (one beat long, two when busy);
    the groove under it gives way (but for the kick under a one-beat fill)."""
    tier = energy_tier(energy)
    if tier == 0:
        return
    fill = FILLS[tier]
    length = 2.0 if tier == 3 else 1.0
    start = end - length
    kit.clear(start, end, keep=frozenset({KICK}) if length == 1.0 else frozenset())
    for k, (offset, drum) in enumerate(fill):
        kit.hit(start + offset, drum, energy, boost=int(12 * k / len(fill)) - 6)


def _crash_at(tl: Timeline, kit: _Kit, cut: float) -> None:
    """Crash (with kick) on a cut; a crash alone, at the level of the quietest groove, when the bar
    of the cut and the one before are quiet (softer, it is lost under the expression's dip there and
    the cut goes unheard)."""
    pos = round(tl.position(cut), 4)
    bar, before = tl.bar_at(cut), tl.bar_at(max(0.0, cut - 1e-3))
    if bar.quiet and before.quiet:
        kit.hit(pos, CRASH, QUIET_ENERGY, 0)
    else:
        energy = max(bar.energy, before.energy)
        kit.hit(pos, CRASH, energy, 6)
        kit.hit(pos, KICK, energy, 4)


def _final_hit(tl: Timeline, kit: _Kit) -> None:
    """Crash and kick on the held final chord when neither its bar nor the one before is quiet."""
    if tl.ending >= tl.duration:
        return
    before = tl.bar_at(max(0.0, tl.ending - 1e-3))
    if not before.quiet and not tl.bar_at(tl.ending).quiet:
        pos = round(tl.position(tl.ending), 4)
        kit.hit(pos, CRASH, before.energy, 4)
        kit.hit(pos, KICK, before.energy, 4)
