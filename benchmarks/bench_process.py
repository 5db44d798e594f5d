"""Whole-process speed as a user sees it (issue 12): `cuescore analyze` and `cuescore generate` run
as fresh processes (imports, start-up and file writing included), against a plain PyAV decode of
every frame of the same file (`thread_type="AUTO"`, also in a fresh process) timed in the same
run, alternating, best of `--repeats`; and the start-up of `cuescore --help` and
`cuescore generate --help` over a bare `python -c pass`.

Each analyze/generate process also reports its in-process time (the `analyze` / `score_video` call
alone, after the imports), so one run gives both. CPU seconds (user + system of the process tree)
are printed beside the wall times: on a shared machine the wall ratio drifts towards the CPU ratio
as the other jobs take the second core.

Inputs: the shared real clips (when ../shared/media is there) and synthetic h264 clips of
`media_for_bench` (720p and 1080p, 60 s; `--long 10` adds both repeated to 10 minutes).
`--src DIR` (repeatable) measures the code in other `src` folders too, alternating with this one,
for before/after tables.

Run: `.venv/bin/python benchmarks/bench_process.py [--repeats 3] [--long 3 10] [--src ../old/src]`.
Prints markdown rows.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from media_for_bench import SHARED_VIDEO, clip_720p, repeat_clip

HERE_SRC = Path(__file__).resolve().parents[1] / "src"
REAL = ("testvideo.mp4", "0102_0011.mp4", "big_buck_bunny_0_30.webm")
DECODE = ("import av, sys\nwith av.open(sys.argv[1]) as c:\n    s = c.streams.video[0]\n    s.thread_type = 'AUTO'\n"
          "    for _ in c.decode(s):\n        pass")
RUN = ("import importlib, sys, time\nfrom cuescore.cli import main\n"
       "importlib.import_module('cuescore.scoring' if sys.argv[1] == 'generate' else 'cuescore.analysis')\n"
       "t0 = time.perf_counter()\ncode = main(sys.argv[1:])\nprint(time.perf_counter() - t0)\nsys.exit(code)")
"""`cuescore ARGS` in one process, printing the seconds of the command alone (the modules it loads
imported first)."""


def timed(args: list[str], src: Path | None = None) -> tuple[float, float, float | None]:
    """(wall s, CPU s of the process tree, in-process s printed by the command or None)."""
    env = dict(os.environ, PYTHONPATH=str(src)) if src else None
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(args, check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    lines = done.stdout.split()
    try:
        inner = float(lines[-1]) if lines else None
    except ValueError:
        inner = None
    return wall, cpu, inner


def best(commands: dict[str, tuple[list[str], Path | None]], repeats: int) -> dict[str, tuple[float, float, float | None]]:
    """The fastest (by wall time) of `repeats` runs of each command, the commands alternating."""
    runs: dict[str, list] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, (args, src) in commands.items():
            runs[name].append(timed(args, src))
    return {name: min(r, key=lambda x: x[0]) for name, r in runs.items()}


def startup(py: str) -> None:
    t = best({"pass": ([py, "-c", "pass"], None), "help": ([py, "-m", "cuescore", "--help"], HERE_SRC),
              "generate --help": ([py, "-m", "cuescore", "generate", "--help"], HERE_SRC)}, 5)
    print("\n| start-up | seconds | over `python -c pass` |\n|---|---|---|")
    for name in ("help", "generate --help"):
        print(f"| `cuescore {'--help' if name == 'help' else name}` | {t[name][0]:.3f} | {t[name][0] - t['pass'][0]:.3f} |")


def clips(long_minutes: list[float], long_only: bool = False) -> list[Path]:
    """The real clips and the 60 s synthetic ones (unless `long_only`), then the long ones (the
    720p and the 1080p clip repeated to each of `long_minutes`)."""
    real = [SHARED_VIDEO / name for name in REAL if (SHARED_VIDEO / name).exists()]
    short = [] if long_only else real + [clip_720p(60.0), clip_720p(60.0, (1920, 1080))]
    sizes = ((1280, 720), (1920, 1080))
    return short + [repeat_clip(clip_720p(60.0, size), int(m)) for m in long_minutes for size in sizes]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--long", type=float, nargs="*", default=[], help="minutes of the long 720p and 1080p clips")
    parser.add_argument("--long-only", action="store_true", help="only the long clips")
    parser.add_argument("--src", type=Path, action="append", default=[], help="another src folder to measure")
    args = parser.parse_args()
    py = sys.executable
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {date.today()}, "
          f"load {os.getloadavg()[0]:.1f} at start")
    if not args.long_only:
        startup(py)
    sources = [("this", HERE_SRC)] + [(str(s), s.resolve()) for s in args.src]
    print("\n| clip | code | decode wall (CPU) | analyze wall (CPU) | × decode wall (CPU) | in-process | × | "
          "generate wall (CPU) | × decode wall (CPU) | in-process | × | load |\n|" + "---|" * 12)
    with tempfile.TemporaryDirectory() as tmp:
        for clip in clips(args.long, args.long_only):
            commands = {"decode": ([py, "-c", DECODE, str(clip)], None)}
            for label, src in sources:
                commands[f"analyze {label}"] = ([py, "-c", RUN, "analyze", str(clip), "-o", f"{tmp}/features"], src)
                commands[f"generate {label}"] = ([py, "-c", RUN, "generate", str(clip), "-o", f"{tmp}/out{clip.suffix if clip.suffix == '.mp4' else '.mkv'}"], src)
            t = best(commands, args.repeats)
            dw, dc, _ = t["decode"]
            for label, _ in sources:
                (aw, ac, ai), (gw, gc, gi) = t[f"analyze {label}"], t[f"generate {label}"]
                print(f"| {clip.name} | {label} | {dw:.2f} s ({dc:.2f}) | {aw:.2f} s ({ac:.2f}) | {aw / dw:.2f} ({ac / dc:.2f}) | "
                      f"{ai:.2f} s | {ai / dw:.2f} | {gw:.2f} s ({gc:.2f}) | {gw / dw:.2f} ({gc / dc:.2f}) | {gi:.2f} s | "
                      f"{gi / dw:.2f} | {os.getloadavg()[0]:.1f} |", flush=True)
    print(f"\nload {os.getloadavg()[0]:.1f} at end")


if __name__ == "__main__":
    main()
