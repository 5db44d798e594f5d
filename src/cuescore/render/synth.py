"""SoundFont synthesis: a `Score` rendered offline to stereo `Audio`.

Backends form a registry (`SYNTHS`): "tinysoundfont" (default; a pip wheel, no system library) and
"fluidsynth" (when `pyfluidsynth` imports and finds the system `libfluidsynth`). Both play the same
sample-timed event stream (`render.midi.score_events`), rendering audio in blocks between events.
The default SoundFont is the General MIDI `TimGM6mb.sf2` that ships inside `pretty_midi`
(`render.banks` finds better installed ones for `--soundfont auto`).

Parts that the SoundFont samples at a low rate (pads, mostly: the costliest parts, several layered
voices per note) render at half the output rate and are upsampled; nothing they play is lost. The
synthesizers' C code holds the GIL, so where cores are idle the work is spread over forked worker
processes (`render.parallel`) writing into shared memory; the result is the serial render up to
float rounding.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from cuescore.errors import InputError, OptionError
from cuescore.media.audio import Audio
from cuescore.media.track import Mapped, finite
from cuescore.media.track import Track as AudioTrack
from cuescore.music.score import Score, Track
from cuescore.render.midi import CONTROL, NOTE_OFF, NOTE_ON, PROGRAM, ChannelEvent, num_samples, score_events
from cuescore.render.banks import bundled_soundfont as default_soundfont
from cuescore.render.banks import check_soundfont
from cuescore.render.fir import kaiser_lowpass, kaiser_order
from cuescore.render.parallel import Job, render_jobs
from cuescore.render.soundfont import channel_regions

BLOCK = 4096
"""Most samples rendered in one call. Calls end at every event and at multiples of BLOCK counted
from sample 0, so a stretch rendered on its own sees the same call boundaries as the whole."""
DRUM_BANK = 128
HALF_RATE_SHARE = 0.85
"""A track renders at half the output rate when no note of it can sound above this share of the
half rate's Nyquist frequency (per the SoundFont's sample rates and pitch shifts); the half-rate
audio is then upsampled by 2 with a filter flat to there, so nothing the track plays is lost.
Sustained, layered pads (the costliest parts) mostly qualify: General MIDI fonts sample them low."""
UPSAMPLE_ATTENUATION_DB = 70.0


def _check_soundfont(soundfont: str | os.PathLike | None) -> Path:
    path = Path(soundfont) if soundfont is not None else default_soundfont()
    check_soundfont(path)
    return path


class Synthesizer(ABC):
    """A SoundFont renderer: `render` turns events into float32 [2, stop - start]."""

    NAME: str = ""
    INSTALL: str = ""

    @staticmethod
    @abstractmethod
    def available() -> bool:
        """True when the backend's library can be loaded here."""

    @abstractmethod
    def render(
        self,
        events: list[ChannelEvent],
        start: int,
        stop: int,
        sample_rate: int,
        soundfont: Path,
        wanted: Sequence[bool] | None = None,
    ) -> np.ndarray:
        """Stereo float32 samples [2, stop - start] of samples start..stop-1 of `events` (only
        those with `wanted` set are played, if given; the others still end rendering calls).
        Events before `start` are sent before the first sample."""

    def load(self, soundfont: Path) -> None:
        """Parse `soundfont` ahead of the renders, where the backend keeps parsed banks (forked
        render workers then inherit it instead of each parsing it again)."""


def _play(events: list[ChannelEvent], start: int, stop: int, send, generate, wanted=None) -> np.ndarray:
    """Drive a backend over samples [start, stop): `send(event)` at each wanted event's sample,
    `generate(out)` fills a [k, 2] float32 view between. Returns [2, stop - start]."""
    out = np.zeros((stop - start, 2), dtype=np.float32)
    position, i = start, 0
    while position < stop:
        while i < len(events) and events[i].sample <= position:
            if wanted is None or wanted[i]:
                send(events[i])
            i += 1
        grid = (position // BLOCK + 1) * BLOCK
        until = min(stop, grid, events[i].sample if i < len(events) else stop)
        generate(out[position - start: until - start])
        position = until
    return out.T


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

    MAX_VOICES = 512

    def load(self, soundfont: Path) -> None:
        loaded_soundfont(soundfont)

    def render(self, events, start, stop, sample_rate, soundfont, wanted=None) -> np.ndarray:
        synth, sfid = self._synth(soundfont, sample_rate)

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

        def generate(out: np.ndarray) -> None:
            synth.generate_simple(len(out), buffer=memoryview(out).cast("B"))

        return _play(events, start, stop, send, generate, wanted)

    def _synth(self, soundfont: Path, sample_rate: int):
        """(a fresh `tinysoundfont.Synth` playing a clone of the loaded `soundfont`, its sfid).
        The bank is parsed once per process (`loaded_soundfont`); each render gets its own clone
        (TinySoundFont's `tsf_copy`: shared samples, own voices and channels), which plays
        exactly as a freshly loaded bank."""
        import tinysoundfont
        from tinysoundfont import _tinysoundfont

        synth = tinysoundfont.Synth(gain=self.GAIN_DB, samplerate=sample_rate)
        bank = _tinysoundfont.SoundFont(loaded_soundfont(soundfont))
        bank.set_output(_tinysoundfont.OutputMode.StereoInterleaved, sample_rate, self.GAIN_DB)
        bank.set_max_voices(self.MAX_VOICES)
        synth.soundfonts[0], synth.next_sfid = bank, 1  # what `Synth.sfload` records for a bank
        synth.channel = {channel: 0 for channel in range(16)}
        return synth, 0


def loaded_soundfont(soundfont: str | os.PathLike):
    """The parsed TinySoundFont bank at `soundfont`, loaded once per process while the file stays
    the same (path, size and modification time): a large bank such as FluidR3_GM takes 0.3-0.7 s to
    parse, and a run renders many pieces (candidates and stems too). InputError when it cannot be loaded."""
    stat = os.stat(soundfont)
    return _load_soundfont(os.path.abspath(soundfont), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=2)
def _load_soundfont(path: str, size: int, mtime_ns: int):
    from tinysoundfont import _tinysoundfont

    try:
        return _tinysoundfont.SoundFont(path)
    except Exception:
        raise InputError(f"{path}: the SoundFont cannot be loaded (corrupt or truncated)") from None


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

    def render(self, events, start, stop, sample_rate, soundfont, wanted=None) -> np.ndarray:
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

            def generate(out: np.ndarray) -> None:
                out[:] = np.asarray(synth.get_samples(len(out)), dtype=np.float32).reshape(-1, 2) / 32768.0

            return _play(events, start, stop, send, generate, wanted)
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
    workers: int | None = None,
) -> Audio:
    """`synthesize_track` held in memory: stereo float32 `Audio`."""
    track = synthesize_track(score, soundfont, sample_rate, synth, workers)
    return Audio(track.read(0, track.n), sample_rate)


def synthesize_track(
    score: Score,
    soundfont: str | os.PathLike | None = None,
    sample_rate: int = 44100,
    synth: str = "tinysoundfont",
    workers: int | None = None,
    part: str | None = None,
) -> AudioTrack:
    """Render `score` with a SoundFont (default: the bundled GM one) to a stereo float32 track of
    exactly `ceil(score.duration * sample_rate)` samples; notes still ringing at the end are cut.
    The render is spooled to temporary files piece by piece (`render.parallel`); the half-rate
    parts are upsampled and added as the track is read, so memory does not grow with the length.

    workers: processes rendering parts of the track at once (default: the idle CPU cores, at most
        one per `parallel.MIN_STRETCH_SECONDS` of music; 1 = in-process). The result is the same.
    part: render only the track of this name (a stem), with the same synthesizer calls as the
        whole score's render, so the stems of every track sum to the whole render up to float
        rounding (the synthesizer's envelopes advance per call). KeyError for an unknown name.
    `InputError` for a missing or corrupt SoundFont; `OptionError` for an unknown or unavailable synth.
    """
    if synth not in SYNTHS:
        known = {cls.NAME: cls for cls in _BACKENDS}
        if synth in known:
            raise OptionError(f"synth {synth!r} is not available here; install it: {known[synth].INSTALL}")
        raise OptionError(f"unknown synth {synth!r}; choose one of: {', '.join(available_synths())}")
    path = _check_soundfont(soundfont)
    if part is not None:
        score.track(part)
    backend = SYNTHS[synth]()
    backend.load(path)
    n = num_samples(score.duration, sample_rate)
    low, full = _split_by_bandwidth(score, sample_rate, path)

    def job(sub: Score, rate: int, length: int) -> Job:
        events = score_events(sub, rate)
        return Job(backend, events, length, rate, path, None if part is None else _playing(sub, events, part))

    if not low.tracks:
        return Mapped(render_jobs([job(score, sample_rate, n)], workers)[0], finite)
    half = sample_rate // 2
    jobs = [job(low, half, num_samples(score.duration, half))]
    if full.tracks:
        jobs.append(job(full, sample_rate, n))
    rendered = render_jobs(jobs, workers)
    return _Upsampled(rendered[0], rendered[1] if full.tracks else None, n, sample_rate)


def _playing(score: Score, events: list[ChannelEvent], part: str) -> np.ndarray:
    """[len(events)] bool: the program and controller events, and the notes of track `part`
    (by its channel; none when `score` has no such track)."""
    channels = [c for t, c in zip(score.tracks, score.channels()) if t.name == part]
    return np.array([e.kind not in (NOTE_ON, NOTE_OFF) or e.channel in channels for e in events], bool)


class _Upsampled(AudioTrack):
    """`low` (at half the rate) upsampled by 2, plus `full` if given, over samples 0..n-1; read in
    stretches with the half-band filter's reach of `low` around them, so any stretch equals the
    same samples of the whole track upsampled at once."""

    def __init__(self, low: AudioTrack, full: AudioTrack | None, n: int, sample_rate: int) -> None:
        self.low, self.full = low, full
        self.channels, self.n, self.sample_rate = 2, n, sample_rate

    def _read(self, start: int, stop: int) -> np.ndarray:
        reach = len(_halfband()[0])
        lo, hi = start // 2, (stop + 1) // 2
        up = upsample2(self.low.read(lo - reach, hi + reach))
        samples = up[:, 2 * reach + start - 2 * lo: 2 * reach + stop - 2 * lo]
        if self.full is not None:
            samples += self.full.read(start, stop)
        return finite(samples)


def _split_by_bandwidth(score: Score, sample_rate: int, soundfont: Path) -> tuple[Score, Score]:
    """(tracks that can render at half `sample_rate`, the others), each as a `Score` (channels
    are assigned within each, which keeps every track's program and controllers on one channel)."""
    low: list[Track] = []
    full: list[Track] = []
    limit = HALF_RATE_SHARE * sample_rate / 4.0
    for track in score.tracks:
        fits = sample_rate % 2 == 0 and sample_rate >= 32000 and bool(track.notes)
        if fits:
            try:
                regions = channel_regions(soundfont, int(track.program), bool(track.is_drum))
            except ValueError:
                regions, fits = (), False
            fits = fits and all(r.bandwidth(n.pitch) <= limit for n in track.notes for r in regions
                                if r.plays(n.pitch, n.velocity))
        (low if fits else full).append(track)
    def part(tracks: list[Track]) -> Score:
        return Score(tracks, list(score.tempo_map), score.duration, score.key, score.beats_per_bar)
    return part(low), part(full)


@lru_cache(maxsize=1)
def _halfband() -> tuple[np.ndarray, float]:
    """(c_t for t = 1..T, centre gain) of a linear-phase half-band FIR for 2× upsampling: flat to
    HALF_RATE_SHARE of the input's Nyquist frequency, UPSAMPLE_ATTENUATION_DB down from its mirror."""
    width = 1.0 - HALF_RATE_SHARE  # transition, as a share of the output's Nyquist frequency (2 × edge gap / 2)
    numtaps, beta = kaiser_order(UPSAMPLE_ATTENUATION_DB, width)
    pairs = max(2, (numtaps + 3) // 4)
    h = kaiser_lowpass(4 * pairs - 1, 0.5, beta)
    centre = 2 * pairs - 1
    return (2.0 * h[centre + 2 * np.arange(1, pairs + 1) - 1]).astype(np.float32), float(2.0 * h[centre])


def upsample2(x: np.ndarray, chunk: int = 1 << 16) -> np.ndarray:
    """`x` [C, m] at twice the rate, [C, 2m]: even samples are x (times the centre gain, ~1), odd
    ones the symmetric half-band interpolation Σ c_t (x[n+t] + x[n+1-t])."""
    taps, centre = _halfband()
    pairs = len(taps)
    channels, m = x.shape
    padded = np.zeros((channels, m + 2 * pairs), np.float32)
    padded[:, pairs: pairs + m] = x
    out = np.empty((channels, 2 * m), np.float32)
    out[:, 0::2] = x * np.float32(centre)
    for start in range(0, m, chunk):
        stop = min(m, start + chunk)
        acc = np.zeros((channels, stop - start), np.float32)
        tmp = np.empty_like(acc)
        for t in range(1, pairs + 1):
            ahead, behind = pairs + t, pairs + 1 - t
            np.add(padded[:, start + ahead: stop + ahead], padded[:, start + behind: stop + behind], out=tmp)
            tmp *= taps[t - 1]
            acc += tmp
        out[:, 2 * start + 1: 2 * stop: 2] = acc
    return out
