"""`cuescore dataset build`: training data from music videos."""

from __future__ import annotations

import argparse

from cuescore.cli.common import Parser, add_job_arguments
from cuescore.errors import CuescoreError, OptionError


def _cmd_dataset_build(args: argparse.Namespace) -> int:
    from cuescore.data.builder import build_dataset

    if args.codec_pairs != (args.music_model is not None):
        raise OptionError("--codec-pairs and --music-model M go together (M: the MusicGen whose EnCodec "
                          "tokenises the soundtracks)")

    report = build_dataset(args.videos, args.output, encoder=args.encoder, device=args.device, seed=args.seed,
                           split=tuple(args.split), density=args.density, ids=args.ids, progress=True,
                           workers=args.workers, backend=args.backend, address=args.address, shard=args.shard,
                           force=args.force, codec_music_model=args.music_model, codec_encoder=args.codec_encoder)
    print(report.summary())
    if not report.written:
        raise CuescoreError(f"no video was added to {args.output}: every input was skipped (reasons above)")
    return 0


def _cmd_dataset_merge(args: argparse.Namespace) -> int:
    from cuescore.data.manifest import merge_datasets

    print(merge_datasets(args.shards, args.output).summary())
    return 0


def _add_dataset(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dataset", help="build training data (MuVi-Sync layout) from music videos",
                       description="Training data for the learned engines.")
    actions = p.add_subparsers(dest="dataset_command", metavar="ACTION", parser_class=Parser, required=True)
    b = actions.add_parser("build", help="turn music videos into a MuVi-Sync-layout training set",
                           description="Analyse each video, label its own soundtrack per second (chords, key, "
                                       "loudness, note density) and write both in the MuVi-Sync layout under ROOT; "
                                       "videos without audio are skipped. ROOT/manifest.json records each video: a "
                                       "rerun completes an interrupted build. Exit status 0 when any video is in "
                                       "the dataset, 2 when none is.")
    b.add_argument("videos", nargs="+", metavar="VIDEOS", help="video files, folders whose videos are all used, or .txt lists of paths")
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
    b.add_argument("--shard", metavar="K/N", help="build only the K-th of N shards (every N-th video from the K-th); "
                                                "join the shard folders with `cuescore dataset merge`")
    g = b.add_argument_group("codec pairs (what `train codec --pairs ROOT` reads)")
    g.add_argument("--codec-pairs", action="store_true",
                   help="also write each video's EnCodec tokens and CLIP patch tokens (2 fps) to ROOT/codec_pairs")
    g.add_argument("--music-model", metavar="M", help="MusicGen folder or cached hub id whose EnCodec encodes the audio")
    g.add_argument("--codec-encoder", metavar="clip:E",
                   help="CLIP for the frames (default: --encoder when it is a CLIP), e.g. "
                        "clip:openai/clip-vit-base-patch32 as VidMuse")
    add_job_arguments(b)
    b.set_defaults(func=_cmd_dataset_build)
    m = actions.add_parser("merge", help="join dataset folders built with --shard into one",
                           description="Copy the videos of shard folders (same inputs and settings) into ROOT and "
                                       "make its train/val/test splits as one build would.")
    m.add_argument("shards", nargs="+", metavar="SHARD_DIR", help="folders written by `dataset build --shard K/N`")
    m.add_argument("-o", "--output", required=True, metavar="ROOT", help="dataset folder (created or added to)")
    m.set_defaults(func=_cmd_dataset_merge)


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register dataset."""
    _add_dataset(sub)
