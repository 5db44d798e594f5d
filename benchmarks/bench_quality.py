"""Quality of the main job on real footage: `score_video` on every clip in ../shared/media/video.

For each clip: the whole job (analysis, affective engine, arrangement, synthesis, mastering,
mux) into a temporary folder, then `evaluate_plan` (cuts on beats and chord changes, emotion
correspondence, motion–density and arousal–loudness Spearman ρ) and `plan_stats` (harmony),
plus the integrated loudness of OUT.wav. A second table puts the mean harmony statistics of the
ten POP909 songs in ../shared/media/midi/pop909 beside the mean of our plans: those of the
scored clips (one seed), and those of plans made again from the same features with --seeds
seeds (a handful of short clips hold only a few dozen chords, so one seed is a noisy estimate
of rates such as the share of chords outside the key). Chords outside the key are split as
`chromatic.explain` sees them: secondary dominants, chords borrowed from the parallel mode, other.

Run: `.venv/bin/python benchmarks/bench_quality.py [--seed N] [--seeds S] [--keep DIR]`. Prints markdown.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyloudnorm
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from bench_harmony import plan_function_shares, pop909_song_stats  # noqa: E402
from cuescore import Controls, VideoFeatures, probe, score_video  # noqa: E402
from cuescore.engines import get_engine  # noqa: E402
from cuescore.evaluation import evaluate, evaluate_plan, plan_stats  # noqa: E402
from cuescore.scoring import default_output  # noqa: E402

SHARED = ROOT.parent / "shared" / "media"
VIDEOS = SHARED / "video"
POP909 = SHARED / "midi" / "pop909"
VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm", ".m4v", ".avi"}

CLIP_COLUMNS = (
    ("duration s", "duration"), ("hard cuts", "hard_cuts"), ("cut on beat", "cut_on_beat"),
    ("cut on chord change", "cut_on_chord_change"), ("emotion corr.", "emotion_correspondence"),
    ("motion–density ρ", "motion_density_spearman"), ("arousal–loudness ρ", "arousal_loudness_spearman"),
    ("OUT.wav LUFS", "lufs"), ("diatonic share", "diatonic_share"), ("chord changes /min", "changes_per_minute"),
    ("longest chord s", "longest_run_seconds"), ("longest chord beats", "longest_run_beats"),
    ("key", "key"), ("BPM", "bpm"), ("job s", "seconds"),
)
HARMONY_COLUMNS = (
    ("diatonic share", "diatonic_share"), ("diatonic time share", "diatonic_time_share"),
    ("chords /min", "chords_per_minute"), ("chord changes /min", "changes_per_minute"),
    ("distinct chords", "distinct_chords"), ("distinct /min", "distinct_per_minute"),
    ("longest chord s", "longest_run_seconds"), ("longest chord beats", "longest_run_beats"),
    ("secondary dominants", "secondary_dominant_share"), ("borrowed", "borrowed_share"),
    ("other non-diatonic", "other_nondiatonic_share"), ("emotion corr.", "emotion_correspondence"),
)


DIGITS = {"duration": 2, "lufs": 2, "bpm": 1, "seconds": 1, "longest_run_seconds": 2, "hard_cuts": 1,
          "longest_run_beats": 1, "changes_per_minute": 1}
"""Decimals per column (3 for the rest); whole numbers print as they are."""


def fmt(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    if isinstance(value, (float, np.floating)):
        return f"{value:.{digits}f}"
    return str(value)


def wav_lufs(path: Path) -> float:
    samples, rate = sf.read(str(path), dtype="float64", always_2d=True)
    return float(pyloudnorm.Meter(rate).integrated_loudness(samples))


def score_clip(video: Path, out_dir: Path, controls: Controls) -> tuple[dict, VideoFeatures]:
    suffix = default_output(video, probe(video).codec).suffix
    t0 = time.perf_counter()
    result = score_video(video, out_dir / f"{video.stem}_scored{suffix}", controls)
    seconds = time.perf_counter() - t0
    metrics = evaluate_plan(result.json)
    stats = {**plan_stats(result.plan), **plan_function_shares(result.plan)}
    return {
        **metrics, **stats, "duration": result.plan.duration, "lufs": wav_lufs(result.wav),
        "key": result.plan.key.name, "bpm": result.plan.mean_bpm, "seconds": seconds,
    }, result.features


def replanned(features: VideoFeatures, seeds: int) -> list[dict]:
    """Harmony statistics and emotion correspondence of affective plans for seeds 0..seeds-1."""
    rows = []
    for seed in range(seeds):
        plan = get_engine("affective", Controls(seed=seed)).compose(features).plan
        rows.append({**plan_stats(plan), **plan_function_shares(plan),
                     "emotion_correspondence": evaluate(plan, features)["emotion_correspondence"]})
    return rows


def mean_of(rows: list[dict], key: str) -> float | None:
    values = [r[key] for r in rows if isinstance(r.get(key), (int, float, np.floating))]
    return float(np.mean(values)) if values else None


def clip_table(rows: list[tuple[str, dict]]) -> str:
    lines = ["| clip | " + " | ".join(h for h, _ in CLIP_COLUMNS) + " |",
             "|---" * (len(CLIP_COLUMNS) + 1) + "|"]
    for name, row in rows:
        lines.append(f"| {name} | " + " | ".join(fmt(row.get(k), DIGITS.get(k, 3)) for _, k in CLIP_COLUMNS) + " |")
    means = {k: mean_of([r for _, r in rows], k) for _, k in CLIP_COLUMNS if k != "key"}
    lines.append("| **mean** | " + " | ".join(fmt(means.get(k), DIGITS.get(k, 3)) for _, k in CLIP_COLUMNS) + " |")
    return "\n".join(lines)


def harmony_table(pop: list[dict], ours: list[dict], many: list[dict], seed: int, seeds: int) -> str:
    lines = [f"| statistic | POP909 (mean of {len(pop)} songs) | cuescore plans (mean of {len(ours)} clips, "
             f"seed {seed}) | cuescore plans (mean of {len(ours)} clips × seeds 0-{seeds - 1}) |",
             "|---|---|---|---|"]
    for header, key in HARMONY_COLUMNS:
        digits = DIGITS.get(key, 3)
        lines.append(f"| {header} | {fmt(mean_of(pop, key), digits)} | {fmt(mean_of(ours, key), digits)} | "
                     f"{fmt(mean_of(many, key), digits)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="seed for every clip (default 0)")
    parser.add_argument("--seeds", type=int, default=40,
                        help="plans per clip, from the same features, for the harmony table (default 40)")
    parser.add_argument("--keep", type=Path, help="write the outputs here instead of a temporary folder")
    args = parser.parse_args()
    if not VIDEOS.is_dir():
        sys.exit(f"{VIDEOS} not found: this benchmark needs ../shared/media")
    videos = sorted(p for p in VIDEOS.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    controls = Controls(seed=args.seed)
    rows, many = [], []
    with tempfile.TemporaryDirectory(prefix="bench_quality_") as tmp:
        out_dir = args.keep or Path(tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        for video in videos:
            print(f"scoring {video.name} ...", file=sys.stderr, flush=True)
            row, features = score_clip(video, out_dir, controls)
            rows.append((video.name, row))
            many.extend(replanned(features, args.seeds))
    print(f"### The main job on real footage (affective engine, seed {args.seed}, default controls)\n")
    print(clip_table(rows))
    print("\ncut on beat / chord change: share of hard cuts within 50 ms of a beat / chord change; emotion corr.: "
          "Video2Music's emotion correspondence over seconds whose emotion has p ≥ 0.8 (– where none); "
          "ρ: Spearman per second (density = MIDI note onsets, loudness = OUT.wav RMS dB).")
    if POP909.is_dir():
        pop = [pop909_song_stats(song) for song in sorted(p for p in POP909.iterdir() if p.is_dir())]
        print("\n### Harmony: POP909 beside our plans\n")
        print(harmony_table(pop, [r for _, r in rows], many, args.seed, args.seeds))
        print("\nsecondary dominants / borrowed / other non-diatonic: shares of all chords; emotion corr. as above "
              "(POP909 has no video: –).")
    else:
        print(f"\n{POP909} not found: POP909 comparison skipped", file=sys.stderr)


if __name__ == "__main__":
    main()
