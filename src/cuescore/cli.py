"""The `cuescore` command: a thin layer over the library.

Problems with input or options print one line on stderr and exit 2; internal failures exit 1
(with the traceback under --verbose).
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from pathlib import Path

from cuescore import __version__
from cuescore.controls import add_control_arguments
from cuescore.errors import CuescoreError

log = logging.getLogger("cuescore")


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors are one line and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        raise SystemExit(2)


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
    print(f"{out}/features.json, features.npz: {feats.T} s, {len(feats.cuts)} cuts, {len(feats.beat_times)} visual beats")
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    from cuescore.analysis import VideoFeatures
    from cuescore.controls import Controls
    from cuescore.scoring import score_video

    controls = Controls.from_namespace(args)
    features = VideoFeatures.load(args.features) if args.features else None
    result = score_video(args.video, args.output, controls, features=features, engine=args.engine,
                         progress=args.verbose or sys.stderr.isatty())
    plan = result.plan
    print(f"{result.video_out}: {plan.key.name}, {plan.mean_bpm:.0f} BPM, {len(plan.chords)} chords, "
          f"{len(plan.cuts)} cuts; also {result.midi.name}, {result.wav.name}, {result.json.name} "
          f"({result.timings.get('total', 0):.1f} s)")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    from cuescore.analysis import VideoFeatures
    from cuescore.evaluation import evaluate_plan
    from cuescore.media.probe import check_input_file

    features = VideoFeatures.load(args.features) if args.features else None
    metrics = evaluate_plan(check_input_file(args.target), features)
    print(json.dumps(metrics, indent=2))
    return 0


def _cmd_demo_clip(args: argparse.Namespace) -> int:
    from cuescore.media import render_demo_clip

    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    clip = render_demo_clip(args.output, with_audio=args.with_audio)
    cuts = ", ".join(f"{t:.2f}" for t in clip.cut_times)
    print(f"{clip.path}: {clip.duration:.1f} s, {clip.width}x{clip.height}, cuts at {cuts} s")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="cuescore", description="Music for a video: a soundtrack that follows its mood, motion and cuts.")
    parser.add_argument("--version", action="version", version=f"cuescore {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details; show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("analyze", help="analyse a video into per-second features, cuts and visual beats",
                       description="Analyse VIDEO; write features.json and features.npz into the output folder.")
    p.add_argument("video", help="input video (mp4, mov, mkv, webm, ...)")
    p.add_argument("-o", "--output", help="output folder (default: <video stem>_features)")
    p.add_argument("--encoder", default="handcrafted",
                   help="semantic encoder: 'handcrafted' (no weights) or 'clip:<folder or hub id>' (default: handcrafted)")
    p.add_argument("--fps", type=float, default=None, help="frames per second to analyse (default: every frame)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="device for learned encoders")
    p.set_defaults(func=_cmd_analyze)

    p = sub.add_parser("generate", help="write music for a video and put it on the video",
                       description="Score VIDEO: writes OUT (the video with the new soundtrack; its video stream "
                                   "is copied untouched), OUT.mid, OUT.wav and OUT.json (the plan).")
    p.add_argument("video", help="input video")
    p.add_argument("-o", "--output", help="output video (default: <video stem>_scored.mp4 in the working directory)")
    p.add_argument("--engine", default="affective", help="composition engine (default: affective, needs no weights)")
    p.add_argument("--features", metavar="DIR", help="use features saved by `cuescore analyze` instead of analysing again")
    add_control_arguments(p)
    p.set_defaults(func=_cmd_generate)

    p = sub.add_parser("evaluate", help="measure how a soundtrack follows its video",
                       description="Correspondence metrics of a plan written by `generate` (OUT.json): cuts on beats, "
                                   "cuts on chord changes, emotion correspondence, motion/density and "
                                   "arousal/loudness correlations. Uses OUT.mid and OUT.wav beside it when present.")
    p.add_argument("target", help="a plan JSON written by `cuescore generate`")
    p.add_argument("--features", metavar="DIR", help="features saved by `cuescore analyze` (default: the plan's own)")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("demo-clip", help="render the built-in demo clip (scenes with hard cuts at known frames)",
                       description="Render a 12 s demo video whose scenes differ in colour, brightness and motion.")
    p.add_argument("output", help="output video path, e.g. demo.mp4")
    p.add_argument("--with-audio", action="store_true", help="add a quiet tone as the clip's own audio track")
    p.set_defaults(func=_cmd_demo_clip)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not args.command:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CuescoreError as exc:
        sys.stderr.write(f"cuescore: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("cuescore: interrupted\n")
        return 130
    except Exception as exc:  # noqa: BLE001 - the one place that turns crashes into exit 1
        if args.verbose:
            traceback.print_exc()
        sys.stderr.write(f"cuescore: internal error: {type(exc).__name__}: {exc} (run with --verbose for details)\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
