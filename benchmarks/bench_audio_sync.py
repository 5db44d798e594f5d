"""Cut-on-beat measured from the audio (issue 15): the shared real clips scored by each engine, then
beat-tracked (`evaluation.audio_sync`).

    python benchmarks/bench_audio_sync.py [--engines affective,codec,guided] [--music-model M]
                                          [--melody-model M] [--device auto]

For every clip in ../shared/media/video: analyse once, score it with each engine (same features,
seed 0), and report the plan's cut_on_beat (where the plan put its beats) beside audio_cut_on_beat
(where librosa hears them; 70 ms), the heard tempo against the plan's, and the plan chords' share
of the audio's chroma. Clips that have their own soundtrack are measured as they are too ("original").
The pooled row counts every cut of every clip. Chance: a cut at a random time lands within 70 ms
of a beat train at the heard tempo with probability 0.14 s × BPM / 60.

Without --music-model / --melody-model the codec and guided engines run tiny RANDOM models (the test
fixtures: 8 kHz EnCodec, 2 layers): their numbers show the path runs, not what trained weights do.
Prints markdown table rows.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from cuescore import Controls, score_video  # noqa: E402
from cuescore.analysis import analyze  # noqa: E402
from cuescore.evaluation.audio_sync import AUDIO_BEAT_TOLERANCE, evaluate_audio, evaluate_scored_video  # noqa: E402
from cuescore.media import probe  # noqa: E402

SHARED_VIDEO = Path(__file__).resolve().parents[2] / "shared" / "media" / "video"
CLIPS = ("testvideo.mp4", "goldeneye-vfr-drop3.mp4", "big_buck_bunny_0_30.webm", "0102_0011.mp4",
         "demo_test_video_structuralize.mp4")


def engine_options(engine: str, args: argparse.Namespace, cache: Path) -> dict:
    """The options of `engine`: the given weights, else a tiny random model saved under `cache`."""
    from musicgen_fixtures import make_tiny_musicgen, make_tiny_musicgen_melody

    if engine == "codec":
        model = args.music_model or str(cache / "tiny-musicgen")
        if not args.music_model and not Path(model).is_dir():
            make_tiny_musicgen(Path(model))
        return {"music_model": model, "device": args.device}
    if engine == "guided":
        model = args.melody_model or str(cache / "tiny-musicgen-melody")
        if not args.melody_model and not Path(model).is_dir():
            make_tiny_musicgen_melody(Path(model))
        return {"music_model": model, "device": args.device}
    return {}


def _fmt(value, digits: int = 2) -> str:
    return "–" if value is None else (f"{value:.{digits}f}" if isinstance(value, float) else str(value))


def row(clip: str, engine: str, m: dict, seconds: float) -> str:
    tempo, chords = m.get("tempo_agreement"), m.get("chord_agreement")
    chance = min(1.0, 2 * AUDIO_BEAT_TOLERANCE * m["audio_tempo_bpm"] / 60.0)
    share = None if not chords or chords["chord_tone_share"] is None else \
        f"{chords['chord_tone_share']:.2f} ({chords['chance']:.2f})"
    return (f"| {clip} | {engine} | {m['hard_cuts']} | {_fmt(m.get('cut_on_beat'))} | "
            f"{_fmt(m['audio_cut_on_beat'])} | {m['cuts_judged_by_onset']} | {chance:.2f} | "
            f"{m['audio_tempo_bpm']:.1f} | {_fmt(tempo and tempo['plan_tempo_bpm'], 1)} | "
            f"{_fmt(tempo and tempo['acc2'])} | {_fmt(share)} | {seconds:.1f} |")


def _pool(pooled: dict, engine: str, m: dict) -> None:
    hits, cuts = pooled.setdefault(engine, [0.0, 0])
    pooled[engine] = [hits + (m["audio_cut_on_beat"] or 0.0) * m["hard_cuts"], cuts + m["hard_cuts"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="affective,codec,guided")
    parser.add_argument("--music-model", help="MusicGen for the codec engine (default: a tiny random one)")
    parser.add_argument("--melody-model", help="MusicGen-melody for the guided engine (default: a tiny random one)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}, "
          f"cuda: {torch.cuda.is_available()}")
    print("| clip | engine | cuts | plan cut_on_beat | audio_cut_on_beat | by onset | chance | heard BPM | "
          "plan BPM | tempo acc2 | chord-tone share (chance) | s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    pooled: dict[str, list[float]] = {}  # engine -> [cuts on a heard beat, cuts]
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        for clip in CLIPS:
            path = SHARED_VIDEO / clip
            if not path.exists():
                continue
            features = analyze(path)
            cuts = features.hard_cuts
            if probe(path).has_audio:
                m = evaluate_audio(path, cuts)
                print(row(clip, "original", m, 0.0))
                _pool(pooled, "original", m)
            for engine in args.engines.split(","):
                out = cache / f"{Path(clip).stem}_{engine}.mkv"  # holds every codec (VP8 too)
                started = time.perf_counter()
                score_video(path, out, Controls(seed=0), features=features, engine=engine,
                            engine_options=engine_options(engine, args, cache))
                seconds = time.perf_counter() - started
                m = evaluate_scored_video(out)
                print(row(clip, engine, m, seconds), flush=True)
                _pool(pooled, engine, m)
    for engine, (hits, cuts) in pooled.items():
        print(f"pooled {engine}: {hits:.0f} of {cuts} cuts on a heard beat ({hits / max(cuts, 1):.0%})")


if __name__ == "__main__":
    main()
