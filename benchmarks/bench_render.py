"""Speed of rendering 60 s of music: SoundFont synthesis and mastering, per instrument preset.

The plans are those the default ("affective") engine writes for the 60 s 1280x720 benchmark clip
(`media_for_bench.clip_720p`), once per instrument preset; the clip's features are analysed once
and cached in benchmarks/.cache. For each preset: synthesis in-process (`workers=1`) and with the
default worker processes, and mastering (reverb, compression, limiter to -14 LUFS / -1 dBTP), as
the best wall time of `--repeats` runs and the CPU time of this process (on a shared machine the
CPU time is the steadier number; worker processes' CPU is not in it). Then the mastering's parts.

Run: `.venv/bin/python benchmarks/bench_render.py [--repeats 5]`. Prints markdown rows.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

from media_for_bench import CACHE, clip_720p


def best(fn, repeats: int):
    """(result, best wall seconds, best CPU seconds of this process)."""
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return out, min(walls), min(cpus)


def features_60s():
    from cuescore.analysis import VideoFeatures, analyze

    folder = CACHE / "features_720p_60s"
    if (folder / "features.json").exists():
        return VideoFeatures.load(folder)
    features = analyze(clip_720p(60))
    features.save(folder)
    return features


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    from pedalboard import Compressor, Pedalboard, Reverb

    from cuescore.controls import INSTRUMENT_PRESETS, Controls
    from cuescore.engines import get_engine
    from cuescore.music.arrange import arrange
    from cuescore.render import master, synthesize
    from cuescore.render.limiter import PeakMap, limit
    from cuescore.render.meter import hop_energy, true_peak

    plan = get_engine("affective", Controls()).compose(features_60s()).plan
    load = os.getloadavg()
    print(f"machine: {platform.processor() or platform.machine()}, {platform.system()}, {os.cpu_count()} CPUs, "
          f"date {date.today()}, load average {load[0]:.1f}")
    print(f"plan: {plan.duration:.0f} s, {plan.mean_bpm:.0f} BPM, engine preset {plan.instruments}; "
          f"best of {args.repeats} runs\n")
    print("| preset | notes | synthesis, 1 process (CPU) | synthesis, default workers | mastering (CPU) |")
    print("|---|---|---|---|---|")
    synthesize(arrange(plan, 0))  # warm-up: SoundFont headers, imports
    dry = None
    for name, instruments in INSTRUMENT_PRESETS.items():
        score = arrange(dataclasses.replace(plan, instruments=dict(instruments)), 0)
        audio, serial, serial_cpu = best(lambda: synthesize(score, workers=1), args.repeats)
        _, parallel, _ = best(lambda: synthesize(score), args.repeats)
        _, mastered, master_cpu = best(lambda: master(audio), args.repeats)
        notes = sum(len(t.notes) for t in score.tracks)
        print(f"| {name} | {notes} | {serial:.2f} s ({serial_cpu:.2f}) | {parallel:.2f} s "
              f"| {mastered:.2f} s ({master_cpu:.2f}) |")
        if dry is None or name == "orchestral":
            dry = audio

    x, sr = dry.samples, dry.sample_rate
    energy = hop_energy(x, sr)
    reverb = Pedalboard([Reverb(room_size=0.5, damping=0.45, wet_level=0.25, dry_level=0.925, width=0.9)])
    compressor = Pedalboard([Compressor(threshold_db=-20.0, ratio=2.0, attack_ms=25.0, release_ms=250.0)])
    gain = -14.0 - energy.loudness() + 3.0  # 3 dB hotter than the target: the limiter has work
    parts = [
        ("K-weighted hop energies (one loudness measurement)", lambda: hop_energy(x, sr)),
        ("reverb (pedalboard)", lambda: reverb(x, sr)),
        ("compressor (pedalboard)", lambda: compressor(x, sr)),
        ("true-peak limiter, 3 dB over", lambda: limit(PeakMap(x), sr, gain, 10 ** (-1 / 20), energy.bounds)),
        ("true peak of the whole track (4× oversampled)", lambda: true_peak(x)),
    ]
    print("\n| mastering part (orchestral, 60 s stereo) | wall | CPU |\n|---|---|---|")
    for label, fn in parts:
        _, wall, cpu = best(fn, args.repeats)
        print(f"| {label} | {wall * 1000:.0f} ms | {cpu * 1000:.0f} ms |")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    np.seterr(all="ignore")
    main()
