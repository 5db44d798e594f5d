"""The lead line: phrases of 2-5 bars alternating a motif and its answer (the motif returns as a
sequence on the new harmony), ending in a cadence; chord tones on strong beats, scale steps
between, rests between phrases.

Rules the notes keep (and the tests check): a note on a strong beat (the downbeat or the middle of
the bar) is a tone of the chord under it; every other note lies in the chord's scale (the key's
scale bent to the chord, see `voicing.chord_scale`) and moves at most a third from the note before.
"""

from __future__ import annotations

import numpy as np

from cuescore.music.patterns import velocity
from cuescore.music.score import Note, Track
from cuescore.music.timeline import Bar, Timeline
from cuescore.music.voicing import chord_scale, nearest_pitch, pitches_in_range

LEAD_RANGE = (62, 86)
CENTRE = 71.0

RHYTHMS: dict[int, tuple[tuple[tuple[float, float], ...], ...]] = {
    1: (((0, 2), (2, 2)), ((0, 3), (3, 1)), ((0, 1.5), (1.5, 2.5))),
    2: (((0, 1), (1, 1), (2, 2)), ((0, 1.5), (1.5, 0.5), (2, 2)), ((0, 1), (1, 0.5), (1.5, 0.5), (2, 2)),
        ((0, 1), (1, 1), (2, 1), (3, 1))),
    3: (((0, 0.5), (0.5, 0.5), (1, 1), (2, 0.5), (2.5, 0.5), (3, 1)),
        ((0, 1), (1, 0.5), (1.5, 0.5), (2, 0.5), (2.5, 0.5), (3, 1)),
        ((0, 0.75), (0.75, 0.75), (1.5, 0.5), (2, 2))),
}
"""One bar of (onset, length) in beats per melodic density level (the bar's density clipped to 1-3)."""
CADENCES = (((0, 3),), ((0, 1), (1, 2)), ((0, 2),))
"""Rhythms of a phrase's last bar: a long note, then silence until the next phrase."""


def phrases(tl: Timeline) -> list[list[Bar]]:
    """Bars before the ending grouped into phrases of four bars, a new phrase at every section; a
    single bar left at the end of a section joins the phrase before it."""
    runs: list[list[Bar]] = []
    for bar in tl.bars:
        if bar.index < 0 or bar.start >= tl.ending - 1e-6 or bar.beats < 2:
            continue
        if not runs or runs[-1][-1].section != bar.section:
            runs.append([])
        runs[-1].append(bar)
    out: list[list[Bar]] = []
    for run in runs:
        chunks = [run[i:i + 4] for i in range(0, len(run), 4)]
        if len(chunks) > 1 and len(chunks[-1]) == 1:
            chunks[-2].extend(chunks.pop())
        out.extend(chunks)
    return out


def _strong(offset: float, beats: int) -> bool:
    return abs(offset) < 1e-6 or (beats % 2 == 0 and abs(offset - beats / 2) < 1e-6)


class _Line:
    """Pitch choices for one phrase: chord tones on strong beats, scale steps between."""

    def __init__(self, tl: Timeline, rng: np.random.Generator) -> None:
        self.tl, self.rng = tl, rng

    def pitch(self, t: float, previous: int | None, target: float, strong: bool) -> int | None:
        span = self.tl.span_at(t)
        if span is None or span.chord.is_none:
            return None
        if strong or previous is None:
            aim = target if previous is None else previous + float(np.clip(target - previous, -5, 5))
            return nearest_pitch(span.chord.pitch_classes, aim, *LEAD_RANGE)
        scale = pitches_in_range(chord_scale(span.chord, self.tl.plan.key), *LEAD_RANGE)
        steps = [p for p in scale if 0 < abs(p - previous) <= 4]
        weights = np.array([1.0 / (1.0 + abs(p - target)) for p in steps])
        return int(self.rng.choice(steps, p=weights / weights.sum())) if steps else previous

    def cadence(self, t: float, previous: int) -> int | None:
        """Root or third of the chord at `t`, the nearer of them to `previous`."""
        span = self.tl.span_at(t)
        if span is None or span.chord.is_none:
            return None
        return nearest_pitch(span.chord.pitch_classes[:2], previous, *LEAD_RANGE)


def write_lead(tl: Timeline, program: int, rng: np.random.Generator) -> Track:
    """The lead track. The first phrase (when others follow) rests as an intro, as do quiet phrases
    (mean energy under 0.25), calm ones (`CALM_LEVEL`) and, in longer pieces, every fourth phrase
    to let the music breathe;
    when the last phrase sings, the lead holds a chord tone through the ending."""
    track = Track("lead", program)
    line = _Line(tl, rng)
    groups = phrases(tl)
    previous: int | None = None
    sang_last = False
    for n, phrase in enumerate(groups):
        quiet = np.mean([b.energy for b in phrase]) < 0.25 or _calm(tl, phrase)
        sang_last = not ((n == 0 and len(groups) > 1) or quiet or (len(groups) > 4 and n % 4 == 3))
        if not sang_last:
            continue
        previous = _sing(tl, line, track, phrase, previous, rng)
    if sang_last and previous is not None and tl.ending < tl.duration:
        final = line.cadence(tl.ending, previous)
        if final is not None:
            track.notes.append(Note(final, tl.ending, tl.duration, velocity(tl, tl.ending, 0.5, 58, 30, 0.0, rng)))
    return track


CALM_LEVEL = 0.5
"""A phrase whose mean density level (`Timeline.level_at`, beat by beat) is under this rests: the
lead sings where the picture moves and leaves calm passages to the accompaniment."""


def _calm(tl: Timeline, phrase: list[Bar]) -> bool:
    levels = [tl.level_at(tl.time(b.pos + k + 0.5)) for b in phrase for k in range(b.beats)]
    return float(np.mean(levels)) < CALM_LEVEL


def _sing(tl: Timeline, line: _Line, track: Track, phrase: list[Bar], previous: int | None,
          rng: np.random.Generator) -> int | None:
    """Write one phrase; returns its last pitch."""
    level = int(np.clip(round(np.mean([tl.level_at(b.start + (b.end - b.start) * k / 4) for b in phrase
                                       for k in range(4)])), 1, 3))
    motif = RHYTHMS[level][int(rng.integers(len(RHYTHMS[level])))]
    answer = RHYTHMS[level][int(rng.integers(len(RHYTHMS[level])))]
    cadence = CADENCES[int(rng.integers(len(CADENCES)))]
    plan = [(motif, answer)[k % 2] for k in range(len(phrase) - 1)] + [cadence]
    lift = float(rng.uniform(-2, 4))
    motif_steps: list[int] = []
    total = sum(b.beats for b in phrase)
    elapsed = 0.0
    for k, (bar, rhythm) in enumerate(zip(phrase, plan)):
        is_last = k == len(phrase) - 1
        steps_here: list[int] = []
        for i, (onset, length) in enumerate(rhythm):
            if onset >= bar.beats:
                break
            pos = bar.pos + onset
            t = tl.time(pos)
            if t >= tl.ending - 1e-6:
                break
            phase = (elapsed + onset) / total
            target = CENTRE + lift + 6.0 * np.sin(np.pi * min(phase * 1.25, 1.0))
            strong = _strong(onset, bar.beats)
            if is_last and i == 0 and previous is not None:
                pitch = line.cadence(t, previous)
            elif k % 2 == 0 and motif_steps and i < len(motif_steps) and previous is not None and not strong:
                pitch = line.pitch(t, previous, previous + motif_steps[i], strong)
            else:
                pitch = line.pitch(t, previous, target, strong)
            if pitch is None:
                continue
            span = tl.span_at(t)
            end = min(tl.time(pos + min(length, bar.beats - onset)) - (0.0 if length >= 1.5 else 0.03),
                      span.end, tl.ending)
            v = velocity(tl, t, tl.energy_at(t), 62, 32, onset, rng) + int(4 * np.sin(np.pi * phase))
            track.notes.append(Note(pitch, t, end, v))
            steps_here.append(pitch - previous if previous is not None else 0)
            previous = pitch
        if k == 0:
            motif_steps = steps_here
        elapsed += bar.beats
    return previous
