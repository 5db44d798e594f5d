"""Statistics of a chord sequence, for our plans and for real songs (POP909's `chord_midi.txt`).

- diatonic_share: share of chords (spans, N excluded) whose notes all lie in the key sounding
  at the chord's middle (minor keys admit the raised 7th of harmonic minor, so V and vii° count);
  diatonic_time_share weighs each chord by its length.
- chords_per_minute: chords (spans of one label) per minute, i.e. 60 / mean chord length;
  changes_per_minute: chord changes per minute (one fewer than the chords); distinct_chords
  and distinct_per_minute: how many different labels the sequence uses, in all and per minute.
- longest_run_seconds / longest_run_beats: the longest time one chord keeps sounding, in seconds
  and in beats (when a beat grid is known).

POP909 labels use Harte syntax (`C:maj`, `A:min7`, `F#:maj7/5`, `C:sus4(b7)`, `N`). Inversions
(`/5`) are dropped; a quality outside our 13 is mapped to the one sharing the most notes
(score 2·shared − missing − 0.5·extra, ties to the commoner quality), e.g. `C:9` → `C:7`,
`C:min9` → `C:min7`, `C:sus4(b7)` → `C:sus4`, `C:(1,5)` → `C`; the mappings are reported.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from cuescore.errors import InputError
from cuescore.music.chords import INTERVALS, QUALITIES, Chord, parse_chord
from cuescore.music.plan import ChordSpan, Key, MusicPlan
from cuescore.music.theory import is_diatonic

_HARTE = re.compile(r"^([A-G][#b]*)(?::([^/(]*))?(?:\(([^)]*)\))?(?:/(\S+))?$")
_SHORTHANDS: dict[str, tuple[int, ...]] = {
    **INTERVALS, "": (0, 4, 7), "minmaj7": (0, 3, 7, 11), "9": (0, 4, 7, 10, 2), "maj9": (0, 4, 7, 11, 2),
    "min9": (0, 3, 7, 10, 2), "11": (0, 4, 7, 10, 2, 5), "min11": (0, 3, 7, 10, 2, 5), "13": (0, 4, 7, 10, 2, 9),
    "maj13": (0, 4, 7, 11, 2, 9), "min13": (0, 3, 7, 10, 2, 9), "1": (0,), "5": (0, 7),
}
_DEGREE = {1: 0, 2: 2, 3: 4, 4: 5, 5: 7, 6: 9, 7: 11, 9: 2, 11: 5, 13: 9}
_PREFERENCE = ("maj", "min", "7", "min7", "maj7", "sus4", "sus2", "dim", "hdim7", "maj6", "min6", "dim7", "aug")


def harte_intervals(label: str) -> tuple[int, frozenset[int]]:
    """Root pitch class and the set of semitones above it for a Harte label (ValueError if malformed)."""
    m = _HARTE.match(label.strip())
    if not m:
        raise ValueError(f"not a chord label: {label!r}")
    root, shorthand, degrees, _ = m.groups()
    base = parse_chord(root).root
    if shorthand is None or (shorthand == "" and degrees):
        notes = set() if degrees else {0, 4, 7}
    elif shorthand in _SHORTHANDS:
        notes = set(_SHORTHANDS[shorthand])
    else:
        raise ValueError(f"unknown chord quality {shorthand!r} in {label!r}")
    for item in (degrees or "").split(","):
        item = item.strip()
        dm = re.fullmatch(r"(\*?)([b#]*)(\d+)", item)
        if not item:
            continue
        if not dm or int(dm.group(3)) not in _DEGREE:
            raise ValueError(f"unknown degree {item!r} in {label!r}")
        semis = (_DEGREE[int(dm.group(3))] + dm.group(2).count("#") - dm.group(2).count("b")) % 12
        (notes.discard if dm.group(1) else notes.add)(semis)
    return base, frozenset(notes | {0})


def nearest_quality(notes: frozenset[int]) -> str:
    """The vocabulary quality sharing the most notes with `notes` (semitones above the root)."""
    def score(q: str) -> tuple[float, int]:
        have = set(INTERVALS[q])
        return 2 * len(have & notes) - len(have - notes) - 0.5 * len(notes - have), -_PREFERENCE.index(q)
    return max(QUALITIES, key=score)


def map_label(label: str) -> tuple[Chord, str]:
    """A POP909/Harte label as a vocabulary chord, and how: "exact", "inversion dropped" or
    "nearest quality"."""
    text = label.strip()
    try:
        chord = parse_chord(text)
        return chord, "inversion dropped" if "/" in text else "exact"
    except ValueError:
        root, notes = harte_intervals(text)
        return Chord(root, nearest_quality(notes)), "nearest quality"


def read_chord_file(path: str | os.PathLike) -> tuple[list[ChordSpan], dict[str, str]]:
    """Spans of a `start end label` file (POP909 `chord_midi.txt`), and the labels that were
    mapped to a different quality (original → vocabulary label)."""
    spans, mapped = [], {}
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        try:
            start, end, label = float(parts[0]), float(parts[1]), parts[2]
            chord, how = map_label(label)
        except (IndexError, ValueError) as exc:
            raise InputError(f"{path}:{n}: cannot read chord line {line!r} ({exc})") from None
        if how == "nearest quality":
            mapped[label] = chord.label
        if end > start:
            spans.append(ChordSpan(start, end, chord.label))
    return spans, mapped


def read_key_file(path: str | os.PathLike) -> list[tuple[float, float, Key]]:
    """(start, end, key) rows of a POP909 `key_audio.txt` (labels like `Gb:maj`, `F:min`)."""
    rows = []
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3:
            rows.append((float(parts[0]), float(parts[1]), Key.parse(parts[2])))
    return rows


def _merge(spans: list[ChordSpan]) -> list[ChordSpan]:
    out: list[ChordSpan] = []
    for s in sorted(spans, key=lambda s: s.start):
        if out and out[-1].label == s.label and abs(out[-1].end - s.start) < 1e-3:
            out[-1] = ChordSpan(out[-1].start, s.end, s.label)
        else:
            out.append(ChordSpan(s.start, s.end, s.label))
    return out


def chord_stats(spans: list[ChordSpan], keys: Key | list[tuple[float, float, Key]],
                beats: list[float] | None = None) -> dict:
    """The statistics in the module docstring for chord `spans` in `keys` (one key, or
    (start, end, key) rows; the key at a chord's middle applies)."""
    rows = [(-np.inf, np.inf, keys)] if isinstance(keys, Key) else sorted(keys, key=lambda r: r[0])

    def key_at(t: float) -> Key:
        inside = [k for s, e, k in rows if s <= t < e]
        return inside[0] if inside else min(rows, key=lambda r: min(abs(t - r[0]), abs(t - r[1])))[2]

    chords = [s for s in _merge(spans) if not s.chord.is_none]
    if not chords:
        return {"chords": 0}
    lengths = np.array([s.end - s.start for s in chords])
    diatonic = np.array([is_diatonic(s.chord, key_at((s.start + s.end) / 2)) for s in chords])
    minutes = (chords[-1].end - chords[0].start) / 60.0
    longest = int(np.argmax(lengths))
    b = np.asarray(beats if beats is not None else [])
    run_beats = int(np.sum((b >= chords[longest].start - 1e-3) & (b < chords[longest].end - 1e-3))) if b.size else None
    distinct = len({s.label for s in chords})
    return {
        "chords": len(chords),
        "diatonic_share": round(float(diatonic.mean()), 4),
        "diatonic_time_share": round(float(lengths[diatonic].sum() / lengths.sum()), 4),
        "chords_per_minute": round(len(chords) / minutes, 2),
        "changes_per_minute": round((len(chords) - 1) / minutes, 2),
        "distinct_chords": distinct,
        "distinct_per_minute": round(distinct / minutes, 2),
        "longest_run_seconds": round(float(lengths[longest]), 3),
        "longest_run_beats": run_beats,
        "longest_run_chord": chords[longest].label,
    }


def plan_stats(plan: MusicPlan) -> dict:
    """`chord_stats` of a plan in its own key, on its own beat grid."""
    return chord_stats(plan.chords, plan.key, plan.beats)


def pop909_stats(song_dir: str | os.PathLike) -> dict:
    """`chord_stats` of one POP909 song folder (chord_midi.txt, key_audio.txt, beat_midi.txt),
    plus "mapped_labels": labels outside our vocabulary and what they became."""
    d = Path(song_dir)
    spans, mapped = read_chord_file(d / "chord_midi.txt")
    beats_file = d / "beat_midi.txt"
    beats = [float(line.split()[0]) for line in beats_file.read_text().splitlines() if line.strip()] \
        if beats_file.is_file() else None
    stats = chord_stats(spans, read_key_file(d / "key_audio.txt"), beats)
    stats["mapped_labels"] = mapped
    return stats
