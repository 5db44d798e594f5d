"""`cuescore train`: the AMT, its baseline, the regressor and the codec conditioner."""

from __future__ import annotations

import argparse
import os
import sys

from cuescore.errors import OptionError


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
    g.add_argument("--pairs", metavar="DIR", help="folder of videos with their own soundtrack (e.g. music videos), "
                   "or a dataset folder built with `dataset build --codec-pairs`")
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
    p.add_argument("--semantic", default=None, metavar="FOLDER",
                   help="vevo_semantic/all/2d/FOLDER holds the semantic features (default: the only folder "
                        "there; asked for when there are several)")
    p.add_argument("--emotion", default=None, metavar="VARIANT",
                   help="vevo_emotion/VARIANT holds the emotion features (default: the only variant there)")
    p.add_argument("--max-len", type=int, default=300, metavar="SECONDS",
                   help="seconds per training sequence (default: 300)")
    p.add_argument("--lr", type=float, default=None,
                   help="peak learning rate (default: Video2Music's schedule; 1e-3 for the regressor)")
    p.add_argument("--warmup-steps", type=int, default=None, metavar="N",
                   help="amt, baseline: steps of learning-rate warm-up (default: 4000, as Video2Music)")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="auto",
                   help="auto = bf16 on GPUs that have it, fp32 on CPU (default: auto)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default: 0)")
    _add_train_codec(p)
    p.set_defaults(func=_cmd_train)


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register train."""
    _add_train(sub)
