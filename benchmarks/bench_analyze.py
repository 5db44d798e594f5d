"""Speed and memory of `cuescore analyze`.

1. Wall time of `analyze` on a 60 s 1280x720 h264 clip, as a ratio to a plain PyAV decode of
   every frame of the same file in the same run (target ≤ 1.5x).
2. Peak resident memory of `analyze` on a 20-minute clip in a fresh process (target < 1 GB).

Run: `.venv/bin/python benchmarks/bench_analyze.py [--skip-long]`. Prints markdown rows.
"""

from __future__ import annotations

import argparse
import platform
import resource
import subprocess
import sys
import time
from datetime import date

import av

from media_for_bench import clip_720p, repeat_clip


def plain_decode(path) -> tuple[float, int]:
    """Seconds to decode every frame with PyAV's defaults, and the frame count."""
    t0 = time.perf_counter()
    with av.open(str(path)) as c:
        n = sum(1 for _ in c.decode(video=0))
    return time.perf_counter() - t0, n


def timed_analyze(path) -> float:
    from cuescore.analysis import analyze

    t0 = time.perf_counter()
    analyze(path)
    return time.perf_counter() - t0


def peak_memory_mb(path) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of analyze() in a child process."""
    code = f"from cuescore.analysis import analyze; f = analyze({str(path)!r}); print(f.T)"
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(peak, before) / 1024.0, wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--skip-long", action="store_true", help="skip the 20-minute memory run")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    clip = clip_720p(60)
    timed_analyze(clip)  # warm caches and imports
    decode = min(plain_decode(clip)[0] for _ in range(args.repeats))
    analysis = min(timed_analyze(clip) for _ in range(args.repeats))
    print(f"machine: {platform.processor() or platform.machine()}, {platform.system()}, date {date.today()}")
    print("| measurement | value |\n|---|---|")
    print(f"| plain PyAV decode, 60 s 720p h264 | {decode:.2f} s |")
    print(f"| analyze, same clip | {analysis:.2f} s |")
    print(f"| ratio analyze / decode (target ≤ 1.5) | {analysis / decode:.2f} |")
    if not args.skip_long:
        long_clip = repeat_clip(clip, 20)
        peak, wall = peak_memory_mb(long_clip)
        print(f"| analyze, 20 min 720p: peak RSS (target < 1024 MB) | {peak:.0f} MB |")
        print(f"| analyze, 20 min 720p: wall time | {wall:.0f} s |")


if __name__ == "__main__":
    main()
