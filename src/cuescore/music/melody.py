"""The lead line: one motif for the piece, stated in the first phrase that sings and developed over
the sections. A phrase of 2-5 bars alternates the motif and its answer (the motif returns as a
sequence on the new harmony) and ends in a cadence on the root or third of its last chord; chord
tones on strong beats, scale steps between, rests between phrases and where the picture is calm.

Development (`Motif`): a section heard before repeats its motif as it was; a new section takes a
variant of the piece's motif: its contour inverted, or its rhythm exchanged with the answer's. The
rhythm follows the phrase's density level (the motif keeps its place in that level's rhythms).

Rules the notes keep (and the tests check): a note on a strong beat (the downbeat or the middle of
the bar) is a tone of the chord under it; every other note lies in the chord's scale (the key's
scale bent to the chord, see `voicing.chord_scale`) and moves at most a third from the note before.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

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


@dataclass
class Motif:
    """A motif as indices into `RHYTHMS[level]` (the motif bar and its answer) and the semitone
    steps between its notes once sung (empty until then); `sign` -1 sings them inverted."""

    rhythm: int
    answer: int
    steps: list[int] = field(default_factory=list)
    sign: int = 1

    def varied(self, rng: np.random.Generator) -> "Motif":
        """A development for a new section: the contour inverted, or motif and answer rhythms exchanged."""
        if rng.random() < 0.5 and self.steps:
            return replace(self, steps=list(self.steps), sign=-self.sign)
        return replace(self, rhythm=self.answer, answer=self.rhythm, steps=[])


def write_lead(tl: Timeline, program: int, rng: np.random.Generator) -> Track:
    """The lead track. The first phrase (when others follow and it is not busier than the average
    phrase) rests as an intro, as do quiet phrases
    (mean energy under 0.25), calm ones (`CALM_LEVEL`) and, in longer pieces, every fourth phrase
    to let the music breathe; when the last phrase sings, the lead holds a chord tone through the ending."""
    track = Track("lead", program)
    line = _Line(tl, rng)
    groups = phrases(tl)
    previous: int | None = None
    sang_last = False
    widest = max(len(options) for options in RHYTHMS.values())
    theme = Motif(int(rng.integers(widest)), int(rng.integers(widest)))
    motifs: dict[str, Motif] = {}
    for n, phrase in enumerate(groups):
        quiet = np.mean([b.energy for b in phrase]) < 0.25 or _calm(tl, phrase)
        intro = n == 0 and len(groups) > 1 and _level(tl, phrase) <= np.mean([_level(tl, p) for p in groups])
        sang_last = not (intro or quiet or (len(groups) > 4 and n % 4 == 3))
        if not sang_last:
            continue
        label = phrase[0].section
        if label not in motifs:
            motifs[label] = theme if not motifs else theme.varied(rng)
        previous = _sing(tl, line, track, phrase, previous, motifs[label], rng)
    if sang_last and previous is not None and tl.ending < tl.duration:
        final = line.cadence(tl.ending, previous)
        if final is not None:
            track.notes.append(Note(final, tl.ending, tl.duration, velocity(tl, tl.ending, 0.5, 58, 30, 0.0, rng)))
    return track


CALM_LEVEL = 0.5
"""A phrase whose mean density level (`Timeline.level_at`, beat by beat) is under this rests: the
lead sings where the picture moves and leaves calm passages to the accompaniment."""


def _level(tl: Timeline, phrase: list[Bar]) -> float:
    """The phrase's mean density level, beat by beat (`Timeline.level_at`)."""
    return float(np.mean([tl.level_at(tl.time(b.pos + k + 0.5)) for b in phrase for k in range(b.beats)]))


def _calm(tl: Timeline, phrase: list[Bar]) -> bool:
    return _level(tl, phrase) < CALM_LEVEL


def _sing(tl: Timeline, line: _Line, track: Track, phrase: list[Bar], previous: int | None, motif: Motif,
          rng: np.random.Generator) -> int | None:
    """Write one phrase on `motif` (its steps are recorded from the first motif bar when it has
    none yet); returns the phrase's last pitch."""
    level = int(np.clip(round(_level(tl, phrase)), 1, 3))
    options = RHYTHMS[level]
    cadence = CADENCES[int(rng.integers(len(CADENCES)))]
    plan = [(options[motif.rhythm % len(options)], options[motif.answer % len(options)])[k % 2]
            for k in range(len(phrase) - 1)] + [cadence]
    lift = float(rng.uniform(-2, 4))
    recording = not motif.steps
    total = sum(b.beats for b in phrase)
    elapsed = 0.0
    for k, (bar, rhythm) in enumerate(zip(phrase, plan)):
        is_last = k == len(phrase) - 1
        for i, (onset, length) in enumerate(rhythm):
            if onset >= bar.beats:
                break
            pos = bar.pos + onset
            t = tl.time(pos)
            if t >= tl.ending - 1e-6:
                break
            phase = (elapsed + onset) / total
            target = CENTRE + bar.register + lift + 6.0 * np.sin(np.pi * min(phase * 1.25, 1.0))
            strong = _strong(onset, bar.beats)
            if not (strong or is_last) and tl.level_at(t) == 0:
                continue
            if is_last and i == 0 and previous is not None:
                pitch = line.cadence(t, previous)
            elif k % 2 == 0 and not recording and i < len(motif.steps) and previous is not None and not strong:
                pitch = line.pitch(t, previous, previous + motif.sign * motif.steps[i], strong)
            else:
                pitch = line.pitch(t, previous, target, strong)
            if pitch is None:
                continue
            span = tl.span_at(t)
            end = min(tl.time(pos + min(length, bar.beats - onset)) - (0.0 if length >= 1.5 else 0.03),
                      span.end, tl.ending)
            v = velocity(tl, t, tl.energy_at(t), 62, 32, onset, rng) + int(4 * np.sin(np.pi * phase))
            track.notes.append(Note(pitch, t, end, v))
            if k == 0 and recording:
                motif.steps.append(pitch - previous if previous is not None else 0)
            previous = pitch
        elapsed += bar.beats
    return previous
