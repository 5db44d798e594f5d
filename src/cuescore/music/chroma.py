"""A score's pitch content as the one-hot chromagram MusicGen-melody is conditioned on.

MusicGen-melody (Copet et al. 2023; transformers `MusicgenMelodyForConditionalGeneration`) reads
`input_features` [B, <=235, 12]: per STFT frame of its 32 kHz audio (hop 4096 samples, so
7.8125 frames a second, 235 frames = 30 s, frame i centred on i / 7.8125 s), a one-hot vector
of the pitch class (0 = C) holding the most energy, the argmax its feature extractor takes. It
was trained on the chroma of the melodic stems of real songs (Demucs "vocals" + "other": drums
and bass left out), so the chroma here leaves out drum tracks and General MIDI bass programs and
weighs every other note (chord tones and melody) by its energy, velocity² × track volume², over
the extractor's 0.512 s Hann window around each frame. A frame where nothing sounds keeps the
class before it (a real recording's reverb tail would); before any note it is 0, as the
extractor's argmax of silence.
"""

from __future__ import annotations

import numpy as np

from cuescore.music.score import Score, Track

CHROMA_RATE = 32000 / 4096
"""Frames per second of MusicGen-melody's chroma (7.8125)."""
CHROMA_FRAMES = 235
"""Frames the model reads per 30 s window (`MusicgenMelodyConfig.chroma_length`)."""
WINDOW_S = 16384 / 32000
"""Length of the extractor's STFT window (n_fft 16384 at 32 kHz): 0.512 s."""
_TAPS = 9
"""Points at which the Hann window is sampled around each frame."""
BASS_PROGRAMS = range(32, 40)
"""General MIDI programs of the bass family (acoustic bass .. synth bass 2)."""


def melodic_tracks(score: Score) -> list[Track]:
    """The tracks the chroma reads: no drums, no bass programs (all non-drum tracks if that leaves none)."""
    pitched = [t for t in score.tracks if not t.is_drum and t.notes]
    upper = [t for t in pitched if t.program not in BASS_PROGRAMS]
    return upper or pitched


def _note_table(score: Score) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(starts, ends, pitch classes, energies) of the notes of `melodic_tracks`, each [N]."""
    rows = [(n.start, n.end, n.pitch % 12, (n.velocity / 127.0) ** 2 * (t.volume / 127.0) ** 2)
            for t in melodic_tracks(score) for n in t.notes]
    if not rows:
        return np.zeros(0), np.zeros(0), np.zeros(0, int), np.zeros(0)
    table = np.asarray(rows, float)
    return table[:, 0], table[:, 1], table[:, 2].astype(int), table[:, 3]


def pitch_energy(score: Score, times: np.ndarray) -> np.ndarray:
    """Energy per pitch class [len(times), 12] of the score's melodic notes in the extractor's
    Hann window centred on each time (seconds)."""
    times = np.asarray(times, float)
    starts, ends, classes, energy = _note_table(score)
    out = np.zeros((times.size, 12))
    if starts.size == 0 or times.size == 0:
        return out
    offsets = np.linspace(-WINDOW_S / 2, WINDOW_S / 2, _TAPS + 2)[1:-1]
    taps = np.hanning(_TAPS + 2)[1:-1]
    onehot = np.eye(12)[classes] * energy[:, None]  # [N, 12]
    for offset, weight in zip(offsets, taps):
        t = times[:, None] + offset
        sounding = (starts[None, :] <= t) & (t < ends[None, :])  # [F, N]
        out += weight * (sounding.astype(float) @ onehot)
    return out


def one_hot_chroma(energy: np.ndarray, previous: int = 0) -> np.ndarray:
    """float32 one-hot [F, 12] of each row's loudest pitch class; a silent row keeps the class
    before it (`previous` before the first)."""
    out = np.zeros(energy.shape, np.float32)
    current = previous
    for i, row in enumerate(energy):
        if row.max() > 0:
            current = int(np.argmax(row))
        out[i, current] = 1.0
    return out


def score_chroma(score: Score, start_s: float = 0.0, frames: int | None = None) -> np.ndarray:
    """The one-hot chroma [frames, 12] of `score` from `start_s` on, at `CHROMA_RATE`.

    frames: default, up to the score's end. Times past the end wrap around to its start: a piece
    shorter than the model's window repeats, as MusicGen-melody's own conditioning of a short
    melody does (it tiles the chroma to `CHROMA_FRAMES`).
    """
    duration = float(score.duration)
    if frames is None:
        frames = max(1, int(np.ceil((duration - start_s) * CHROMA_RATE)))
    times = np.mod(start_s + np.arange(frames) / CHROMA_RATE, duration)
    start = np.mod(start_s, duration)
    lead_in = pitch_energy(score, np.array([start - 1.0 / CHROMA_RATE])) if start > 0 else np.zeros((1, 12))
    return one_hot_chroma(pitch_energy(score, times), int(np.argmax(lead_in[0])))

