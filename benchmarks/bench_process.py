"""Whole-process speed as a user sees it (issue 12): `cuescore analyze` and `cuescore generate` run
as fresh processes (imports, start-up and file writing included), against a plain PyAV decode of
every frame of the same file (`thread_type="AUTO"`, also in a fresh process) timed in the same
run, alternating, best of `--repeats`; and the start-up of `cuescore --help` and
`cuescore generate --help` over a bare `python -c pass`.

Inputs: the shared real clip testvideo.mp4 (when ../shared/media is there) and the synthetic
60 s 1280x720 clip of `media_for_bench.clip_720p`.

Run: `.venv/bin/python benchmarks/bench_process.py [--repeats 3]`. Prints markdown rows.
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

from media_for_bench import SHARED_VIDEO, clip_720p

DECODE = ("import av, sys\nwith av.open(sys.argv[1]) as c:\n    s = c.streams.video[0]\n    s.thread_type = 'AUTO'\n"
          "    for _ in c.decode(s):\n        pass")


def timed(args: list[str]) -> float:
    """Wall seconds of one process."""
    t0 = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def best(commands: dict[str, list[str]], repeats: int) -> dict[str, float]:
    """The fastest of `repeats` runs of each command, the commands alternating."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, args in commands.items():
            times[name].append(timed(args))
    return {name: min(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    py = sys.executable
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {date.today()}, "
          f"load {os.getloadavg()[0]:.1f} at start")
    startup = best({"pass": [py, "-c", "pass"], "help": [py, "-m", "cuescore", "--help"],
                    "generate --help": [py, "-m", "cuescore", "generate", "--help"]}, 5)
    print("\n| start-up | seconds | over `python -c pass` |\n|---|---|---|")
    for name in ("help", "generate --help"):
        print(f"| `cuescore {'--help' if name == 'help' else name}` | {startup[name]:.3f} | "
              f"{startup[name] - startup['pass']:.3f} |")
    clips = [p for p in [SHARED_VIDEO / "testvideo.mp4"] if p.exists()] + [clip_720p(60.0)]
    print("\n| clip | plain decode | analyze | × decode | generate | × decode |\n|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for clip in clips:
            t = best({"decode": [py, "-c", DECODE, str(clip)],
                      "analyze": [py, "-m", "cuescore", "analyze", str(clip), "-o", f"{tmp}/features"],
                      "generate": [py, "-m", "cuescore", "generate", str(clip), "-o", f"{tmp}/out.mp4"]},
                     args.repeats)
            print(f"| {clip.name} | {t['decode']:.2f} s | {t['analyze']:.2f} s | {t['analyze'] / t['decode']:.2f} | "
                  f"{t['generate']:.2f} s | {t['generate'] / t['decode']:.2f} |", flush=True)
    print(f"\nload {os.getloadavg()[0]:.1f} at end")


if __name__ == "__main__":
    main()
