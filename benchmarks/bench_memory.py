"""Peak memory of `cuescore generate` as a user runs it (issue 12): a fresh process per video,
peak RSS read from the kernel (`getrusage(RUSAGE_CHILDREN).ru_maxrss`: the largest resident set
of any one child, render workers included), for long low-resolution videos (320x180, 10 fps:
the demo clip's scenes repeated by stream copy, so decoding costs little and the soundtrack
dominates).

Run: `.venv/bin/python benchmarks/bench_memory.py [--minutes 1 20 60]`. Prints markdown rows.
Set CUESCORE_SRC to the `src` folder of another checkout to measure that code instead.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from media_for_bench import CACHE, repeat_clip

from cuescore.media import render_demo_clip


def long_video(minutes: float) -> Path:
    """A 320x180 10 fps h264 clip of about `minutes` minutes (the 36 s demo clip repeated)."""
    CACHE.mkdir(exist_ok=True)
    base = CACHE / "demo_320x180_10fps.mp4"
    if not base.exists():
        render_demo_clip(base, fps=10, size=(320, 180))
    times = max(1, round(minutes * 60 / 36.0))
    return repeat_clip(base, times)


_MEASURE = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
"""Runs the command given and prints the peak RSS (KiB) of its process tree's largest member:
a fresh measuring process per video, so one video's peak never hides another's."""


def peak_rss(video: Path, src: str | None) -> tuple[float, float]:
    """(peak RSS in MB of one `cuescore generate` process, its wall seconds)."""
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", _MEASURE, sys.executable, "-m", "cuescore", "generate",
                               str(video), "-o", f"{tmp}/out.mp4"], check=True, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
    return int(done.stdout.split()[-1]) / 1024.0, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 20, 60])
    args = parser.parse_args()
    src = os.environ.get("CUESCORE_SRC")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {date.today()}, "
          f"load {os.getloadavg()[0]:.1f}, code: {src or 'installed'}")
    print("| video | peak RSS | wall |\n|---|---|---|")
    for minutes in args.minutes:
        video = long_video(minutes)
        rss, wall = peak_rss(video, src)
        print(f"| {minutes:g} min 320x180 10 fps | {rss:.0f} MB | {wall:.0f} s |", flush=True)


if __name__ == "__main__":
    main()
