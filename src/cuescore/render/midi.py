"""Score ↔ MIDI for the renderers: reading MIDI files into a `Score`, and a `Score` as a
sample-timed stream of channel events that any synthesizer backend can play.

Channels are assigned as `Score.channels()` (and so `pretty_midi` when writing the file) assigns
them, so a rendered score and its MIDI file play the same parts on the same channels.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import pretty_midi

from cuescore.errors import InputError
from cuescore.music.score import CC_PAN, CC_VOLUME, Score

PROGRAM, CONTROL, NOTE_OFF, NOTE_ON = 0, 1, 2, 3
"""Event kinds, in the order events at the same sample are sent: a note-off before a note-on so a
repeated pitch restarts rather than being cut."""


@dataclass(frozen=True, order=True)
class ChannelEvent:
    """At `sample`, an event of `kind` on `channel`: PROGRAM (a=program, b=1 for a drum kit),
    CONTROL (a=controller, b=value), NOTE_OFF (a=pitch) or NOTE_ON (a=pitch, b=velocity)."""

    sample: int
    kind: int
    channel: int
    a: int
    b: int = 0


def num_samples(duration: float, sample_rate: int) -> int:
    """`ceil(duration * sample_rate)`, robust to float noise such as 20 * 44100 = 882000.0000001."""
    return int(math.ceil(round(duration * sample_rate, 6)))


def score_events(score: Score, sample_rate: int) -> list[ChannelEvent]:
    """Every program, controller and note event of `score`, in sample order."""
    events = []

    def at(t: float) -> int:
        return max(0, int(round(t * sample_rate)))

    for track, channel in zip(score.tracks, score.channels()):
        events.append(ChannelEvent(0, PROGRAM, channel, int(track.program), int(track.is_drum)))
        events.append(ChannelEvent(0, CONTROL, channel, CC_VOLUME, int(track.volume)))
        events.append(ChannelEvent(0, CONTROL, channel, CC_PAN, int(track.pan)))
        events.extend(ChannelEvent(at(c.time), CONTROL, channel, int(c.number), int(c.value)) for c in track.controls)
        for note in track.notes:
            start, end = at(note.start), at(note.end)
            events.append(ChannelEvent(start, NOTE_ON, channel, int(note.pitch), int(note.velocity)))
            events.append(ChannelEvent(max(end, start + 1), NOTE_OFF, channel, int(note.pitch)))
    return sorted(events)


def read_midi(path: str | os.PathLike) -> Score:
    """A MIDI file as a `Score`; `InputError` when the file is missing or not MIDI."""
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such MIDI file")
    try:
        pm = pretty_midi.PrettyMIDI(os.fspath(path))
    except Exception as exc:  # mido and pretty_midi raise many kinds on corrupt files
        raise InputError(f"{path}: not a readable MIDI file ({type(exc).__name__}: {exc})") from None
    return Score.from_midi(pm)
