"""Speed of `cuescore generate` (issue 3): the whole main job on a 60 s 1280x720 h264 clip, as a
ratio to a plain PyAV decode of every frame of the same file in the same run (target ≤ 2x), with
the time of each stage: analysis, composition (engine plan + arrange), synthesis, mastering, mux
and file writing (MIDI, WAV; the JSON plan is written after the total is taken and is tiny).

Each repeat runs `cuescore.scoring.score_video` in this process after a warm-up run (imports and
the SoundFont's first load are not counted, as for `bench_analyze.py`); the stage times are those
of the repeat with the smallest total. `--cli` also times one `cuescore generate` in a fresh
process (imports included). The machine's load average is printed: on a shared machine the
ratio is the meaningful number, since the decode is timed under the same load.

Run: `.venv/bin/python benchmarks/bench_generate.py [--repeats 3] [--cli]`. Prints markdown rows.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import av

from media_for_bench import clip_720p

ROWS = (
    ("analysis", "analysis"),
    ("composition", "composition (plan + arrange)"),
    ("synthesis", "synthesis"),
    ("mastering", "mastering"),
    ("writing", "file writing (MIDI + WAV)"),
    ("mux", "mux (video stream copy + AAC)"),
)


def plain_decode(path) -> tuple[float, float]:
    """(wall, CPU) seconds to decode every frame with PyAV's defaults."""
    t0, c0 = time.perf_counter(), time.process_time()
    with av.open(str(path)) as c:
        for _ in c.decode(video=0):
            pass
    return time.perf_counter() - t0, time.process_time() - c0


def timed_generate(path, out_dir: Path) -> tuple[float, dict[str, float], float]:
    """(wall seconds of `score_video`, its stage timings, CPU seconds of this process)."""
    from cuescore.scoring import score_video

    out = out_dir / "scored.mp4"
    t0, c0 = time.perf_counter(), time.process_time()
    result = score_video(path, out)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    for p in result.outputs.values():
        p.unlink(missing_ok=True)
    return wall, dict(result.timings), cpu


def cli_generate(path, out_dir: Path) -> float:
    """Wall seconds of `cuescore generate` in a fresh process (imports included)."""
    out = out_dir / "cli.mp4"
    cmd = [sys.executable, "-m", "cuescore", "generate", str(path), "-o", str(out)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cli", action="store_true", help="also time one `cuescore generate` in a fresh process")
    args = ap.parse_args()
    clip = clip_720p(60)
    out_dir = Path(tempfile.mkdtemp(prefix="bench_generate_"))
    try:
        timed_generate(clip, out_dir)  # warm-up: imports, SoundFont, caches
        load_before = os.getloadavg()
        decodes, runs = [], []
        for _ in range(args.repeats):  # interleaved, so both see the same load
            decodes.append(plain_decode(clip))
            runs.append(timed_generate(clip, out_dir))
        load_after = os.getloadavg()
        cli = cli_generate(clip, out_dir) if args.cli else None
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)

    decode = min(d[0] for d in decodes)
    wall, timings, cpu = min(runs, key=lambda r: r[1].get("total", r[0]))
    total = timings.get("total", wall)
    print(f"machine: {platform.processor() or platform.machine()}, {platform.system()}, {os.cpu_count()} CPUs, "
          f"date {date.today()}, load average {load_before[0]:.1f} → {load_after[0]:.1f}")
    print(f"clip: {Path(clip).name} (60 s, 1280x720 h264); best of {args.repeats} runs after a warm-up\n")
    print("| stage | seconds | × decode |\n|---|---|---|")
    print(f"| plain PyAV decode (reference) | {decode:.2f} | 1.00 |")
    for key, label in ROWS:
        if key in timings:
            print(f"| {label} | {timings[key]:.2f} | {timings[key] / decode:.2f} |")
    after = sum(timings.get(k, 0.0) for k in ("composition", "synthesis", "mastering", "writing", "mux"))
    print(f"| everything after analysis | {after:.2f} | {after / decode:.2f} |")
    print(f"| **total** (`score_video`, stages + probe/checks) | {total:.2f} "
          f"| **{total / decode:.2f}** (target ≤ 2) |")
    if cli is not None:
        print(f"| `cuescore generate` in a fresh process (imports included) | {cli:.2f} | {cli / decode:.2f} |")
    others = ", ".join(f"{r[1].get('total', r[0]):.2f}" for r in runs)
    print(f"\nall totals: {others} s; all decodes: {', '.join(f'{d[0]:.2f}' for d in decodes)} s")
    print(f"CPU time of this process (threads included, worker processes not): decode "
          f"{min(d[1] for d in decodes):.2f} s, score_video {cpu:.2f} s (the run above)")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
