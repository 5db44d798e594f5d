"""`cuescore analyze`, `generate` and `demo-clip`: video in, features or a scored video out."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cuescore.cli.batch import add_batch_arguments, generate_batch, is_batch
from cuescore.cli.regenerate import add_generate_arguments, run_generate
from cuescore.controls import add_control_arguments
from cuescore.engines.catalog import add_engine_arguments
from cuescore.errors import CuescoreError, OptionError


def _cmd_analyze(args: argparse.Namespace) -> int:
    from cuescore.analysis import analyze
    from cuescore.fileio import ensure_writable_dir
    from cuescore.media import probe

    out = Path(args.output or f"{Path(args.video).stem}_features")
    info = probe(args.video)
    if out.exists() and not out.is_dir():
        raise CuescoreError(f"output {out} exists and is not a folder; choose another path")
    feats = analyze(args.video, encoder=args.encoder, fps=args.fps, device=args.device, progress=True, info=info)
    ensure_writable_dir(out)
    feats.save(out)
    print(f"{out}/features.json, features.npz: {feats.T} s, {len(feats.cuts)} cuts, {len(feats.beat_times)} visual beats, "
          f"{len(feats.regions)} shots with key-frame regions")
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    from cuescore.analysis import VideoFeatures
    from cuescore.controls import Controls
    from cuescore.scoring import score_video

    from cuescore.engines.catalog import engine_options_from_namespace

    if is_batch(args):
        return generate_batch(args)
    args.video = args.video[0]  # one video from here on
    if run_generate(args):  # --from-plan or --candidates
        return 0
    controls = Controls.from_namespace(args)
    options = engine_options_from_namespace(args)
    features = VideoFeatures.load(args.features) if args.features else None
    result = score_video(args.video, args.output, controls, features=features, engine=args.engine,
                         engine_options=options, progress=args.verbose or sys.stderr.isatty(), stems=args.stems)
    print(result.summary())
    return 0


def _cmd_demo_clip(args: argparse.Namespace) -> int:
    from cuescore.fileio import ensure_writable_dir
    from cuescore.media import render_demo_clip

    if Path(args.output).suffix.lower() not in (".mp4", ".mkv", ".mov"):
        raise OptionError(f"{args.output}: the demo clip is h264; name it .mp4, .mkv or .mov")
    ensure_writable_dir(Path(args.output).parent)
    clip = render_demo_clip(args.output, with_audio=args.with_audio)
    cuts = ", ".join(f"{t:.2f}" for t in clip.cut_times)
    print(f"{clip.path}: {clip.duration:.1f} s, {clip.width}x{clip.height}, cuts at {cuts} s")
    return 0


def _add_analyze(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="analyse a video into per-second features, cuts and visual beats",
                       description="Analyse VIDEO; write features.json and features.npz into the output folder.")
    p.add_argument("video", help="input video (mp4, mov, mkv, webm, ...)")
    p.add_argument("-o", "--output", help="output folder (default: <video stem>_features)")
    p.add_argument("--encoder", default="handcrafted",
                   help="semantic encoder: 'handcrafted' (no weights) or 'clip:<folder or hub id>' (default: handcrafted)")
    p.add_argument("--fps", type=float, default=None, help="frames per second to analyse (default: every frame)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="device for learned encoders")
    p.set_defaults(func=_cmd_analyze)


def _add_generate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="write music for a video and put it on the video",
                       description="Score VIDEO: writes OUT (the video with the new soundtrack; its video stream "
                                   "is copied untouched), OUT.mid, OUT.wav and OUT.json (the plan).")
    p.add_argument("video", nargs="+", help="input video (several, folders or .txt lists with --out-dir)")
    p.add_argument("-o", "--output", help="output video (default: <video stem>_scored.mp4 in the working directory)")
    p.add_argument("--features", metavar="DIR", help="use features saved by `cuescore analyze` instead of analysing again")
    add_engine_arguments(p)
    add_control_arguments(p)
    add_generate_arguments(p)
    add_batch_arguments(p)
    p.set_defaults(func=_cmd_generate)


def _add_demo_clip(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo-clip", help="render the built-in demo clip (scenes with hard cuts at known frames)",
                       description="Render a 12 s demo video whose scenes differ in colour, brightness and motion.")
    p.add_argument("output", help="output video path, e.g. demo.mp4")
    p.add_argument("--with-audio", action="store_true", help="add a quiet tone as the clip's own audio track")
    p.set_defaults(func=_cmd_demo_clip)


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register analyze, generate and demo-clip."""
    _add_analyze(sub)
    _add_generate(sub)
    _add_demo_clip(sub)
