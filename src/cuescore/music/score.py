"""`Score`: tracks of timed notes with General MIDI programs and a tempo map; MIDI in and out.

Times are seconds. A `Score` is written as a MIDI file (through mido) with its tempo map as MIDI
tempo changes, so the file's beat grid matches the plan the notes were placed on; it is read back
through pretty_midi.
"""

from __future__ import annotations

import bisect
import os
from dataclasses import dataclass, field
from pathlib import Path

import mido
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
    pickup: int = 0
    """Beats before the first bar line (a partial first bar), so the file's bars are the plan's."""

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

    def to_mido(self, resolution: int = 960) -> mido.MidiFile:
        """The score as a type-1 MIDI file: a timing track (tempo changes, time signature, key),
        then one track per part, on the channels of `channels`."""
        tempo = TempoTicks(self.tempo_map, resolution)
        timing = [mido.MetaMessage("set_tempo", time=tick, tempo=micros) for tick, _, micros in tempo.changes]
        timing += _time_signatures(self.beats_per_bar, self.pickup, resolution)
        if self.key is not None:
            timing.append(mido.MetaMessage("key_signature", time=0, key=_KEY_NAMES[self.key.mode][self.key.tonic]))
        midi = mido.MidiFile(type=1, ticks_per_beat=resolution)
        midi.tracks.append(_track(timing))
        for track, channel in zip(self.tracks, self.channels()):
            events = [mido.MetaMessage("track_name", time=0, name=track.name)] if track.name else []
            events.append(mido.Message("program_change", time=0, program=track.program, channel=channel))
            for note in track.notes:
                events.append(mido.Message("note_on", time=tempo.tick(note.start), channel=channel, note=note.pitch,
                                           velocity=note.velocity))
                events.append(mido.Message("note_on", time=tempo.tick(note.end), channel=channel, note=note.pitch,
                                           velocity=0))
            controls = [ControlChange(0.0, CC_VOLUME, track.volume), ControlChange(0.0, CC_PAN, track.pan),
                        *track.controls]
            events += [mido.Message("control_change", time=tempo.tick(c.time), channel=channel, control=c.number,
                                    value=c.value) for c in controls]
            midi.tracks.append(_track(events))
        return midi

    def to_midi(self, resolution: int = 960) -> pretty_midi.PrettyMIDI:
        """The score as a `PrettyMIDI` (read back from `to_mido`)."""
        return pretty_midi.PrettyMIDI(mido_object=self.to_mido(resolution))

    def write_midi(self, path: str | os.PathLike) -> Path:
        """Write a standard MIDI file atomically."""
        midi = self.to_mido()
        with atomic_path(path) as tmp:
            midi.save(str(tmp))
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


class TempoTicks:
    """A tempo map on a MIDI tick grid of `resolution` ticks per beat: where each tempo change
    lands and which tick a time in seconds falls on.

    Tempi are rounded to whole microseconds per beat, as a MIDI file stores them. Each change time
    is rounded to the nearest tick of the tempo before it (under 0.5 ms at 960 ticks per beat),
    measured from where the previous change actually landed so errors do not add up.
    """

    def __init__(self, tempo_map: list[TempoChange], resolution: int) -> None:
        self.resolution = resolution
        self.changes: list[tuple[int, float, int]] = []
        """(tick, time in seconds, microseconds per beat) at each change."""
        tick, tick_time = 0, 0.0
        for change in tempo_map:
            if change.bpm <= 0:
                raise ValueError(f"tempo must be positive, got {change.bpm} BPM at {change.time} s")
            if self.changes:
                seconds = self._seconds_per_tick(-1)
                step = int(round((change.time - tick_time) / seconds))
                tick, tick_time = tick + step, tick_time + step * seconds
            entry = (tick, tick_time, round(6e7 / change.bpm))
            if self.changes and tick == self.changes[-1][0]:
                self.changes[-1] = entry
            else:
                self.changes.append(entry)

    def _seconds_per_tick(self, index: int) -> float:
        return self.changes[index][2] / (1e6 * self.resolution)

    def tick(self, time: float) -> int:
        """The tick nearest to `time` seconds (≥ 0)."""
        index = max(0, bisect.bisect_right([t for _, t, _ in self.changes], time) - 1)
        start, start_time, _ = self.changes[index]
        return max(0, start + int(round((time - start_time) / self._seconds_per_tick(index))))


_KEY_NAMES = {"major": ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"),
              "minor": ("Cm", "C#m", "Dm", "D#m", "Em", "Fm", "F#m", "Gm", "G#m", "Am", "Bbm", "Bm")}
"""MIDI key-signature names (mido's spelling) by mode and tonic."""

_ORDER = {"track_name": 0, "set_tempo": 1, "time_signature": 2, "key_signature": 3, "program_change": 6,
          "control_change": 8, "note_on": 10}
"""Order of events on the same tick (as pretty_midi writes them): meta events, program, controllers,
then notes, a note-off (velocity 0) before a note-on of the same pitch."""


def _time_signatures(beats_per_bar: int, pickup: int, resolution: int) -> list[mido.MetaMessage]:
    """The metre from tick 0: a bar of `pickup` quarter notes first when the music starts with a
    pickup, then bars of `beats_per_bar`."""
    full = mido.MetaMessage("time_signature", time=pickup * resolution, numerator=beats_per_bar, denominator=4)
    if pickup <= 0:
        return [full]
    return [mido.MetaMessage("time_signature", time=0, numerator=pickup, denominator=4), full]


def _track(events: list) -> mido.MidiTrack:
    """A track of `events` (absolute ticks in `.time`) in tick order, with delta times and an end."""
    def order(e) -> tuple:
        if e.type == "control_change":
            return e.time, _ORDER[e.type], e.control, e.value
        if e.type == "note_on":
            return e.time, _ORDER[e.type], e.note, e.velocity
        return e.time, _ORDER[e.type], 0, 0

    track = mido.MidiTrack()
    last = 0
    for event in sorted(events, key=order):
        track.append(event.copy(time=event.time - last))
        last = event.time
    track.append(mido.MetaMessage("end_of_track", time=1))
    return track
