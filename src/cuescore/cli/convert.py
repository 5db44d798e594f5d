"""`cuescore convert`: import published checkpoints (Video2Music, VidMuse)."""

from __future__ import annotations

import argparse

from cuescore.cli.common import Parser


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


def _add_convert_parser(sub: argparse._SubParsersAction) -> None:
    """`cuescore convert SOURCE ...`: import published checkpoints, one subcommand per source system."""
    p = sub.add_parser("convert", help="import published checkpoints (Video2Music, VidMuse) as cuescore checkpoints",
                       description="Turn another system's released weights into a cuescore checkpoint folder.")
    sources = p.add_subparsers(dest="convert_source", metavar="SOURCE", parser_class=Parser, required=True)
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


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register convert."""
    _add_convert_parser(sub)
