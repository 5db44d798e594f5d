"""The `cuescore` command: a thin layer over the library.

Problems with input or options print one line on stderr and exit 2; internal failures exit 1
(with the traceback under --verbose).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
import warnings
from pathlib import Path

from cuescore import __version__
from cuescore.controls import add_control_arguments
from cuescore.engines.catalog import add_engine_arguments
from cuescore.errors import CuescoreError, OptionError


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

    from cuescore.engines.catalog import engine_options_from_namespace

    controls = Controls.from_namespace(args)
    options = engine_options_from_namespace(args)
    features = VideoFeatures.load(args.features) if args.features else None
    result = score_video(args.video, args.output, controls, features=features, engine=args.engine,
                         engine_options=options, progress=args.verbose or sys.stderr.isatty())
    print(result.summary())
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    amt_options = {"--data": args.data, "--checkpoint": args.checkpoint, "--split": args.split,
                   "--baseline": args.baseline, "--regression": args.regression, "--device": args.device}
    if args.target == "amt":
        return _cmd_evaluate_amt(args)
    given = [name for name, value in amt_options.items() if value is not None]
    if given:
        raise OptionError(f"{given[0]} applies to `cuescore evaluate amt` only, not to a plan JSON")
    from cuescore.analysis import VideoFeatures
    from cuescore.evaluation import evaluate_plan
    from cuescore.media.probe import check_input_file

    features = VideoFeatures.load(args.features) if args.features else None
    metrics = evaluate_plan(check_input_file(args.target), features)
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


def _cmd_train(args: argparse.Namespace) -> int:
    if args.model == "codec":
        return _cmd_train_codec(args)
    codec_only = [name for name, value in (("--pairs", args.pairs), ("--music-model", args.music_model),
                                           ("--encoder", args.codec_encoder)) if value is not None]
    if codec_only:
        raise OptionError(f"{codec_only[0]} applies to `cuescore train codec`, not to `cuescore train {args.model}`")
    if args.data is None:
        raise OptionError(f"`cuescore train {args.model}` needs --data ROOT (a MuVi-Sync folder)")
    from cuescore.training.loop import train_amt, train_regression

    options = dict(epochs=args.epochs, batch_size=args.batch_size, resume=args.resume, model_size=args.size,
                   device=args.device, semantic=args.semantic, emotion=args.emotion, max_len=args.max_len,
                   precision=args.precision, seed=args.seed, progress=sys.stderr.isatty(),
                   **({"lr": args.lr} if args.lr is not None else {}))
    if args.model == "regression":
        if args.no_rpr or args.warmup_steps is not None:
            raise OptionError("--no-rpr and --warmup-steps apply to the amt and baseline models, not to the regressor")
        summary = train_regression(args.data, args.output, **options)
    else:
        summary = train_amt(args.data, args.output, rpr=not args.no_rpr, video=args.model == "amt",
                            **({"warmup_steps": args.warmup_steps} if args.warmup_steps is not None else {}), **options)
    if os.environ.get("RANK", "0") == "0":
        print(f"{summary['out_dir']}: {summary['kind']} trained to epoch {summary['epochs']} "
              f"({summary['steps']} steps); best epoch {summary['best_epoch']}, "
              f"validation loss {summary['best_val_loss']:.4f}")
    return 0


def _cmd_train_codec(args: argparse.Namespace) -> int:
    from cuescore.training.codec import train_codec

    amt_only = {"--data": args.data, "--no-rpr": args.no_rpr or None, "--warmup-steps": args.warmup_steps}
    given = [name for name, value in amt_only.items() if value is not None]
    if given:
        raise OptionError(f"{given[0]} applies to the amt models, not to `cuescore train codec`")
    missing = [name for name, value in (("--pairs", args.pairs), ("--music-model", args.music_model),
                                        ("--encoder", args.codec_encoder)) if value is None]
    if missing:
        raise OptionError(f"`cuescore train codec` needs {', '.join(missing)}")
    summary = train_codec(args.pairs, args.output, music_model=args.music_model, encoder=args.codec_encoder,
                          conditioner=args.conditioner, epochs=args.epochs, freeze=args.freeze,
                          batch_size=args.batch_size, precision=args.precision, resume=args.resume,
                          lr=args.lr if args.lr is not None else 1e-4, window=args.window, device=args.device,
                          seed=args.seed, progress=sys.stderr.isatty())
    if os.environ.get("RANK", "0") == "0":
        last = summary["history"][-1]["train_loss"] if summary["history"] else float("nan")
        print(f"{summary['out_dir']}: codec ({summary['conditioner']} conditioner) trained to epoch "
              f"{summary['epochs']} ({summary['steps']} steps); last train loss {last:.4f}")
    return 0


def _add_train_codec(p: argparse.ArgumentParser) -> None:
    """The options of `cuescore train codec` (the shared ones, --epochs ... --seed, are the train command's)."""
    g = p.add_argument_group("train codec (videos with their own soundtrack -> a codec checkpoint)")
    g.add_argument("--pairs", metavar="DIR", help="folder of videos with their own soundtrack (e.g. music videos)")
    g.add_argument("--music-model", metavar="M", help="MusicGen: a hub id in the local cache or a folder")
    g.add_argument("--encoder", dest="codec_encoder", metavar="clip:E",
                   help="the CLIP whose features condition the music: clip:<folder or hub id>")
    g.add_argument("--conditioner", choices=("vidmuse", "thesis"), default="vidmuse",
                   help="vidmuse: VidMuse's long-short-term module over CLIP patch tokens; thesis: a transformer "
                        "over per-second CLIP embeddings into the text encoder's place (default: vidmuse)")
    g.add_argument("--freeze", choices=("lm", "none"), default="lm",
                   help="lm: train the conditioner only; none: also MusicGen's decoder (default: lm)")
    g.add_argument("--window", type=float, default=30.0, metavar="SECONDS",
                   help="seconds per training window, the decoder's window (default: 30, as VidMuse)")


def _cmd_dataset_build(args: argparse.Namespace) -> int:
    from cuescore.data.builder import build_dataset

    report = build_dataset(args.videos, args.output, encoder=args.encoder, device=args.device, seed=args.seed,
                           split=tuple(args.split), density=args.density, ids=args.ids, progress=True)
    print(report.summary())
    if not report.written:
        raise CuescoreError(f"no video was added to {args.output}: every input was skipped (reasons above)")
    return 0


def _cmd_convert_video2music(args: argparse.Namespace) -> int:
    from cuescore.convert.video2music import convert_video2music

    print(convert_video2music(args.amt, args.output, args.regression).summary())
    return 0


def _cmd_convert_vidmuse(args: argparse.Namespace) -> int:
    from cuescore.convert.vidmuse import DEFAULT_MUSIC_MODEL, LICENCE, convert_vidmuse

    music_model = args.music_model or DEFAULT_MUSIC_MODEL
    done = convert_vidmuse(args.state_dict, args.output, music_model=music_model)
    lm, visual = done.decoder, done.conditioner
    print(f"{done.output}: VidMuse; language model {lm['num_hidden_layers']} layers, width {lm['hidden_size']}, "
          f"{lm['num_attention_heads']} heads, {lm['num_codebooks']} codebooks of {lm['vocab_size']}; CLIP tokens "
          f"{visual.patches} x {visual.width} per frame; EnCodec from {music_model}")
    print(f"  licence of these weights: {LICENCE} (non-commercial use only)")
    if done.unused:
        print(f"  not used (as in VidMuse's own forward pass): {', '.join(done.unused)}")
    print(f"  next: cuescore generate VIDEO --engine codec --checkpoint {done.output}")
    return 0


def _add_convert_vidmuse(sources: argparse._SubParsersAction) -> None:
    """`cuescore convert vidmuse STATE_DICT -o CKPT`."""
    v = sources.add_parser("vidmuse", help="VidMuse's released state_dict.bin -> a codec checkpoint",
                           description="Read VidMuse's checkpoint ({'best_state', 'xp.cfg'}, audiocraft naming) "
                                       "safely (no code in it runs), map its language model onto MusicGen's decoder "
                                       "and its visual modules onto the vidmuse conditioner, and write CKPT "
                                       "(config.json + model.safetensors). The weights are CC-BY-NC. Use it with "
                                       "`cuescore generate VIDEO --engine codec --checkpoint CKPT`.")
    v.add_argument("state_dict", metavar="STATE_DICT", help="VidMuse's state_dict.bin (huggingface.co/Zeyue7/VidMuse)")
    v.add_argument("-o", "--output", required=True, metavar="CKPT", help="checkpoint folder to write")
    v.add_argument("--music-model", metavar="M",
                   help="the MusicGen whose EnCodec goes with it, recorded in CKPT: a hub id or folder "
                        "(default: facebook/musicgen-medium, the model VidMuse was trained on)")
    v.set_defaults(func=_cmd_convert_vidmuse)


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


def _add_convert_parser(sub: argparse._SubParsersAction) -> None:
    """`cuescore convert SOURCE ...`: import published checkpoints, one subcommand per source system."""
    p = sub.add_parser("convert", help="import published checkpoints (Video2Music, VidMuse) as cuescore checkpoints",
                       description="Turn another system's released weights into a cuescore checkpoint folder.")
    sources = p.add_subparsers(dest="convert_source", metavar="SOURCE", parser_class=_Parser, required=True)
    v = sources.add_parser("video2music", help="Video2Music's AMT (and regressor) weights -> an amt checkpoint",
                           description="Read Video2Music's released state dicts safely (no code in them runs), "
                                       "map and check every key, and write CKPT (config.json + model.safetensors; "
                                       "the regressor in CKPT/regression). Use it with "
                                       "`cuescore generate VIDEO --engine amt --checkpoint CKPT`; its video rows "
                                       "need CLIP ViT-L/14@336 semantic features.")
    v.add_argument("--amt", required=True, metavar="FILE",
                   help="the AMT weights (best_loss_weights.pickle, from torch.save(model.state_dict()))")
    v.add_argument("--regression", metavar="FILE",
                   help="the density/loudness regressor weights (best_rmse_weights.pickle; its bi-GRU is used)")
    v.add_argument("-o", "--output", required=True, metavar="CKPT", help="checkpoint folder to write (new or empty)")
    v.set_defaults(func=_cmd_convert_video2music)
    _add_convert_vidmuse(sources)


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
    p.add_argument("video", help="input video")
    p.add_argument("-o", "--output", help="output video (default: <video stem>_scored.mp4 in the working directory)")
    p.add_argument("--features", metavar="DIR", help="use features saved by `cuescore analyze` instead of analysing again")
    add_engine_arguments(p)
    add_control_arguments(p)
    p.set_defaults(func=_cmd_generate)


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="measure how a soundtrack follows its video",
                       description="Correspondence metrics of a plan written by `generate` (OUT.json): cuts on beats, "
                                   "cuts on chord changes, emotion correspondence, motion/density and "
                                   "arousal/loudness correlations. Uses OUT.mid and OUT.wav beside it when present. "
                                   "`cuescore evaluate amt --data ROOT --checkpoint CKPT_DIR` instead scores trained "
                                   "models on a MuVi-Sync split (JSON on stdout).")
    p.add_argument("target", help="a plan JSON written by `cuescore generate`, or `amt` to score trained "
                                  "checkpoints on a MuVi-Sync split (Hits@1/3/5, emotion correspondence, RMSE)")
    p.add_argument("--features", metavar="DIR", help="features saved by `cuescore analyze` (default: the plan's own)")
    g = p.add_argument_group("evaluate amt (JSON on stdout)")
    g.add_argument("--data", metavar="ROOT", help="MuVi-Sync dataset folder")
    g.add_argument("--checkpoint", metavar="DIR", help="AMT checkpoint folder written by `cuescore train amt`")
    g.add_argument("--split", choices=("train", "val", "test"), help="split to score (default: test)")
    g.add_argument("--baseline", metavar="DIR", help="also score this no-video baseline (`cuescore train baseline`)")
    g.add_argument("--regression", metavar="DIR",
                   help="also score this density/loudness regressor (default: CHECKPOINT/regression when present)")
    g.add_argument("--device", choices=("auto", "cpu", "cuda"), help="device to run the models on (default: auto)")
    p.set_defaults(func=_cmd_evaluate)


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train the AMT, its no-video baseline or the density/loudness regressor",
                       description="Train on a MuVi-Sync folder (vevo_chord, vevo_semantic, ... and "
                                   "vevo_meta/split/v1/{train,val}.txt). CKPT_DIR receives the best checkpoint "
                                   "(config.json + model.safetensors), last/ (for --resume) and metrics.jsonl. "
                                   "Put the regressor in CKPT_DIR/regression, where the amt engine finds it. "
                                   "Several GPUs: torchrun --nproc-per-node N -m cuescore train amt ... "
                                   "(each process takes --batch-size sequences per step).")
    p.add_argument("model", choices=("amt", "regression", "baseline", "codec"),
                   help="amt: the Affective Multimodal Transformer; regression: the bi-GRU for note density and "
                        "loudness; baseline: the Music Transformer without video; codec: a video conditioner for "
                        "MusicGen (options below)")
    p.add_argument("--data", metavar="ROOT", help="MuVi-Sync dataset folder (amt, regression, baseline)")
    p.add_argument("-o", "--output", required=True, metavar="CKPT_DIR", help="checkpoint folder to write")
    p.add_argument("--epochs", type=int, default=20, metavar="N", help="epochs to train up to (default: 20)")
    p.add_argument("--batch-size", type=int, default=8, metavar="N", help="sequences per step and process (default: 8)")
    p.add_argument("--resume", action="store_true", help="continue the run saved in CKPT_DIR/last")
    p.add_argument("--size", choices=("paper", "small", "debug"), default="paper",
                   help="model size; paper = Video2Music's (default: paper)")
    p.add_argument("--no-rpr", action="store_true", help="absolute positions only (no relative attention)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="auto = this process's GPU if there is one (default: auto)")
    p.add_argument("--semantic", default="clip_l14p", metavar="FOLDER",
                   help="vevo_semantic/all/2d/FOLDER holds the semantic features (default: clip_l14p)")
    p.add_argument("--emotion", default="6c_l14p", metavar="VARIANT",
                   help="vevo_emotion/VARIANT holds the emotion features (default: 6c_l14p)")
    p.add_argument("--max-len", type=int, default=300, metavar="SECONDS",
                   help="seconds per training sequence (default: 300)")
    p.add_argument("--lr", type=float, default=None,
                   help="peak learning rate (default: Video2Music's schedule; 1e-3 for the regressor)")
    p.add_argument("--warmup-steps", type=int, default=None, metavar="N",
                   help="amt, baseline: steps of learning-rate warm-up (default: 4000, as Video2Music)")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="auto",
                   help="auto = bf16 on GPUs that have it, fp32 on CPU (default: auto)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default: 0)")
    _add_train_codec(p)  # codec-model: `train codec` options; the integrator moves this into _add_train
    p.set_defaults(func=_cmd_train)


def _add_dataset(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dataset", help="build training data (MuVi-Sync layout) from music videos",
                       description="Training data for the learned engines.")
    actions = p.add_subparsers(dest="dataset_command", metavar="ACTION", parser_class=_Parser, required=True)
    b = actions.add_parser("build", help="turn music videos into a MuVi-Sync-layout training set",
                           description="Analyse each video, label its own soundtrack per second (chords, key, "
                                       "loudness, note density) and write both in the MuVi-Sync layout under ROOT; "
                                       "videos without audio are skipped.")
    b.add_argument("videos", nargs="+", metavar="VIDEOS", help="video files, or folders whose videos are all used")
    b.add_argument("-o", "--output", required=True, metavar="ROOT", help="dataset folder (created; an existing one is added to)")
    b.add_argument("--encoder", default="handcrafted",
                   help="semantic encoder: 'handcrafted' (no weights) or 'clip:<folder or hub id>' (default: handcrafted)")
    b.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="device for learned encoders")
    b.add_argument("--seed", type=int, default=0, help="seed of the train/val/test assignment (default: 0)")
    b.add_argument("--split", type=float, nargs=3, default=(0.8, 0.1, 0.1), metavar=("TRAIN", "VAL", "TEST"),
                   help="fractions of the new videos per split (default: 0.8 0.1 0.1)")
    b.add_argument("--density", default="auto", choices=("auto", "basic-pitch", "onsets"),
                   help="how notes are counted for note density: basic-pitch (transcription model), onsets "
                        "(rough, no extra package) or auto (basic-pitch when installed; default)")
    b.add_argument("--ids", default="number", choices=("number", "stem"),
                   help="video ids: zero-padded numbers like MuVi-Sync (default) or the file names")
    b.set_defaults(func=_cmd_dataset_build)



def _add_demo_clip(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo-clip", help="render the built-in demo clip (scenes with hard cuts at known frames)",
                       description="Render a 12 s demo video whose scenes differ in colour, brightness and motion.")
    p.add_argument("output", help="output video path, e.g. demo.mp4")
    p.add_argument("--with-audio", action="store_true", help="add a quiet tone as the clip's own audio track")
    p.set_defaults(func=_cmd_demo_clip)

def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="cuescore", description="Music for a video: a soundtrack that follows its mood, motion and cuts.")
    parser.add_argument("--version", action="version", version=f"cuescore {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details; show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    _add_analyze(sub)
    _add_generate(sub)
    _add_evaluate(sub)
    _add_train(sub)
    _add_dataset(sub)
    _add_convert_parser(sub)
    _add_demo_clip(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not args.command:
        parser.print_help()
        return 2
    try:
        with warnings.catch_warnings():
            if not args.verbose:  # one line per warning, as for errors
                warnings.showwarning = lambda message, *_: sys.stderr.write(f"cuescore: warning: {message}\n")
            return int(args.func(args) or 0)
    except CuescoreError as exc:
        sys.stderr.write(f"cuescore: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("cuescore: interrupted\n")
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # noqa: BLE001 - the one place that turns crashes into exit 1
        if args.verbose:
            traceback.print_exc()
        sys.stderr.write(f"cuescore: internal error: {type(exc).__name__}: {exc} (run with --verbose for details)\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
