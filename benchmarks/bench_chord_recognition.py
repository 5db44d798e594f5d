"""Accuracy of the dataset builder's audio labels on real harmony with known answers.

POP909 songs (../shared/media/midi/pop909: MIDI + hand-checked `chord_midi.txt` and
`key_audio.txt`) are rendered through the bundled General MIDI SoundFont and labelled by
`cuescore.data.audio_labels`. Reported per song: per-second chord accuracy (root, majmin, full
13-quality vocabulary), the estimated and true global key (the longest key of `key_audio.txt`),
and note density against the MIDI's own (Video2Music's count of notes sounding in each second):
Pearson r and mean count ratio, for every available transcription method. The Brahms recording
in ../shared/media/audio is checked for its key alone.

    python benchmarks/bench_chord_recognition.py [--songs 001 050] [--seconds 60] [--density onsets]

Prints a markdown table; paste it into benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pretty_midi

from cuescore.data.audio_labels import (
    KEY_PROFILES,
    basic_pitch_available,
    chord_accuracy,
    chords_per_second,
    estimate_key,
    label_audio,
    mono,
    note_density_per_second,
    sounding_notes_per_second,
    to_analysis_rate,
)
from cuescore.media.audio import Audio, read_audio_track
from cuescore.music.chords import parse_chord
from cuescore.music.plan import Key
from cuescore.render.midi import read_midi
from cuescore.render.synth import synthesize

SHARED = Path(__file__).resolve().parents[2] / "shared" / "media"
POP909 = SHARED / "midi" / "pop909"
BRAHMS = SHARED / "audio" / "hungarian_dance_5_strings.ogg"
BRAHMS_KEY_README = "F# minor"


def read_segments(path: Path) -> list[tuple[float, float, str]]:
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    return [(float(a), float(b), label) for a, b, label in rows]


def true_key(song: Path) -> Key:
    """The key that lasts longest in `key_audio.txt` (labels like `Gb:maj`, `A:min`)."""
    start, end, label = max(read_segments(song / "key_audio.txt"), key=lambda s: s[1] - s[0])
    chord = parse_chord(label)
    return Key(chord.root, "minor" if chord.quality == "min" else "major")


def render(song: Path, seconds: float | None) -> tuple[Audio, pretty_midi.PrettyMIDI]:
    midi = pretty_midi.PrettyMIDI(str(song / f"{song.name}.mid"))
    audio = synthesize(read_midi(song / f"{song.name}.mid"), sample_rate=44100)
    if seconds is not None:
        audio = audio.fit_length(min(audio.samples.shape[1], int(seconds * audio.sample_rate)))
    return audio, midi


def midi_density(midi: pretty_midi.PrettyMIDI, T: int) -> np.ndarray:
    notes = np.array([(n.start, n.end) for inst in midi.instruments for n in inst.notes]).reshape(-1, 2)
    return sounding_notes_per_second(notes, T)


def bench_song(song: Path, seconds: float | None, methods: list[str]) -> dict:
    audio, midi = render(song, seconds)
    t0 = time.perf_counter()
    labels = label_audio(audio, density=methods[0])
    elapsed = time.perf_counter() - t0
    reference = chords_per_second(read_segments(song / "chord_midi.txt"), labels.T)
    row = {
        "song": song.name, "seconds": labels.T, "time": elapsed,
        **{level: chord_accuracy(labels.chords, reference, level) for level in ("root", "majmin", "full")},
        "true_key": true_key(song).name,
        **{f"key_{w}": estimate_key(labels.pitch_profile, w).name for w in KEY_PROFILES},
    }
    truth = midi_density(midi, labels.T)
    y = to_analysis_rate(mono(audio), audio.sample_rate)
    for method in methods:
        same = method == labels.density_method
        density = labels.note_density if same else note_density_per_second(y, labels.T, method)
        row[f"r_{method}"] = float(np.corrcoef(truth, density)[0, 1])
        row[f"ratio_{method}"] = float(density.mean() / max(truth.mean(), 1e-9))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", nargs="*", help="POP909 song numbers (default: all in ../shared)")
    parser.add_argument("--seconds", type=float, default=None, help="label only the first N seconds")
    parser.add_argument("--density", nargs="*", default=None,
                        help="note-density methods to compare (default: onsets, plus basic-pitch when installed)")
    args = parser.parse_args()
    if not POP909.is_dir():
        raise SystemExit(f"{POP909} is not here; this benchmark needs ../shared/media")
    methods = args.density or (["basic-pitch", "onsets"] if basic_pitch_available() else ["onsets"])
    songs = [POP909 / s for s in args.songs] if args.songs else sorted(p for p in POP909.iterdir() if p.is_dir())
    rows = [bench_song(song, args.seconds, methods) for song in songs]

    density_cols = [f"{name} {m}" for m in methods for name in ("r", "ratio")]
    key_cols = [f"key {w}" for w in KEY_PROFILES]
    print("| song | s | root | majmin | full | true key | " + " | ".join(key_cols + density_cols) + " | label time s |")
    print("|---|---:|---:|---:|---:|---|" + "---|" * len(key_cols) + "---:|" * len(density_cols) + "---:|")
    for r in rows:
        keys = " | ".join(r[f"key_{w}"] + ("" if r[f"key_{w}"] == r["true_key"] else " ✗") for w in KEY_PROFILES)
        dens = " | ".join(f"{r[f'{name}_{m}']:.2f}" for m in methods for name in ("r", "ratio"))
        print(f"| {r['song']} | {r['seconds']} | {r['root']:.3f} | {r['majmin']:.3f} | {r['full']:.3f} | "
              f"{r['true_key']} | {keys} | {dens} | {r['time']:.1f} |")
    keys = " | ".join(f"{sum(r[f'key_{w}'] == r['true_key'] for r in rows)}/{len(rows)}" for w in KEY_PROFILES)
    mean_dens = " | ".join(f"{np.mean([r[f'{name}_{m}'] for r in rows]):.2f}"
                           for m in methods for name in ("r", "ratio"))
    print(f"| **mean** | {sum(r['seconds'] for r in rows)} | {np.mean([r['root'] for r in rows]):.3f} | "
          f"{np.mean([r['majmin'] for r in rows]):.3f} | {np.mean([r['full'] for r in rows]):.3f} | | "
          f"{keys} | {mean_dens} | {np.mean([r['time'] for r in rows]):.1f} |")
    if BRAHMS.is_file():
        labels = label_audio(read_audio_track(BRAHMS), density="onsets")
        found = ", ".join(f"{w} {estimate_key(labels.pitch_profile, w).name}" for w in KEY_PROFILES)
        print(f"\n{BRAHMS.name} (README: {BRAHMS_KEY_README}): {found}")


if __name__ == "__main__":
    main()
