"""Per-second music labels from an audio track, as MuVi-Sync has them: chord, key, loudness, note density.

Every label has one row per second of audio (`T = ceil(duration)` rows; row `t` is [t, t+1)):

- chords: tokens of `cuescore.music.chords` (0 = N, 1..156 = 12 roots x 13 qualities). A log-compressed
  constant-Q spectrum (one bin per semitone, tuning estimated) is folded into a bass and a treble
  chroma; each frame scores every chord by cosine similarity of the treble chroma with a template
  that includes each chord note's first harmonics, plus the bass energy on the chord's root, plus a
  prior per quality (triads are likelier than sevenths). A Viterbi pass over the 157 states with a
  self-transition bias smooths the frames; each second takes the chord of most of its frames.
- key: Krumhansl–Schmuckler: 24 rotated key profiles correlated with a pitch-class profile of the
  track (its mean chroma plus the tones of the recognised chords). The profile weights are selectable:
  Albrecht–Shanahan (default: 7 of 10 rendered POP909 songs right), Krumhansl–Kessler (5 of 10) or
  Temperley (6 of 10); the misses are relative, dominant or subdominant keys.
- loudness: Video2Music's definition (`script/loudness_feature.py`): the RMS amplitude of the mono
  mix (mean of the channels) over each 1 s chunk, full scale = 1 (their `rms / 32767` of 16-bit
  samples, taken to dB and back).
- note density: Video2Music's definition (`script/note_density_feature.py`): the number of notes of a
  transcription that sound during [t, t+1) (a note counts in every second it overlaps). Notes come
  from `basic-pitch` (method "basic-pitch", Spotify's audio-to-MIDI model) or, without it, from
  per-pitch onsets on the constant-Q spectrum (method "onsets", a rough transcription). Against the
  MIDI of rendered POP909 songs the per-second counts correlate r = 0.77 (basic-pitch, 1.2x the MIDI's
  count) and r = 0.61 (onsets, 0.9x); see benchmarks/bench_chord_recognition.py.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import math
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np
import scipy.ndimage as ndi
import soundfile as sf

from cuescore.errors import OptionError
from cuescore.media.audio import Audio
from cuescore.music.chords import NO_CHORD, QUALITIES, Chord, chord_from_token, parse_chord
from cuescore.music.plan import Key

ANALYSIS_RATE = 22050
"""Hz; audio is resampled to this rate before chord and note analysis."""
CHORD_HOP = 2048
"""Samples between chord frames at `ANALYSIS_RATE` (93 ms)."""
NOTE_HOP = 512
"""Samples between frames of the "onsets" transcription (23 ms)."""
LOWEST_MIDI, N_SEMITONES = 24, 72
"""The constant-Q spectrum spans MIDI 24 (C1) to 95 (B6), one bin per semitone."""

QUALITY_PRIOR = {
    "maj": 0.0, "min": 0.0, "sus2": -0.025, "sus4": -0.025, "dim": -0.05, "maj7": -0.05, "min7": -0.05,
    "7": -0.05, "maj6": -0.05, "min6": -0.05, "hdim7": -0.05, "dim7": -0.075, "aug": -0.075,
}
"""Added to a chord's frame score (cosine units). Triads are likelier, as in MuVi-Sync's own labels
(`vevo_meta/top_chord.txt`: the 30 commonest chords are triads, then sevenths, one sus4); the sizes
were tuned on rendered POP909 songs 001-020 and still let clean sevenths, sixths and sus chords win."""
COMPRESSION = 30.0
"""Chroma level is log(1 + COMPRESSION * magnitude / loudest magnitude)."""
HARMONIC_DECAY = 0.3
"""Weight ratio of successive harmonics in the chord templates (harmonics 1-6)."""
BASS_WEIGHT = 0.3
"""Weight of the bass chroma's energy on the chord root, relative to the treble cosine."""
NO_CHORD_SCORE = 0.5
"""Frame score of N: it wins where no chord template reaches this cosine (and in silence)."""
TEMPERATURE = 0.1
"""Frame scores / TEMPERATURE are the log-likelihoods given to the Viterbi pass."""
SELF_TRANSITION = 0.9
"""Probability that the chord of one frame carries on into the next."""
SILENCE_DB = -60.0
"""Frames this far below the loudest frame are N."""

KEY_PROFILES: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "albrecht": ((0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081),
                 (0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052)),
    "krumhansl": ((6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88),
                  (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)),
    "temperley": ((5.0, 2.0, 3.5, 2.0, 4.5, 4.0, 2.0, 4.5, 2.0, 3.5, 1.5, 4.0),
                  (5.0, 2.0, 3.5, 4.5, 2.0, 4.0, 2.0, 4.5, 3.5, 2.0, 1.5, 4.0)),
}
"""(major, minor) pitch-class weights from the tonic up: Albrecht & Shanahan 2013, Krumhansl & Kessler
1982, Temperley 1999."""
DENSITY_METHODS = ("auto", "basic-pitch", "onsets")
BASIC_PITCH_INSTALL = "pip install onnxruntime resampy && pip install --no-deps basic-pitch==0.4.0 mir_eval==0.8.2"


@dataclass
class AudioLabels:
    """The music targets of one track, one row per second.

    chords: int64 [T] tokens (0 = N). key: the global key, found from pitch_profile: float [12]
    (row 0 = C). loudness: float32 [T] RMS, 0-1. note_density: float32 [T] notes sounding per second.
    density_method: how the notes were found.
    """

    chords: np.ndarray
    key: Key
    pitch_profile: np.ndarray
    loudness: np.ndarray
    note_density: np.ndarray
    density_method: str

    @property
    def T(self) -> int:
        return len(self.chords)

    def normalized(self) -> tuple[list[str], Key]:
        """Chord labels transposed so the key is C major or A minor (MuVi-Sync's `lab_v2_norm`), and that key."""
        target = Key(0, "major") if self.key.mode == "major" else Key(9, "minor")
        shift = target.tonic - self.key.tonic
        return [chord_from_token(int(t)).transpose(shift).label for t in self.chords], target


# ---------------------------------------------------------------- signal helpers


def mono(audio: Audio) -> np.ndarray:
    """The mean of the channels: float32 [samples]."""
    return audio.samples.mean(axis=0).astype(np.float32)


def seconds_of(n_samples: int, sample_rate: int) -> int:
    """Rows of the per-second timeline for `n_samples`: ceil(duration), at least 1."""
    return max(1, math.ceil(n_samples / sample_rate))


def to_analysis_rate(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono `samples` [n] resampled to `ANALYSIS_RATE`: float32 [m]."""
    if sample_rate == ANALYSIS_RATE:
        return np.ascontiguousarray(samples, np.float32)
    return librosa.resample(np.asarray(samples, np.float32), orig_sr=sample_rate, target_sr=ANALYSIS_RATE)


def semitone_spectrum(y: np.ndarray, hop: int, tuning: float | None = None) -> np.ndarray:
    """Constant-Q magnitude of `y` (mono at `ANALYSIS_RATE`): float [72, frames], MIDI 24..95.

    Frame f is centred at f * hop / ANALYSIS_RATE s. Each semitone is the centre bin of a 3-bins-per-
    semitone CQT, whose narrow filters keep a note out of its neighbours. tuning: deviation from
    A440 in fractions of a semitone (estimated from `y` when None).
    """
    if tuning is None:
        tuning = float(librosa.estimate_tuning(y=y, sr=ANALYSIS_RATE)) if np.any(y) else 0.0
    fmin = librosa.midi_to_hz(LOWEST_MIDI - 1.0 / 3.0)
    with warnings.catch_warnings():  # clips under ~3 s: librosa warns about its lowest octave's window
        warnings.filterwarnings("ignore", message="n_fft=.* is too large", category=UserWarning)
        cqt = np.abs(librosa.cqt(y, sr=ANALYSIS_RATE, hop_length=hop, fmin=fmin, n_bins=3 * N_SEMITONES,
                                 bins_per_octave=36, tuning=tuning))
    return cqt.reshape(N_SEMITONES, 3, -1)[:, 1]


def bass_treble_chroma(spectrum: np.ndarray, compression: float = COMPRESSION) -> tuple[np.ndarray, np.ndarray]:
    """(bass [12, F], treble [12, F]) chroma from a `semitone_spectrum`, log-compressed.

    Bass weighs MIDI 28-52 (a bell around E2); treble sums MIDI 48-84 (C3-C6). Row 0 is C.
    """
    level = np.log1p(compression * spectrum / (spectrum.max() + 1e-12))
    midi = np.arange(LOWEST_MIDI, LOWEST_MIDI + spectrum.shape[0])
    bass_w = np.exp(-0.5 * ((midi - 40) / 6.0) ** 2)
    treble_w = ((midi >= 48) & (midi <= 84)).astype(float)
    fold = np.zeros((12, len(midi)))
    fold[midi % 12, np.arange(len(midi))] = 1.0
    return fold @ (bass_w[:, None] * level), fold @ (treble_w[:, None] * level)


# ---------------------------------------------------------------- chords


@functools.lru_cache(maxsize=1)
def chord_templates() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(templates [156, 12] unit-norm, roots [156], quality priors [156]); row i is token i + 1."""
    harmonics = [(0, 1.0), (0, HARMONIC_DECAY), (7, HARMONIC_DECAY**2), (0, HARMONIC_DECAY**3),
                 (4, HARMONIC_DECAY**4), (7, HARMONIC_DECAY**5)]
    rows, roots, priors = np.zeros((156, 12)), np.zeros(156, np.int64), np.zeros(156)
    for root in range(12):
        for quality in QUALITIES:
            chord = Chord(root, quality)
            for pc in chord.pitch_classes:
                for interval, weight in harmonics:
                    rows[chord.token - 1, (pc + interval) % 12] += weight
            roots[chord.token - 1] = root
            priors[chord.token - 1] = QUALITY_PRIOR[quality]
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows, roots, priors


def chord_log_likelihood(bass: np.ndarray, treble: np.ndarray, energy_db: np.ndarray | None = None) -> np.ndarray:
    """Per-frame log-likelihood of the 157 chord states: float [157, F]; row = token (0 = N).

    bass, treble: [12, F] chroma. energy_db: [F] frame level in dB below the loudest frame; frames
    under `SILENCE_DB` are N.
    """
    templates, roots, priors = chord_templates()
    treble_n = treble / (np.linalg.norm(treble, axis=0, keepdims=True) + 1e-12)
    bass_n = bass / (bass.sum(axis=0, keepdims=True) + 1e-12)
    scores = templates @ treble_n + BASS_WEIGHT * bass_n[roots] + priors[:, None]
    if energy_db is not None:
        scores[:, energy_db < SILENCE_DB] = -np.inf
    scores = np.vstack([np.full((1, scores.shape[1]), NO_CHORD_SCORE), scores]) / TEMPERATURE
    return scores - np.logaddexp.reduce(scores, axis=0, keepdims=True)


def viterbi(log_likelihood: np.ndarray, self_transition: float = SELF_TRANSITION) -> np.ndarray:
    """Most likely state path: int64 [F] for log-likelihoods [K, F], where a state stays with
    probability `self_transition` and otherwise moves to any other state alike."""
    K, F = log_likelihood.shape
    if F == 0:
        return np.zeros(0, np.int64)
    log_stay, log_move = math.log(self_transition), math.log((1.0 - self_transition) / (K - 1))
    delta = log_likelihood[:, 0].copy()
    back = np.zeros((F, K), np.int64)
    states = np.arange(K)
    for f in range(1, F):
        best = int(np.argmax(delta))
        stay, move = delta + log_stay, delta[best] + log_move
        moved = move > stay
        back[f] = np.where(moved, best, states)
        delta = np.where(moved, move, stay) + log_likelihood[:, f]
    path = np.zeros(F, np.int64)
    path[-1] = int(np.argmax(delta))
    for f in range(F - 1, 0, -1):
        path[f - 1] = back[f, path[f]]
    return path


def per_second_majority(path: np.ndarray, frame_times: np.ndarray, T: int, default: int = NO_CHORD) -> np.ndarray:
    """The most frequent state among the frames of each second: int64 [T]; `default` where a second has none."""
    out = np.full(T, default, np.int64)
    seconds = np.floor(frame_times).astype(np.int64)
    inside = (seconds >= 0) & (seconds < T)
    for t in range(T):
        states = path[inside & (seconds == t)]
        if states.size:
            out[t] = np.bincount(states).argmax()
    return out


def chords_per_second(segments: list[tuple[float, float, str]], T: int) -> np.ndarray:
    """Tokens [T] from timed chord labels (start s, end s, label such as `A:min7` or `N`): each
    second takes the label that covers most of it; N where none does. Bass notes (`/3`) are ignored."""
    out = np.zeros(T, np.int64)
    cover = np.zeros(T)
    for start, end, label in segments:
        token = parse_chord(label).token
        for t in range(max(0, math.floor(start)), min(T, math.ceil(end))):
            overlap = min(end, t + 1) - max(start, t)
            if overlap > cover[t]:
                cover[t], out[t] = overlap, token
    return out


_MAJMIN = {"maj": "maj", "7": "maj", "maj7": "maj", "maj6": "maj", "min": "min", "min7": "min", "min6": "min"}


def chord_accuracy(estimated: np.ndarray, reference: np.ndarray, level: str = "full") -> float:
    """Fraction of seconds whose estimated token matches the reference (int arrays [T]).

    level "root": same root (N only matches N); "majmin": same root and major/minor class, over the
    seconds whose reference is N or reduces to major (maj, 7, maj7, maj6) or minor (min, min7, min6);
    "full": the same token of the 13-quality vocabulary.
    """
    est = [chord_from_token(int(t)) for t in estimated]
    ref = [chord_from_token(int(t)) for t in reference]
    if level == "root":
        hits = [e.root == r.root for e, r in zip(est, ref)]
    elif level == "majmin":
        hits = [(e.root, _MAJMIN.get(e.quality)) == (r.root, _MAJMIN[r.quality]) if not r.is_none else e.is_none
                for e, r in zip(est, ref) if r.is_none or r.quality in _MAJMIN]
    elif level == "full":
        hits = [e == r for e, r in zip(est, ref)]
    else:
        raise OptionError(f"level must be root, majmin or full, got {level!r}")
    return float(np.mean(hits)) if hits else float("nan")


def recognize_chords(y: np.ndarray, T: int | None = None, tuning: float | None = None) -> np.ndarray:
    """Chord tokens per second for mono `y` at `ANALYSIS_RATE`: int64 [T] (default T = ceil(duration))."""
    T = seconds_of(len(y), ANALYSIS_RATE) if T is None else T
    tokens, _ = _chords_and_chroma(y, T, tuning)
    return tokens


def _chords_and_chroma(y: np.ndarray, T: int, tuning: float | None) -> tuple[np.ndarray, np.ndarray]:
    """(tokens [T], mean bass + treble chroma [12]) for mono `y` at `ANALYSIS_RATE`."""
    if not np.any(y):
        return np.zeros(T, np.int64), np.zeros(12)
    spectrum = semitone_spectrum(y, CHORD_HOP, tuning)
    bass, treble = bass_treble_chroma(spectrum)
    power = (spectrum**2).sum(axis=0)
    energy_db = 10 * np.log10(power / (power.max() + 1e-20) + 1e-20)
    path = viterbi(chord_log_likelihood(bass, treble, energy_db))
    times = np.arange(spectrum.shape[1]) * CHORD_HOP / ANALYSIS_RATE
    chroma = bass / (bass.sum() + 1e-12) + treble / (treble.sum() + 1e-12)
    return per_second_majority(path, times, T), chroma.sum(axis=1)


# ---------------------------------------------------------------- key


def chord_pitch_profile(tokens: np.ndarray, root_weight: float = 0.5) -> np.ndarray:
    """Pitch-class profile of a chord sequence: float [12], each chord's tones + `root_weight` on its root."""
    profile = np.zeros(12)
    for token in np.asarray(tokens):
        chord = chord_from_token(int(token))
        if not chord.is_none:
            profile[list(chord.pitch_classes)] += 1.0
            profile[chord.root] += root_weight
    return profile


def estimate_key(profile: np.ndarray, weights: str = "albrecht") -> Key:
    """Krumhansl–Schmuckler: the key whose rotated `KEY_PROFILES[weights]` correlates best with
    `profile` (float [12], pitch-class weights, row 0 = C). C major for a flat profile."""
    p = np.asarray(profile, np.float64)
    if p.shape != (12,):
        raise ValueError(f"profile must have 12 pitch classes, got shape {p.shape}")
    if weights not in KEY_PROFILES:
        raise OptionError(f"key profile must be one of {', '.join(KEY_PROFILES)}, got {weights!r}")
    if np.ptp(p) <= 0:
        return Key(0, "major")
    best, key = -np.inf, Key(0, "major")
    for mode, template in zip(("major", "minor"), KEY_PROFILES[weights]):
        for tonic in range(12):
            r = np.corrcoef(p, np.roll(template, tonic))[0, 1]
            if r > best:
                best, key = r, Key(tonic, mode)
    return key


# ---------------------------------------------------------------- loudness and note density


def loudness_per_second(samples: np.ndarray, sample_rate: int, T: int | None = None) -> np.ndarray:
    """RMS amplitude of mono `samples` (float, full scale 1) in each 1 s chunk: float32 [T].

    The last chunk may be partial; seconds past the end of the audio are 0.
    """
    x = np.asarray(samples, np.float64)
    T = seconds_of(len(x), sample_rate) if T is None else T
    out = np.zeros(T, np.float32)
    for t in range(T):
        chunk = x[t * sample_rate : (t + 1) * sample_rate]
        if chunk.size:
            out[t] = math.sqrt(float(np.mean(chunk**2)))
    return out


def sounding_notes_per_second(notes: np.ndarray, T: int) -> np.ndarray:
    """Notes overlapping each second: float32 [T]; a note counts in second t when start < t + 1 and
    end > t (Video2Music's rule). notes: [N, >=2] rows of (start, end, ...) in seconds."""
    out = np.zeros(T + 1, np.int64)
    rows = np.asarray(notes, np.float64)
    for start, end in rows[:, :2] if rows.size else ():
        first, last = max(0, math.floor(start)), min(T - 1, math.ceil(end) - 1)
        if first <= last:
            out[first] += 1
            out[last + 1] -= 1
    return np.cumsum(out)[:T].astype(np.float32)


def basic_pitch_available() -> bool:
    """True when `basic_pitch` and an inference runtime import."""
    try:
        _basic_pitch()
    except ImportError:
        return False
    return True


@functools.lru_cache(maxsize=1)
def _basic_pitch():
    logging.disable(logging.WARNING)
    try:
        from basic_pitch import ICASSP_2022_MODEL_PATH
        from basic_pitch.inference import Model, predict
    finally:
        logging.disable(logging.NOTSET)
    return predict, Model(ICASSP_2022_MODEL_PATH)


def transcribe_basic_pitch(y: np.ndarray) -> np.ndarray:
    """Notes of mono `y` at `ANALYSIS_RATE` by basic-pitch: float [N, 3] (start s, end s, MIDI pitch)."""
    predict, model = _basic_pitch()
    with tempfile.TemporaryDirectory(prefix="cuescore-bp-") as folder:
        path = Path(folder) / "audio.wav"
        sf.write(str(path), y, ANALYSIS_RATE, subtype="FLOAT")
        with contextlib.redirect_stdout(io.StringIO()):
            _, _, events = predict(str(path), model)
    return np.array([(s, e, p) for s, e, p, *_ in events], np.float64).reshape(-1, 3)


def transcribe_onsets(y: np.ndarray, tuning: float | None = None, rise_db: float = 6.0,
                      range_db: float = 12.0, release_db: float = 20.0, max_length: float = 4.0) -> np.ndarray:
    """Rough notes of mono `y` at `ANALYSIS_RATE` from per-pitch onsets: float [N, 3] (start, end, MIDI pitch).

    A note starts where a semitone bin of the constant-Q spectrum rises by `rise_db` to a spectral
    peak within `range_db` of the frame's loudest bin, unless a lower note a harmonic below
    (octave, twelfth, ...) starts with it at a higher level. It ends when its bin falls `release_db`
    under its start level, when the same pitch starts again, or after `max_length` seconds. The
    defaults bring the mean count near the MIDI's on rendered POP909 songs.
    """
    if not np.any(y):
        return np.zeros((0, 3))
    level = librosa.amplitude_to_db(semitone_spectrum(y, NOTE_HOP, tuning), ref=np.max, top_db=80.0)
    rise = np.zeros_like(level)
    rise[:, 1:] = np.maximum(0.0, level[:, 1:] - level[:, :-1])
    after = np.concatenate([level[:, 1:], level[:, -1:]], axis=1)
    starts = (rise >= ndi.maximum_filter1d(rise, 5, axis=1)) & (rise > rise_db)
    starts &= after >= ndi.maximum_filter1d(after, 3, axis=0)
    starts &= after > after.max(axis=0, keepdims=True) - range_db
    keep = starts.copy()
    for interval in (12, 19, 24, 28, 31):
        below = np.zeros_like(starts)
        below[interval:] = ndi.maximum_filter1d(starts.astype(np.uint8), 5, axis=1)[:-interval].astype(bool)
        level_below = np.full_like(after, -np.inf)
        level_below[interval:] = after[:-interval]
        keep &= ~(below & (level_below > after - 3.0))
    max_frames = int(max_length * ANALYSIS_RATE / NOTE_HOP)
    notes = []
    for pitch, f in zip(*np.nonzero(keep)):
        tail = after[pitch, f + 1 : f + 1 + max_frames]
        stops = [len(tail)]
        for mask in (tail < after[pitch, f] - release_db, keep[pitch, f + 1 : f + 1 + max_frames]):
            hits = np.flatnonzero(mask)
            if hits.size:
                stops.append(int(hits[0]))
        start, end = f * NOTE_HOP / ANALYSIS_RATE, (f + 1 + min(stops)) * NOTE_HOP / ANALYSIS_RATE
        notes.append((start, end, LOWEST_MIDI + pitch))
    return np.array(notes, np.float64).reshape(-1, 3)


def resolve_density_method(method: str) -> str:
    """"auto" → "basic-pitch" when it imports, else "onsets"; `OptionError` for unknown or unavailable."""
    if method not in DENSITY_METHODS:
        raise OptionError(f"note-density method must be one of {', '.join(DENSITY_METHODS)}, got {method!r}")
    if method == "auto":
        return "basic-pitch" if basic_pitch_available() else "onsets"
    if method == "basic-pitch" and not basic_pitch_available():
        raise OptionError(f"note-density method 'basic-pitch' needs the basic-pitch package: {BASIC_PITCH_INSTALL}")
    return method


def note_density_per_second(y: np.ndarray, T: int | None = None, method: str = "auto") -> np.ndarray:
    """Notes sounding per second of mono `y` at `ANALYSIS_RATE`: float32 [T] (see the module docstring)."""
    T = seconds_of(len(y), ANALYSIS_RATE) if T is None else T
    resolved = resolve_density_method(method)
    notes = transcribe_basic_pitch(y) if resolved == "basic-pitch" else transcribe_onsets(y)
    return sounding_notes_per_second(notes, T)


# ---------------------------------------------------------------- all labels


def label_audio(audio: Audio, T: int | None = None, density: str = "auto",
                key_profile: str = "albrecht") -> AudioLabels:
    """Chords, key, loudness and note density of `audio`, T rows each (default ceil(duration)).

    density: "auto" (basic-pitch when installed, else onsets), "basic-pitch" or "onsets".
    key_profile: the `KEY_PROFILES` weights for the key.
    """
    method = resolve_density_method(density)
    if key_profile not in KEY_PROFILES:
        raise OptionError(f"key profile must be one of {', '.join(KEY_PROFILES)}, got {key_profile!r}")
    x = mono(audio)
    T = seconds_of(len(x), audio.sample_rate) if T is None else int(T)
    loudness = loudness_per_second(x, audio.sample_rate, T)
    y = to_analysis_rate(x, audio.sample_rate)
    tuning = float(librosa.estimate_tuning(y=y, sr=ANALYSIS_RATE)) if np.any(y) else 0.0
    chords, chroma = _chords_and_chroma(y, T, tuning)
    chord_profile = chord_pitch_profile(chords)
    profile = chroma / (chroma.sum() + 1e-12) + chord_profile / (chord_profile.sum() + 1e-12)
    notes = transcribe_basic_pitch(y) if method == "basic-pitch" else transcribe_onsets(y, tuning)
    density_per_second = sounding_notes_per_second(notes, T)
    return AudioLabels(chords, estimate_key(profile, key_profile), profile, loudness, density_per_second, method)


__all__ = [
    "ANALYSIS_RATE", "DENSITY_METHODS", "KEY_PROFILES", "AudioLabels", "basic_pitch_available",
    "bass_treble_chroma", "chord_accuracy", "chord_log_likelihood", "chord_pitch_profile", "chord_templates",
    "chords_per_second", "estimate_key", "label_audio", "loudness_per_second", "mono", "note_density_per_second",
    "per_second_majority", "recognize_chords", "resolve_density_method", "semitone_spectrum",
    "sounding_notes_per_second", "to_analysis_rate", "transcribe_basic_pitch", "transcribe_onsets", "viterbi",
]
