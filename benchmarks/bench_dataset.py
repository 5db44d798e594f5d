"""`cuescore dataset build` throughput: videos per minute on 1 and 2 local workers and on a local
Ray with 2 workers, and the time MuVi-Sync's 748 videos would take at that rate.

Inputs: N music videos of S seconds, 640x360 at 25 fps (frames of the real clips in
../shared/media, or the demo clip), each with a different stretch of a real recording
(`vibe_ace.ogg`, else a synthetic chord track) as its soundtrack. Each configuration builds a
fresh dataset (note density by the default method). The rate includes starting the workers
(process spawn, Ray start). The estimate scales seconds of video per wall second to 748 videos
of --mean-minutes each (MuVi-Sync's music videos are full songs; 4 min is assumed, not measured).

    python benchmarks/bench_dataset.py [--videos 6] [--seconds 30] [--mean-minutes 4]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from cuescore.data.builder import build_dataset
from cuescore.media import iter_frames, read_audio_track, render_demo_clip
from media_for_bench import CACHE, SHARED_VIDEO, SOURCES

SHARED_AUDIO = SHARED_VIDEO.parent / "audio" / "vibe_ace.ogg"
RATE, FPS, SIZE = 44100, 25, (640, 360)


def _soundtrack(total: float) -> np.ndarray:
    """Mono float32 samples at RATE, at least `total` seconds (the recording looped)."""
    if SHARED_AUDIO.exists():
        audio = read_audio_track(SHARED_AUDIO, RATE, 1).samples[0]
    else:
        t = np.arange(int(RATE * 8)) / RATE
        audio = sum(0.2 * np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0)).astype(np.float32)
    reps = int(np.ceil(total * RATE / len(audio)))
    return np.tile(audio, reps).astype(np.float32)


def make_videos(n: int, seconds: int) -> Path:
    """N music videos in a cached folder (made once)."""
    folder = CACHE / f"dataset_{n}x{seconds}s"
    if folder.is_dir() and len(list(folder.glob("*.mp4"))) == n:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    sources = [SHARED_VIDEO / s for s in SOURCES if (SHARED_VIDEO / s).exists()] or \
        [render_demo_clip(CACHE / "demo.mp4").path]
    frames = [f.image for src in sources for f in iter_frames(src, fps=FPS, size=SIZE)]
    sound = _soundtrack(n * seconds)
    for k in range(n):
        with av.open(str(folder / f"video_{k:03d}.mp4"), "w") as out:
            video = out.add_stream("libx264", rate=FPS)
            video.width, video.height, video.pix_fmt = *SIZE, "yuv420p"
            audio = out.add_stream("aac", rate=RATE, layout="mono")
            for i in range(seconds * FPS):
                vf = av.VideoFrame.from_ndarray(frames[(k * 97 + i) % len(frames)], format="rgb24")
                vf.pts, vf.time_base = i, Fraction(1, FPS)
                out.mux(video.encode(vf))
            samples = sound[k * seconds * RATE : (k + 1) * seconds * RATE]
            for start in range(0, len(samples), 1024):
                af = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[None, start : start + 1024]),
                                                format="fltp", layout="mono")
                af.sample_rate, af.pts = RATE, start
                out.mux(audio.encode(af))
            out.mux(video.encode(None))
            out.mux(audio.encode(None))
    return folder


def run(folder: Path, **options) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one fresh build."""
    root = Path(tempfile.mkdtemp(prefix="bench_ds_"))
    try:
        started, cpu = time.perf_counter(), time.process_time()
        report = build_dataset(folder, root / "ds", progress=False, **options)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        assert report.complete and not report.skipped, report.summary()
        return wall, cpu
    finally:
        shutil.rmtree(root)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=6)
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--mean-minutes", type=float, default=4.0)
    args = ap.parse_args()
    folder = make_videos(args.videos, args.seconds)
    configs = {"1 worker": {"workers": 1}, "2 workers": {"workers": 2}, "Ray, 2 workers": {"workers": 2, "backend": "ray"}}
    try:
        import ray  # noqa: F401
    except ImportError:
        configs.pop("Ray, 2 workers")
        print("ray is not installed: no Ray row")
    print(f"{args.videos} videos x {args.seconds} s, {SIZE[0]}x{SIZE[1]} {FPS} fps; load {os.getloadavg()[0]:.1f}")
    print("| configuration | wall s | videos / min | video s per wall s | 748 videos of "
          f"{args.mean_minutes:g} min |")
    print("|---|---|---|---|---|")
    cpu_per_second = None
    for name, options in configs.items():
        wall, cpu = run(folder, **options)
        cpu_per_second = cpu_per_second or cpu / (args.seconds * args.videos)  # the in-process run: all its work
        rate = args.seconds * args.videos / wall
        hours = 748 * args.mean_minutes * 60 / rate / 3600
        print(f"| {name} | {wall:.1f} | {args.videos / wall * 60:.1f} | {rate:.2f} | {hours:.1f} h |", flush=True)
    ideal = 748 * args.mean_minutes * 60 * cpu_per_second / 3600
    print(f"CPU per second of video (1 worker, all in this process): {cpu_per_second:.3f} s; 748 videos of "
          f"{args.mean_minutes:g} min = {ideal:.1f} CPU hours ({ideal / 2:.1f} h on 2 free cores, "
          f"{ideal / 16:.1f} h on 16)")
    print(f"load after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
