"""The pitched accompaniment: a sustained pad, a keys part whose rhythm follows density, and a bass.

Each writer takes the `Timeline`, a General MIDI program and a random generator, and returns a
`Track` whose notes stay inside the plan: pad and keys play only tones of the chord sounding at
their onset; the bass plays roots, fifths and octaves, plus one documented kind of passing note —
an approach note a step (1-2 semitones) from the next chord's root in the beat before a chord change.
From `Timeline.ending` on, every part holds the final chord to the end; where the picture is still
busy there, the keys play an arpeggio of it over the held chord.
"""

from __future__ import annotations

import numpy as np

from cuescore.music.patterns import (BASS_PATTERNS, BLOCK, KEYS_PATTERNS, PatternChooser, bass_level, beat_levels,
                                     steps_by_beat, velocity)
from cuescore.music.score import Note, Track
from cuescore.music.timeline import Bar, Span, Timeline
from cuescore.music.voicing import bass_note, chord_scale, fifth_note, nearest_pitch, voice_chord

PAD_RANGE = (48, 72)
KEYS_RANGE = (55, 76)
ARPEGGIO_ROOTS = (50, 62)
BASS_RANGE = (33, 47)
PAD_VOICES = (3, 2)
"""Voices of the pad's chords: three in calm bars (density 0, where the keys rest when there is a
pad), two (root and third, or third and seventh) where the keys play."""
KEYS_VOICES = 3
"""Voices of the keys' block chords (a seventh chord keeps root, third and seventh). With these,
pad, keys, bass and lead together sound about four or five pitches at once, as in POP909's songs
(muspy polyphony 3.4-5.2), rather than six or seven."""


PULSE_LEVEL = 2
"""Density level from which the pad re-strikes its chord on the beat (a pulsing pad, as in pop
choruses) rather than holding it through the span: busy moments sound busier in every part."""


def write_pad(tl: Timeline, program: int, rng: np.random.Generator) -> Track:
    """`PAD_VOICES` voices per chord span (more in calm bars), voice-led; tones common to two
    chords are held across the change; on busy beats (`PULSE_LEVEL`) the chord is re-struck."""
    track = Track("pad", program)
    previous: list[int] | None = None
    held: dict[int, Note] = {}
    for span in tl.spans:
        if span.chord.is_none:
            held = {}
            continue
        calm = tl.bar_at(span.start).density == 0
        voicing = voice_chord(span.chord, previous, *PAD_RANGE, voices=PAD_VOICES[0 if calm else 1])
        for start, end in _pulses(tl, span):
            v = velocity(tl, start, tl.energy_at(start), 40, 42, 0.0, rng)
            kept: dict[int, Note] = {}
            for pitch in voicing:
                note = held.get(pitch)
                if note is not None and abs(note.end - start) < 1e-6 and start == span.start:
                    note.end = end
                else:
                    note = Note(pitch, start, end, v)
                    track.notes.append(note)
                kept[pitch] = note
            held = kept
        previous = voicing
    return track


def _pulses(tl: Timeline, span: Span) -> list[tuple[float, float]]:
    """`span` cut at the beats inside it whose level is at least `PULSE_LEVEL` (s, s)."""
    start, end = tl.position(span.start), tl.position(min(span.end, tl.ending))
    beats = [tl.time(float(b)) for b in np.arange(np.floor(start) + 1, end - 1e-6)
             if tl.level_at(tl.time(b + 0.5)) >= PULSE_LEVEL]
    bounds = [span.start] + beats + [span.end]
    return list(zip(bounds[:-1], bounds[1:]))


def _keys_voicings(tl: Timeline) -> dict[int, tuple[list[int], list[int]]]:
    """Per span index: the block chord (voice-led) and an ascending arpeggio of chord tones from a
    root kept near the previous one, about an octave and a half wide."""
    out: dict[int, tuple[list[int], list[int]]] = {}
    block: list[int] | None = None
    root: int | None = None
    for i, span in enumerate(tl.spans):
        if span.chord.is_none:
            continue
        block = voice_chord(span.chord, block, *KEYS_RANGE, voices=KEYS_VOICES)
        target = root if root is not None else sum(ARPEGGIO_ROOTS) / 2
        root = nearest_pitch((span.chord.root,), target, *ARPEGGIO_ROOTS)
        tones = [p for p in range(root, root + 20) if p % 12 in span.chord.pitch_classes]
        out[i] = (block, tones)
    return out


def write_keys(tl: Timeline, program: int, rng: np.random.Generator) -> Track:
    """Per beat, the pattern of the density level there (whole notes at 0 … sixteenth arpeggios at
    4; `Timeline.level_at`, so the rhythm follows the picture within a bar); every chord change and
    accent without an onset of its own gets a block chord. Where a pad holds the harmony, the keys
    rest on calm beats (level 0) and the pad sounds fuller in calm bars."""
    track = Track("keys", program)
    voicings = _keys_voicings(tl)
    choose = PatternChooser(KEYS_PATTERNS, rng)

    def play(pos: float, length: float, tones: tuple, offset: float, roll: float = 0.0) -> None:
        t = tl.time(pos)
        span = tl.span_at(t)
        if span is None or span.chord.is_none or t >= tl.ending:
            return
        block, arpeggio = voicings[span.index]
        pitches = block if tones == BLOCK else sorted({arpeggio[min(i, len(arpeggio) - 1)] for i in tones})
        end = min(tl.time(pos + length), span.end, tl.ending)
        v = velocity(tl, t, tl.energy_at(t), 60, 45, offset, rng)
        for k, p in enumerate(pitches):
            if t + roll * k < end:
                track.notes.append(Note(p, t + roll * k, end, v - 3 * (k > 0 and len(pitches) > 2)))

    rests = "pad" in tl.plan.instruments
    for bar in _bars_before_ending(tl):
        levels = beat_levels(tl, bar)
        steps = [(s, p) for s, p in steps_by_beat(choose, bar, levels) if not (rests and levels[int(s.offset)] == 0)]
        for step, pattern in steps:
            play(bar.pos + step.offset, step.length, step.tones, step.offset, pattern.roll)
        onsets = [bar.pos + s.offset for s, _ in steps]
        for pos in _uncovered(tl, bar, onsets):
            if rests and levels[min(int(pos - bar.pos), bar.beats - 1)] == 0:
                continue
            later = [o for o in onsets if o > pos]
            play(pos, (min(later) if later else bar.pos + bar.beats) - pos, BLOCK, pos - bar.pos)
    _hold_final(tl, track, lambda span: voicings[span.index][0], roll=0.04)
    _ending_figure(tl, track, voicings, rng)
    return track


ENDING_STEPS = {1: 1, 2: 2, 3: 2, 4: 4}
"""Arpeggio notes per beat over the held final chord at each density level (none at level 0)."""


def _ending_figure(tl: Timeline, track: Track, voicings: dict[int, tuple[list[int], list[int]]],
                   rng: np.random.Generator) -> None:
    """Over the held final chord, where the picture is still busy (level ≥ 1 at a beat), the keys
    go on with a rising arpeggio of the final chord, `ENDING_STEPS[level]` notes a beat, so a
    busy last shot is not met by a silent ring."""
    span = tl.span_at(tl.ending)
    if span is None or span.chord.is_none or tl.ending >= tl.duration:
        return
    tones = voicings[span.index][1]
    pos, end, k = tl.position(tl.ending), tl.position(tl.duration), 0
    while pos < end - 1e-6:
        level = tl.level_at(tl.time(min(pos + 0.5, end)))
        steps = ENDING_STEPS.get(level, 0)
        for i in range(steps):
            t0, t1 = tl.time(pos + i / steps), min(tl.time(pos + (i + 1) / steps), tl.duration)
            if t0 < tl.duration - 0.05:
                v = velocity(tl, t0, tl.energy_at(t0), 50, 40, i / steps, rng)
                track.notes.append(Note(tones[k % len(tones)], t0, t1, v))
                k += 1
        pos += 1.0


def _bars_before_ending(tl: Timeline) -> list[Bar]:
    return [b for b in tl.bars if b.start < tl.ending - 1e-6]


def _uncovered(tl: Timeline, bar: Bar, onsets: list[float]) -> list[float]:
    """Beat positions in `bar` of chord changes and accents that no onset in `onsets` marks."""
    wanted = [s.start for s in tl.spans_starting(bar.start, min(bar.end, tl.ending) - 1e-6)]
    wanted += [a for a in tl.accents if bar.start <= a < min(bar.end, tl.ending)]
    out = []
    for t in sorted(set(wanted)):
        pos = tl.position(t)
        if all(abs(pos - o) > 0.05 for o in onsets):
            out.append(pos)
    return out


def _hold_final(tl: Timeline, track: Track, pitches_of, roll: float = 0.0) -> None:
    """From `tl.ending` to the end, the last chord's `pitches_of(span)`, rolled by `roll` s per note."""
    span = tl.span_at(tl.ending)
    if span is None or span.chord.is_none or tl.ending >= tl.duration:
        return
    bar = tl.bar_at(tl.ending)
    v = int(np.clip(55 + 30 * bar.energy, 1, 127))
    for k, pitch in enumerate(pitches_of(span)):
        track.notes.append(Note(pitch, tl.ending + roll * k, tl.duration, v))


def _bass_roots(tl: Timeline) -> dict[int, int]:
    """Per span index: the root pitch, kept within a fifth or so of the previous root."""
    roots: dict[int, int] = {}
    previous: int | None = None
    for i, span in enumerate(tl.spans):
        if span.chord.is_none:
            continue
        pitch = bass_note(span.chord, 36) if previous is None else \
            nearest_pitch((span.chord.root,), previous, *BASS_RANGE)
        roots[i] = previous = pitch
    return roots


def approach_note(target: int, current: int, scale: tuple[int, ...]) -> int:
    """A step into `target` from the side `current` is on: a scale tone 1-2 semitones away when
    there is one, else the chromatic neighbour."""
    direction = -1 if current <= target else 1
    for step in (1, 2):
        if (target + direction * step) % 12 in scale:
            return target + direction * step
    return target + direction


def write_bass(tl: Timeline, program: int, rng: np.random.Generator) -> Track:
    """Roots, fifths and octaves in a rhythm of the bar's density and energy; in the beat (half beat
    when busy) before most chord changes, an approach note into the next root."""
    track = Track("bass", program)
    roots = _bass_roots(tl)
    choose = PatternChooser(BASS_PATTERNS, rng)

    def pitch_for(span: Span, degree: str) -> int:
        root = roots[span.index]
        return {"R": root, "5": fifth_note(span.chord, root), "8": root + 12}[degree]

    for bar in _bars_before_ending(tl):
        levels = beat_levels(tl, bar, lambda t: bass_level(tl, t))
        level = max(levels)
        events = [(bar.pos + s.offset, s.length, s.tones[0]) for s, _ in steps_by_beat(choose, bar, levels)]
        events += [(pos, 1.0, "R") for pos in _uncovered(tl, bar, [e[0] for e in events])]
        events.sort()
        approaches = []
        for following in tl.spans_starting(bar.start, min(bar.end, tl.ending)):
            span = tl.spans[following.index - 1] if following.index else None
            if (level >= 1 and span is not None and tl.next_span(span) is following
                    and not following.chord.is_none and not span.chord.is_none
                    and following.chord.root != span.chord.root and rng.random() < 0.75):
                change = tl.position(following.start)
                start = change - (0.5 if level >= 3 else 1.0)
                if tl.time(start) > span.start:
                    events = [(p, min(n, start - p), d) for p, n, d in events if p < start - 1e-6 or p >= change]
                    approaches.append((start, change, following))
        for pos, length, degree in events:
            t = tl.time(pos)
            span = tl.span_at(t)
            if span is None or span.chord.is_none or t >= tl.ending:
                continue
            end = min(tl.time(pos + length), span.end, tl.ending)
            v = velocity(tl, t, tl.energy_at(t), 58, 40, pos - bar.pos, rng)
            track.notes.append(Note(pitch_for(span, degree), t, end, v))
        for start, change, following in approaches:
            t = tl.time(start)
            current = track.notes[-1].pitch if track.notes else roots[following.index]
            target = roots[following.index]
            pitch = approach_note(target, current, chord_scale(following.chord, tl.plan.key))
            v = velocity(tl, t, tl.energy_at(t), 54, 40, start - bar.pos, rng)
            track.notes.append(Note(pitch, t, tl.time(change), v))
    _hold_final(tl, track, lambda span: [roots[span.index]])
    return track
