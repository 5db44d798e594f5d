"""`cuescore evaluate`: correspondence metrics of a scored result, or of trained AMT checkpoints."""

from __future__ import annotations

import argparse

from cuescore.errors import OptionError


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    amt_options = {"--data": args.data, "--checkpoint": args.checkpoint, "--split": args.split,
                   "--baseline": args.baseline, "--regression": args.regression, "--device": args.device}
    if args.target == "amt":
        return _cmd_evaluate_amt(args)
    given = [name for name, value in amt_options.items() if value is not None]
    if given:
        raise OptionError(f"{given[0]} applies to `cuescore evaluate amt` only, not to a plan JSON")
    if not args.target.lower().endswith(".json"):
        return _cmd_evaluate_audio(args)
    if args.video or args.plan:
        raise OptionError(f"{'--video' if args.video else '--plan'} applies to an audio or video target, not to a "
                          "plan JSON")
    from cuescore.analysis import VideoFeatures
    from cuescore.evaluation import evaluate_plan
    from cuescore.media.probe import check_input_file

    features = VideoFeatures.load(args.features) if args.features else None
    metrics = evaluate_plan(check_input_file(args.target), features)
    print(json.dumps(metrics, indent=2))
    return 0


def _cmd_evaluate_audio(args: argparse.Namespace) -> int:
    """`cuescore evaluate OUT.mp4` or `cuescore evaluate AUDIO --video VIDEO [--plan PLAN.json]`."""
    import json

    if args.features:
        raise OptionError("--features applies to a plan JSON, not to an audio or video target")
    from cuescore.evaluation.audio_sync import evaluate_audio_for_video, evaluate_scored_video
    from cuescore.media.probe import check_input_file

    target = check_input_file(args.target)
    if args.video is None:
        if args.plan:
            raise OptionError("--plan needs --video VIDEO (a scored video's own OUT.json is read beside it)")
        metrics = evaluate_scored_video(target)
    else:
        plan = check_input_file(args.plan) if args.plan else None
        metrics = evaluate_audio_for_video(target, check_input_file(args.video), plan)
    print(json.dumps(metrics, indent=2))
    return 0


def _cmd_evaluate_amt(args: argparse.Namespace) -> int:
    import json

    if args.features:
        raise OptionError("--features applies to a plan JSON, not to `cuescore evaluate amt`")
    if not args.data or not args.checkpoint:
        raise OptionError("`cuescore evaluate amt` needs --data MUVISYNC_ROOT and --checkpoint DIR")
    from cuescore.evaluation.amt_metrics import evaluate_checkpoints

    result = evaluate_checkpoints(args.data, args.checkpoint, args.split or "test", baseline=args.baseline,
                                  regression=args.regression, device=args.device or "auto")
    print(json.dumps(result, indent=2))
    return 0


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="measure how a soundtrack follows its video",
                       description="Correspondence metrics of a plan written by `generate` (OUT.json): cuts on beats, "
                                   "cuts on chord changes, emotion correspondence, motion/density and "
                                   "arousal/loudness correlations. Uses OUT.mid and OUT.wav beside it when present. "
                                   "`cuescore evaluate OUT.mp4` or `cuescore evaluate AUDIO --video VIDEO [--plan "
                                   "PLAN.json]` beat-track the sound itself: audio_cut_on_beat (cuts within 70 ms of "
                                   "a heard beat), audio_tempo_bpm, and with a plan its tempo and chord agreement. "
                                   "`cuescore evaluate amt --data ROOT --checkpoint CKPT_DIR` instead scores trained "
                                   "models on a MuVi-Sync split (JSON on stdout).")
    p.add_argument("target", help="a plan JSON written by `cuescore generate`; a scored video (OUT.mp4, its OUT.json "
                                  "read when beside it) or any audio file with --video, whose sound is beat-tracked; "
                                  "or `amt` to score trained checkpoints on a MuVi-Sync split (Hits@1/3/5, emotion "
                                  "correspondence, RMSE)")
    p.add_argument("--features", metavar="DIR", help="features saved by `cuescore analyze` (default: the plan's own)")
    a = p.add_argument_group("evaluate audio (JSON on stdout): audio_cut_on_beat, audio_tempo_bpm, tempo and chord "
                             "agreement with a plan")
    a.add_argument("--video", metavar="VIDEO", help="the video whose hard cuts the audio TARGET is measured against")
    a.add_argument("--plan", metavar="PLAN.json", help="a plan JSON to compare the audio's tempo and chroma with")
    g = p.add_argument_group("evaluate amt (JSON on stdout)")
    g.add_argument("--data", metavar="ROOT", help="MuVi-Sync dataset folder")
    g.add_argument("--checkpoint", metavar="DIR", help="AMT checkpoint folder written by `cuescore train amt`")
    g.add_argument("--split", choices=("train", "val", "test"), help="split to score (default: test)")
    g.add_argument("--baseline", metavar="DIR", help="also score this no-video baseline (`cuescore train baseline`)")
    g.add_argument("--regression", metavar="DIR",
                   help="also score this density/loudness regressor (default: CHECKPOINT/regression when present)")
    g.add_argument("--device", choices=("auto", "cpu", "cuda"), help="device to run the models on (default: auto)")
    p.set_defaults(func=_cmd_evaluate)


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register evaluate."""
    _add_evaluate(sub)
