"""`Score`: tracks of timed notes with General MIDI programs and a tempo map; MIDI in and out.

Times are seconds. A `Score` converts to `pretty_midi.PrettyMIDI` with its tempo map written as
MIDI tempo changes, so the file's beat grid matches the plan the notes were placed on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pretty_midi

from cuescore.fileio import atomic_path
from cuescore.music.plan import Key, TempoChange

DRUM_CHANNEL = 9
CC_VOLUME, CC_PAN, CC_EXPRESSION = 7, 10, 11


@dataclass
class Note:
    """One note: MIDI `pitch`, `start` and `end` in seconds, `velocity` 1-127."""

    pitch: int
    start: float
    end: float
    velocity: int

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class ControlChange:
    """MIDI controller `number` set to `value` (0-127) at `time` seconds."""

    time: float
    number: int
    value: int


@dataclass
class Track:
    """One instrument part: General MIDI `program` (0-127), or a drum kit when `is_drum`.

    `volume` (CC7) and `pan` (CC10, 64 = centre) are set once at the start; `controls` holds
    timed controller changes such as expression (CC11) fades.
    """

    name: str
    program: int
    is_drum: bool = False
    notes: list[Note] = field(default_factory=list)
    controls: list[ControlChange] = field(default_factory=list)
    volume: int = 100
    pan: int = 64

    def tidy(self, duration: float, min_length: float = 0.01) -> None:
        """Sort notes, clip them to [0, duration], drop ones shorter than `min_length` seconds, and
        end each note where the next note of the same pitch starts (a MIDI note-off would cut both)."""
        notes = sorted(self.notes, key=lambda n: (n.start, n.pitch))
        next_start: dict[int, float] = {}
        kept = []
        for note in reversed(notes):
            start = max(0.0, note.start)
            end = min(note.end, duration, next_start.get(note.pitch, np.inf))
            if end - start >= min_length:
                kept.append(Note(note.pitch, start, end, int(np.clip(note.velocity, 1, 127))))
                next_start[note.pitch] = start
        self.notes = kept[::-1]
        self.controls = sorted((c for c in self.controls if 0.0 <= c.time <= duration), key=lambda c: c.time)


@dataclass
class Score:
    """A multi-track score lasting `duration` seconds, placed on `tempo_map`."""

    tracks: list[Track]
    tempo_map: list[TempoChange]
    duration: float
    key: Key | None = None
    beats_per_bar: int = 4

    def track(self, name: str) -> Track:
        """The track called `name`; KeyError naming the tracks there are."""
        for track in self.tracks:
            if track.name == name:
                return track
        raise KeyError(f"no track {name!r}; tracks: {', '.join(t.name for t in self.tracks)}")

    def notes_in(self, t0: float, t1: float, track: str | None = None) -> list[Note]:
        """Notes starting in [t0, t1) seconds, of one track or all, ordered by start."""
        tracks = [self.track(track)] if track is not None else self.tracks
        notes = [n for t in tracks for n in t.notes if t0 <= n.start < t1]
        return sorted(notes, key=lambda n: (n.start, n.pitch))

    def channels(self) -> list[int]:
        """MIDI channel of each track, as `pretty_midi` assigns them when writing: drums on 9,
        the others cycling through the 15 remaining channels in track order."""
        melodic = [c for c in range(16) if c != DRUM_CHANNEL]
        return [DRUM_CHANNEL if t.is_drum else melodic[i % len(melodic)] for i, t in enumerate(self.tracks)]

    def to_midi(self, resolution: int = 960) -> pretty_midi.PrettyMIDI:
        """The score as a `PrettyMIDI` with tempo changes, 4/4-style time signature and key."""
        pm = pretty_midi.PrettyMIDI(resolution=resolution, initial_tempo=self.tempo_map[0].bpm)
        pm._tick_scales = tempo_tick_scales(self.tempo_map, resolution)
        pm._update_tick_to_time(pm._tick_scales[-1][0] + 1)
        pm.time_signature_changes.append(pretty_midi.TimeSignature(self.beats_per_bar, 4, 0.0))
        if self.key is not None:
            pm.key_signature_changes.append(
                pretty_midi.KeySignature(self.key.tonic + (12 if self.key.mode == "minor" else 0), 0.0))
        for track in self.tracks:
            inst = pretty_midi.Instrument(program=track.program, is_drum=track.is_drum, name=track.name)
            inst.notes = [pretty_midi.Note(n.velocity, n.pitch, n.start, n.end) for n in track.notes]
            inst.control_changes = [pretty_midi.ControlChange(CC_VOLUME, track.volume, 0.0),
                                    pretty_midi.ControlChange(CC_PAN, track.pan, 0.0)]
            inst.control_changes += [pretty_midi.ControlChange(c.number, c.value, c.time) for c in track.controls]
            pm.instruments.append(inst)
        return pm

    def write_midi(self, path: str | os.PathLike) -> Path:
        """Write a standard MIDI file atomically."""
        pm = self.to_midi()
        with atomic_path(path) as tmp:
            pm.write(str(tmp))
        return Path(path)

    @classmethod
    def from_midi(cls, pm: pretty_midi.PrettyMIDI) -> "Score":
        """Rebuild a score from a `PrettyMIDI` (CC7 / CC10 at time 0 become volume and pan)."""
        times, bpms = pm.get_tempo_changes()
        tempo_map = [TempoChange(float(t), float(b)) for t, b in zip(times, bpms)]
        tracks = []
        for inst in pm.instruments:
            track = Track(inst.name, int(inst.program), bool(inst.is_drum),
                          [Note(int(n.pitch), float(n.start), float(n.end), int(n.velocity)) for n in inst.notes])
            for cc in inst.control_changes:
                if cc.time < 1e-6 and cc.number == CC_VOLUME:
                    track.volume = cc.value
                elif cc.time < 1e-6 and cc.number == CC_PAN:
                    track.pan = cc.value
                else:
                    track.controls.append(ControlChange(float(cc.time), cc.number, cc.value))
            tracks.append(track)
        key = None
        if pm.key_signature_changes:
            number = pm.key_signature_changes[0].key_number
            key = Key(number % 12, "minor" if number >= 12 else "major")
        bpb = pm.time_signature_changes[0].numerator if pm.time_signature_changes else 4
        return cls(tracks, tempo_map, float(pm.get_end_time()), key, bpb)


def tempo_tick_scales(tempo_map: list[TempoChange], resolution: int) -> list[tuple[int, float]]:
    """`pretty_midi`'s private `_tick_scales` for a tempo map: (tick, seconds per tick) at each change.

    pretty_midi has no public setter for tempo changes; its writer emits one `set_tempo` per entry.
    Tempi are rounded to whole microseconds per beat, as a MIDI file stores them (the tiny bias
    keeps pretty_midi's truncating writer on the same integer). Each change time is rounded to the
    nearest tick of the tempo before it (under 0.5 ms at 960 ticks per beat), measured from where
    the previous change actually landed so errors do not add up.
    """
    scales: list[tuple[int, float]] = []
    tick, tick_time = 0, 0.0
    for change in tempo_map:
        if change.bpm <= 0:
            raise ValueError(f"tempo must be positive, got {change.bpm} BPM at {change.time} s")
        if scales:
            step = int(round((change.time - tick_time) / scales[-1][1]))
            tick, tick_time = tick + step, tick_time + step * scales[-1][1]
        micros = round(6e7 / change.bpm)
        scale = (micros + 1e-6) / (1e6 * resolution)
        if scales and tick == scales[-1][0]:
            scales[-1] = (tick, scale)
        else:
            scales.append((tick, scale))
    return scales
