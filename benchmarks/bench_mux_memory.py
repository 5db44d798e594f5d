"""Peak memory of `mux` alone when the soundtrack must be converted (issue 12): a 44.1 kHz track
put on a VP8 + Opus .webm (resampled to Opus's 48 kHz), with and without the video's own audio
mixed under it (`--original-gain`). A fresh process per case; peak RSS from the kernel.

Run: `.venv/bin/python benchmarks/bench_mux_memory.py [--minutes 2 10]`. Prints markdown rows.
Set CUESCORE_SRC to the `src` folder of another checkout to measure that code instead.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import date
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

CACHE = Path(__file__).resolve().parent / ".cache"

_CHILD = """
import resource, sys
import numpy as np
from cuescore.media import mux, probe
from cuescore.media.track import spooled
video, out, gain = sys.argv[1], sys.argv[2], float(sys.argv[3])
n = int(probe(video).duration * 44100)
noise = np.random.default_rng(0).uniform(-0.3, 0.3, (2, 1 << 16)).astype(np.float32)
music = spooled((noise[:, :min(1 << 16, n - start)] for start in range(0, n, 1 << 16)), 2, 44100)  # as synthesis leaves it
mux(video, music, out, original_gain=gain)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def webm_with_sound(minutes: float) -> Path:
    """A `minutes`-long 64x64 2 fps VP8 video with a 48 kHz stereo Opus tone the whole way."""
    CACHE.mkdir(exist_ok=True)
    out = CACHE / f"tone_{minutes:g}min.webm"
    if out.exists():
        return out
    tmp = out.with_suffix(".part.webm")
    seconds = int(minutes * 60)
    with av.open(str(tmp), "w") as dst:
        video = dst.add_stream("libvpx", rate=2)
        video.width, video.height, video.pix_fmt = 64, 64, "yuv420p"
        sound = dst.add_stream("libopus", rate=48000, layout="stereo")
        tone = (0.2 * np.sin(2 * np.pi * 220 * np.arange(48000) / 48000)).astype(np.float32)
        for s in range(seconds):
            for k in range(2):
                vf = av.VideoFrame.from_ndarray(np.full((64, 64, 3), (s * 7) % 256, np.uint8), format="rgb24")
                vf.pts, vf.time_base = 2 * s + k, Fraction(1, 2)
                dst.mux(video.encode(vf))
            for start in range(0, 48000, 960):
                af = av.AudioFrame.from_ndarray(np.stack([tone[start:start + 960]] * 2), format="fltp", layout="stereo")
                af.sample_rate, af.pts, af.time_base = 48000, s * 48000 + start, Fraction(1, 48000)
                dst.mux(sound.encode(af))
        dst.mux(video.encode(None))
        dst.mux(sound.encode(None))
    tmp.rename(out)
    return out


def peak_rss(video: Path, gain: float, src: str | None) -> tuple[float, float]:
    """(peak RSS in MB of one process muxing a 44.1 kHz track onto `video`, its wall seconds)."""
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src
    out = CACHE / "mux_out.webm"
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _CHILD, str(video), str(out), str(gain)],
                          check=True, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    out.unlink()
    return int(done.stdout.split()[-1]) / 1024.0, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[2, 10])
    args = parser.parse_args()
    src = os.environ.get("CUESCORE_SRC")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {date.today()}, "
          f"load {os.getloadavg()[0]:.1f}, code: {src or 'installed'}")
    print("| .webm output (Opus, resampled from 44.1 kHz) | original gain | peak RSS | wall |\n|---|---|---|---|")
    for minutes in args.minutes:
        video = webm_with_sound(minutes)
        for gain in (0.0, 0.5):
            rss, wall = peak_rss(video, gain, src)
            print(f"| {minutes:g} min | {gain:g} | {rss:.0f} MB | {wall:.1f} s |", flush=True)


if __name__ == "__main__":
    main()
