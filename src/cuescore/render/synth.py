"""SoundFont synthesis: a `Score` rendered offline to stereo `Audio`.

Backends form a registry (`SYNTHS`): "tinysoundfont" (default; a pip wheel, no system library) and
"fluidsynth" (when `pyfluidsynth` imports and finds the system `libfluidsynth`). Both play the same
sample-timed event stream (`render.midi.score_events`), rendering audio in blocks between events.
The default SoundFont is the General MIDI `TimGM6mb.sf2` that ships inside `pretty_midi`.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np
import pretty_midi

from cuescore.errors import InputError, OptionError
from cuescore.media.audio import Audio
from cuescore.music.score import Score
from cuescore.render.midi import CONTROL, NOTE_OFF, NOTE_ON, PROGRAM, ChannelEvent, num_samples, score_events

BLOCK = 4096
"""Most samples rendered in one call between events."""
DRUM_BANK = 128


def default_soundfont() -> Path:
    """The General MIDI SoundFont bundled with pretty_midi (TimGM6mb, 6 MB)."""
    return Path(pretty_midi.__file__).with_name("TimGM6mb.sf2")


def _check_soundfont(soundfont: str | os.PathLike | None) -> Path:
    path = Path(soundfont) if soundfont is not None else default_soundfont()
    if not path.is_file():
        raise InputError(f"{path}: no such SoundFont file; give a .sf2 path or leave it out for the bundled one")
    with open(path, "rb") as f:
        head = f.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise InputError(f"{path}: not a SoundFont 2 file (no RIFF sfbk header)")
    return path


class Synthesizer(ABC):
    """A SoundFont renderer: `render` turns events into float32 [2, n_samples]."""

    NAME: str = ""
    INSTALL: str = ""

    @staticmethod
    @abstractmethod
    def available() -> bool:
        """True when the backend's library can be loaded here."""

    @abstractmethod
    def render(self, events: list[ChannelEvent], n_samples: int, sample_rate: int, soundfont: Path) -> np.ndarray:
        """Stereo float32 samples [2, n_samples] for `events`."""


def _play(events: list[ChannelEvent], n_samples: int, send, generate) -> np.ndarray:
    """Drive a backend: `send(event)` at each event's sample, `generate(n)` → [n, 2] float32 between."""
    out = np.zeros((2, n_samples), dtype=np.float32)
    position, i = 0, 0
    while position < n_samples:
        while i < len(events) and events[i].sample <= position:
            send(events[i])
            i += 1
        stop = min(n_samples, position + BLOCK, events[i].sample if i < len(events) else n_samples)
        out[:, position:stop] = generate(stop - position).T
        position = stop
    return out


class TinySoundFontSynth(Synthesizer):
    """TinySoundFont through the `tinysoundfont` wheel (no reverb or chorus: see `render.master`)."""

    NAME = "tinysoundfont"
    INSTALL = "pip install --no-deps tinysoundfont"
    GAIN_DB = -6.0
    """Headroom so that a dense arrangement of many voices stays below full scale."""

    @staticmethod
    def available() -> bool:
        try:
            import tinysoundfont  # noqa: F401
        except ImportError:
            return False
        return True

    def render(self, events: list[ChannelEvent], n_samples: int, sample_rate: int, soundfont: Path) -> np.ndarray:
        import tinysoundfont

        synth = tinysoundfont.Synth(gain=self.GAIN_DB, samplerate=sample_rate)
        try:
            sfid = synth.sfload(str(soundfont), max_voices=512)
        except Exception:
            raise InputError(f"{soundfont}: the SoundFont cannot be loaded (corrupt or truncated)") from None

        def send(e: ChannelEvent) -> None:
            if e.kind == PROGRAM:
                bank = DRUM_BANK if e.b else 0
                for program in (e.a, 0):
                    try:
                        synth.program_select(e.channel, sfid, bank, program, is_drums=bool(e.b))
                        return
                    except RuntimeError:
                        continue
                raise InputError(f"{soundfont}: has neither program {e.a} nor program 0 in bank {bank}")
            elif e.kind == CONTROL:
                synth.control_change(e.channel, e.a, e.b)
            elif e.kind == NOTE_ON:
                synth.noteon(e.channel, e.a, e.b)
            elif e.kind == NOTE_OFF:
                synth.noteoff(e.channel, e.a)

        def generate(n: int) -> np.ndarray:
            return np.frombuffer(synth.generate_simple(n), dtype=np.float32).reshape(n, 2)

        return _play(events, n_samples, send, generate)


class FluidSynthSynth(Synthesizer):
    """FluidSynth through `pyfluidsynth` (its own reverb and chorus stay at their defaults)."""

    NAME = "fluidsynth"
    INSTALL = "pip install pyfluidsynth, plus the system library libfluidsynth"

    @staticmethod
    def available() -> bool:
        try:
            import fluidsynth  # noqa: F401
        except (ImportError, OSError):
            return False
        return True

    def render(self, events: list[ChannelEvent], n_samples: int, sample_rate: int, soundfont: Path) -> np.ndarray:
        import fluidsynth

        synth = fluidsynth.Synth(gain=0.2, samplerate=float(sample_rate))
        try:
            sfid = synth.sfload(str(soundfont))
            if sfid == -1:
                raise InputError(f"{soundfont}: FluidSynth cannot load this SoundFont")

            def send(e: ChannelEvent) -> None:
                if e.kind == PROGRAM:
                    if synth.program_select(e.channel, sfid, DRUM_BANK if e.b else 0, e.a) == -1:
                        synth.program_select(e.channel, sfid, DRUM_BANK if e.b else 0, 0)
                elif e.kind == CONTROL:
                    synth.cc(e.channel, e.a, e.b)
                elif e.kind == NOTE_ON:
                    synth.noteon(e.channel, e.a, e.b)
                elif e.kind == NOTE_OFF:
                    synth.noteoff(e.channel, e.a)

            def generate(n: int) -> np.ndarray:
                return (np.asarray(synth.get_samples(n), dtype=np.float32) / 32768.0).reshape(n, 2)

            return _play(events, n_samples, send, generate)
        finally:
            synth.delete()


_BACKENDS: tuple[type[Synthesizer], ...] = (TinySoundFontSynth, FluidSynthSynth)
SYNTHS: dict[str, type[Synthesizer]] = {cls.NAME: cls for cls in _BACKENDS if cls.available()}
"""Name → backend, only those whose library loads on this machine."""


def available_synths() -> list[str]:
    """Names of the synthesizer backends usable here, default first."""
    return list(SYNTHS)


def synthesize(
    score: Score,
    soundfont: str | os.PathLike | None = None,
    sample_rate: int = 44100,
    synth: str = "tinysoundfont",
) -> Audio:
    """Render `score` with a SoundFont (default: the bundled GM one) to stereo float32 `Audio` of
    exactly `ceil(score.duration * sample_rate)` samples; notes still ringing at the end are cut.

    `InputError` for a missing or corrupt SoundFont; `OptionError` for an unknown or unavailable synth.
    """
    if synth not in SYNTHS:
        known = {cls.NAME: cls for cls in _BACKENDS}
        if synth in known:
            raise OptionError(f"synth {synth!r} is not available here; install it: {known[synth].INSTALL}")
        raise OptionError(f"unknown synth {synth!r}; choose one of: {', '.join(available_synths())}")
    path = _check_soundfont(soundfont)
    n = num_samples(score.duration, sample_rate)
    samples = SYNTHS[synth]().render(score_events(score, sample_rate), n, sample_rate, path)
    return Audio(np.nan_to_num(samples), sample_rate)
