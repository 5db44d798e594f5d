"""Harmony and cut alignment of the `affective` engine, beside the harmony of real pop songs.

1. For each POP909 song in ../shared/media/midi/pop909: diatonic share, chord changes per
   minute, distinct chords, longest run of one chord (seconds and beats), and the labels that
   had to be mapped onto our 13 qualities; then how the chords outside the key stand
   (`chromatic.explain`: secondary dominant resolving a fifth down, chord borrowed from the
   parallel mode, other), as shares of all chords.
2. For affective plans made from the feature fixtures (regular, irregular and flash-cut
   editing; several seeds): the same statistics plus cut-on-beat, cut-on-downbeat,
   cut-on-chord-change and emotion correspondence (weight_emotion 1 vs 0), and planning time.
3. With --features DIR (folders written by `cuescore analyze`): the same for real videos.

Run: `.venv/bin/python benchmarks/bench_harmony.py [--seeds 5] [--features DIR ...]`. Prints markdown.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cuescore.analysis.features import VideoFeatures  # noqa: E402
from cuescore.controls import Controls  # noqa: E402
from cuescore.engines import get_engine  # noqa: E402
from cuescore.music.chromatic import explain  # noqa: E402
from cuescore.evaluation import evaluate, plan_stats, pop909_stats, read_chord_file  # noqa: E402
from cuescore.evaluation.harmony_stats import read_key_file  # noqa: E402
from cuescore.music.plan import ChordSpan, Key, MusicPlan  # noqa: E402
from tests.feature_fixtures import CLOSE_CUTS, IRREGULAR_CUTS, REGULAR_CUTS, make_features  # noqa: E402

POP909 = ROOT.parent / "shared" / "media" / "midi" / "pop909"
MOODS = ["exciting", "tense", "sad", "fearful", "relaxing", "exciting", "sad", "tense", "fearful", "relaxing",
         "exciting", "sad"]
STAT_COLUMNS = ("diatonic_share", "chords_per_minute", "distinct_chords", "longest_run_seconds", "longest_run_beats")
FUNCTION_COLUMNS = ("secondary_dominant_share", "borrowed_share", "other_nondiatonic_share")
CUT_COLUMNS = ("cut_on_beat", "cut_on_downbeat", "cut_on_chord_change", "emotion_correspondence")


def fixtures() -> dict[str, VideoFeatures]:
    return {
        "regular cuts, relaxing": make_features(40.0, REGULAR_CUTS, emotion="relaxing", confidence=0.9),
        "irregular cuts, mixed moods": make_features(40.0, IRREGULAR_CUTS, emotion=MOODS, confidence=0.9,
                                                     gradual=[(24.0, "dissolve")]),
        "flash cuts, sad": make_features(20.0, CLOSE_CUTS, emotion="sad", confidence=0.9),
        "one shot, 3 min, exciting": make_features(180.0, [], emotion="exciting", motion=30.0, flow=3.0),
    }


def fmt(value) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def table(title: str, rows: list[tuple[str, dict]], columns: tuple[str, ...]) -> None:
    print(f"\n### {title}\n")
    print("| | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for name, row in rows:
        print(f"| {name} | " + " | ".join(fmt(row.get(c)) for c in columns) + " |")


def mean_row(rows: list[dict], columns: tuple[str, ...]) -> dict:
    return {c: float(np.mean([r[c] for r in rows if r.get(c) is not None]))
            if any(r.get(c) is not None for r in rows) else None for c in columns}


def function_shares(spans: list[ChordSpan], keys: Key | list[tuple[float, float, Key]]) -> dict:
    """Shares of the chords (N left out, equal neighbours merged) that `chromatic.explain` calls
    a secondary dominant, borrowed, or other non-diatonic, in the key at each chord's middle."""
    rows = [(-np.inf, np.inf, keys)] if isinstance(keys, Key) else sorted(keys, key=lambda r: r[0])
    chords: list[ChordSpan] = []
    for s in sorted(spans, key=lambda s: s.start):
        if chords and chords[-1].label == s.label and abs(chords[-1].end - s.start) < 1e-3:
            chords[-1] = ChordSpan(chords[-1].start, s.end, s.label)
        elif not s.chord.is_none:
            chords.append(ChordSpan(s.start, s.end, s.label))

    def key_at(t: float) -> Key:
        inside = [k for a, b, k in rows if a <= t < b]
        return inside[0] if inside else min(rows, key=lambda r: min(abs(t - r[0]), abs(t - r[1])))[2]

    kinds = [explain(c.chord, chords[i + 1].chord if i + 1 < len(chords) else None, key_at((c.start + c.end) / 2))
             for i, c in enumerate(chords)]
    n = max(len(kinds), 1)
    return {"secondary_dominant_share": kinds.count("secondary dominant") / n,
            "borrowed_share": kinds.count("borrowed") / n, "other_nondiatonic_share": kinds.count("other") / n}


def plan_function_shares(plan: MusicPlan) -> dict:
    return function_shares(plan.chords, plan.key)


def pop909_song_stats(song: Path) -> dict:
    """`pop909_stats` plus `function_shares` of one POP909 song folder."""
    spans, _ = read_chord_file(song / "chord_midi.txt")
    return {**pop909_stats(song), **function_shares(spans, read_key_file(song / "key_audio.txt"))}


def pop909_rows() -> list[tuple[str, dict]]:
    rows = []
    for song in sorted(p for p in POP909.iterdir() if p.is_dir()):
        stats = pop909_song_stats(song)
        rows.append((song.name, stats))
        if stats["mapped_labels"]:
            print(f"{song.name}: mapped {stats['mapped_labels']}", file=sys.stderr)
    return rows + [("**mean**", mean_row([r for _, r in rows], STAT_COLUMNS + FUNCTION_COLUMNS))]


def engine_rows(features: dict[str, VideoFeatures], seeds: int) -> list[tuple[str, dict]]:
    rows = []
    for name, f in features.items():
        per_seed = []
        for seed in range(seeds):
            t0 = time.perf_counter()
            plan = get_engine("affective", Controls(seed=seed)).compose(f).plan
            elapsed = time.perf_counter() - t0
            off = get_engine("affective", Controls(seed=seed, weight_emotion=0.0)).compose(f).plan
            row = {**plan_stats(plan), **plan_function_shares(plan), **evaluate(plan, f), "plan_seconds": elapsed,
                   "emotion_correspondence_w0": evaluate(off, f)["emotion_correspondence"],
                   "diatonic_share_w0": plan_stats(off)["diatonic_share"]}
            per_seed.append(row)
        rows.append((f"{name} ({f.duration:.0f} s, {len(f.hard_cuts)} cuts)",
                     mean_row(per_seed, STAT_COLUMNS + FUNCTION_COLUMNS + CUT_COLUMNS
                              + ("emotion_correspondence_w0", "diatonic_share_w0", "plan_seconds"))))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="plans per fixture (default 5)")
    parser.add_argument("--features", nargs="*", default=[], help="feature folders from `cuescore analyze`")
    args = parser.parse_args()
    if POP909.is_dir():
        pop = pop909_rows()
        table("POP909 (chord_midi.txt, key_audio.txt)", pop, STAT_COLUMNS)
        table("POP909: chords outside the key, as shares of all chords", pop, FUNCTION_COLUMNS)
    else:
        print(f"{POP909} not found: POP909 rows skipped", file=sys.stderr)
    features = fixtures()
    features.update({Path(d).name: VideoFeatures.load(d) for d in args.features})
    rows = engine_rows(features, args.seeds)
    table(f"affective plans (mean of {args.seeds} seeds)", rows, STAT_COLUMNS)
    table("affective plans: chords outside the key, as shares of all chords (weight_emotion 1; diatonic share at 0)",
          rows, FUNCTION_COLUMNS + ("diatonic_share_w0",))
    table("affective plans: cuts and emotion", rows, CUT_COLUMNS + ("emotion_correspondence_w0", "plan_seconds"))


if __name__ == "__main__":
    main()
