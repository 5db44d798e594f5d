"""Speed and memory of `cuescore analyze`.

1. Wall time of `analyze` on a 60 s 1280x720 h264 clip, as a ratio to a plain PyAV decode of
   every frame of the same file in the same run (target ≤ 1.5x). Decode and analyze alternate,
   and the fastest of `--repeats` runs of each is kept, so a busy machine hurts both alike.
   Process CPU seconds are printed too: on a shared machine they are steadier than wall time,
   and `analyze` spreads its work over three threads (decode, optical flow, the rest).
2. Peak resident memory of `analyze` on a 20-minute clip in a fresh process (target < 1 GB),
   read by that process itself (`ru_maxrss`), with its resident memory sampled every 2 minutes
   of video to show that it stays flat.

Run: `.venv/bin/python benchmarks/bench_analyze.py [--skip-long]`. Prints markdown rows.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import date

import av

from media_for_bench import clip_720p, repeat_clip


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def plain_decode(path) -> tuple[float, float]:
    """(wall, CPU) seconds to decode every frame with PyAV's defaults."""
    t0, c0 = time.perf_counter(), cpu_seconds()
    with av.open(str(path)) as c:
        for _ in c.decode(video=0):
            pass
    return time.perf_counter() - t0, cpu_seconds() - c0


def timed_analyze(path) -> tuple[float, float]:
    """(wall, CPU) seconds of `analyze(path)`."""
    from cuescore.analysis import analyze

    t0, c0 = time.perf_counter(), cpu_seconds()
    analyze(path)
    return time.perf_counter() - t0, cpu_seconds() - c0


CHILD = """
import json, resource, sys, time
from cuescore.analysis import analyze

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20

samples = []
def progress(t):
    if t >= 120 * len(samples):
        samples.append((round(t), round(rss_mb())))

t0 = time.perf_counter()
features = analyze(sys.argv[1], progress=progress)
wall = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"peak_mb": peak, "analyze_s": wall, "T": features.T, "rss_mb": samples}))
"""


def peak_memory(path) -> dict:
    """Peak RSS (MB), analyze wall seconds and RSS samples of analyze() in a fresh process."""
    out = subprocess.run([sys.executable, "-c", CHILD, str(path)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--skip-long", action="store_true", help="skip the 20-minute memory run")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    clip = clip_720p(60)
    timed_analyze(clip)  # warm caches and imports
    load_before = os.getloadavg()[0]
    decode, analysis = [], []
    for _ in range(args.repeats):
        decode.append(plain_decode(clip))
        analysis.append(timed_analyze(clip))
    load_after = os.getloadavg()[0]
    d_wall, a_wall = min(w for w, _ in decode), min(w for w, _ in analysis)
    d_cpu, a_cpu = min(c for _, c in decode), min(c for _, c in analysis)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}, date {date.today()}")
    print(f"load average (1 min) {load_before:.1f} before, {load_after:.1f} after; best of {args.repeats}")
    print("| measurement | value |\n|---|---|")
    print(f"| plain PyAV decode, 60 s 720p h264 | {d_wall:.2f} s (CPU {d_cpu:.2f} s) |")
    print(f"| analyze, same clip | {a_wall:.2f} s (CPU {a_cpu:.2f} s) |")
    print(f"| ratio analyze / decode, wall (target ≤ 1.5) | {a_wall / d_wall:.2f} |")
    print(f"| ratio analyze / decode, CPU | {a_cpu / d_cpu:.2f} |")
    if not args.skip_long:
        long_clip = repeat_clip(clip, 20)
        result = peak_memory(long_clip)
        curve = ", ".join(f"{t // 60} min: {mb} MB" for t, mb in result["rss_mb"])
        print(f"| analyze, 20 min 720p: peak RSS (target < 1024 MB) | {result['peak_mb']:.0f} MB |")
        print(f"| analyze, 20 min 720p: RSS during the run | {curve} |")
        print(f"| analyze, 20 min 720p: wall time | {result['analyze_s']:.0f} s |")


if __name__ == "__main__":
    main()
