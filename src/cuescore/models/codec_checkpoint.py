"""Codec checkpoints: `config.json` (a `CodecConfig` with kind "codec") + `model.safetensors`.

The weights hold the conditioner (`conditioner.*`, CLIP tower included for `vidmuse`) and, when the
language model was trained (`lm_trained`), the decoder (`music.decoder.*`) and MusicGen's
projection (`music.enc_to_dec_proj.*`, when it is a real one). EnCodec and the text encoder always
come from the music model the config names (or the folder given instead): a frozen-LM checkpoint
is small and names its music model.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn

from cuescore.errors import InputError, OptionError
from cuescore.fileio import ensure_writable_dir
from cuescore.models.checkpoint import (
    CONFIG_FILE, FORMAT_VERSION, WEIGHTS_FILE, unwrap, write_checkpoint_files,
)
from cuescore.models.codec_model import CodecConfig, CodecModel, load_music_model, load_music_tokenizer
from cuescore.models.device import resolve_device
from cuescore.models.video_conditioner import build_conditioner

KIND = "codec"
DECODER_SHAPE_KEYS = ("hidden_size", "num_hidden_layers", "num_attention_heads", "ffn_dim", "num_codebooks",
                      "vocab_size")


def codec_state_dict(model: CodecModel) -> dict[str, torch.Tensor]:
    """The tensors a checkpoint of `model` holds (see the module docstring), on the CPU."""
    state: dict[str, torch.Tensor] = {}
    if model.conditioner is not None:
        state.update({f"conditioner.{k}": v for k, v in model.conditioner.state_dict().items()})
    if model.config.lm_trained:
        state.update({f"music.decoder.{k}": v for k, v in model.music.decoder.state_dict().items()})
        proj = model.music.enc_to_dec_proj if hasattr(model.music, "enc_to_dec_proj") else None
        if isinstance(proj, nn.Linear):
            state.update({f"music.enc_to_dec_proj.{k}": v for k, v in proj.state_dict().items()})
    return {k: v.detach().to("cpu").contiguous() for k, v in state.items()}


def write_codec_checkpoint(
    state: dict[str, torch.Tensor],
    config: CodecConfig,
    directory: str | os.PathLike,
    *,
    extra: dict | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    trainer_state: dict | None = None,
) -> Path:
    """Write `config.json` (config + extra) and `model.safetensors` (state) into `directory`,
    atomically file by file; with `optimizer` / `trainer_state` also `optimizer.pt` /
    `trainer_state.json` for resuming. config.json is written last: its presence marks a whole folder."""
    out = ensure_writable_dir(directory)
    meta = {"format_version": FORMAT_VERSION, "kind": KIND, **config.to_dict(), **(extra or {})}
    return write_checkpoint_files(out, state, meta, {"kind": KIND, "licence": config.licence},
                                  optimizer=optimizer, trainer_state=trainer_state)


def save_codec_checkpoint(model: CodecModel, directory: str | os.PathLike, **kwargs) -> Path:
    """`write_codec_checkpoint` of `model`'s weights and config (keyword arguments as there)."""
    model = unwrap(model)
    if model.config.lm_trained:
        model.config.decoder = model.music.config.decoder.to_dict()
    return write_codec_checkpoint(codec_state_dict(model), model.config, directory, **kwargs)


def read_codec_config(directory: str | os.PathLike) -> tuple[CodecConfig, dict]:
    """(CodecConfig, the whole config.json) of a codec checkpoint folder; `InputError` if it is not one."""
    folder = Path(directory)
    path = folder / CONFIG_FILE
    if not folder.is_dir():
        raise InputError(f"codec checkpoint {folder} not found: train one with `cuescore train codec` or convert "
                         "VidMuse's with `cuescore convert vidmuse`")
    try:
        meta = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: missing or malformed ({type(exc).__name__}); not a codec checkpoint") from None
    if not isinstance(meta, dict) or meta.get("kind") != KIND:
        raise InputError(f"{folder}: a {meta.get('kind') if isinstance(meta, dict) else '?'} checkpoint, not a codec "
                         "one (`cuescore train codec` / `cuescore convert vidmuse` write those)")
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise InputError(f"{path}: written by a newer cuescore (format {meta['format_version']}); upgrade")
    fields = CodecConfig.__dataclass_fields__
    return CodecConfig(**{k: v for k, v in meta.items() if k in fields}), meta


def check_codec_checkpoint(config: CodecConfig, *, conditioner: str | None = None, encoder: str | None = None) -> None:
    """`OptionError` when the checkpoint was made for another conditioner or another encoder."""
    if conditioner is not None and config.conditioner != conditioner:
        raise OptionError(f"the checkpoint has the {config.conditioner or 'text-only'} conditioner, not {conditioner}; "
                          "pick the matching --conditioner or another checkpoint")
    if encoder is not None and config.encoder is not None and encoder != config.encoder:
        raise OptionError(f"the checkpoint was made for the encoder {config.encoder}, not {encoder}; use "
                          f"--encoder {config.encoder} or a checkpoint made for {encoder}")


def _check_decoder(config: CodecConfig, music: nn.Module, music_name: str) -> None:
    want = config.decoder or {}
    have = music.config.decoder.to_dict()
    diff = [k for k in DECODER_SHAPE_KEYS if k in want and want[k] != have.get(k)]
    if diff:
        shapes = ", ".join(f"{k} {want[k]} vs {have.get(k)}" for k in diff)
        raise OptionError(f"the checkpoint's language model does not fit music model {music_name} ({shapes}); "
                          f"pass the music model it was trained on ({config.music_model}) with --music-model")


def _load_part(module: nn.Module, state: dict, prefix: str, where: Path) -> None:
    part = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    try:
        module.load_state_dict(part, strict=True)
    except RuntimeError as exc:
        raise InputError(f"{where}: weights under {prefix!r} do not fit the config ({str(exc).splitlines()[0]})") from None


def load_codec_checkpoint(
    directory: str | os.PathLike,
    music_model: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
) -> CodecModel:
    """Rebuild a `CodecModel` from a checkpoint folder, in eval mode on `device`.

    music_model: a folder or cached hub id to take EnCodec / text encoder / decoder config from
    instead of the one the checkpoint names (e.g. a local copy of it).
    """
    config, _ = read_codec_config(directory)
    weights = Path(directory) / WEIGHTS_FILE
    if not weights.is_file():
        raise InputError(f"{weights}: missing; the checkpoint folder is incomplete")
    music_name = str(music_model or config.music_model)
    music = load_music_model(music_name)
    if config.lm_trained:
        _check_decoder(config, music, music_name)
    conditioner = build_conditioner(config.conditioner, config.conditioner_config) if config.conditioner else None
    model = CodecModel(music, conditioner, config, tokenizer=load_music_tokenizer(music_name))
    state = load_file(str(weights))
    if conditioner is not None:
        _load_part(conditioner, state, "conditioner.", weights)
    if config.lm_trained:
        _load_part(music.decoder, state, "music.decoder.", weights)
        if isinstance(getattr(music, "enc_to_dec_proj", None), nn.Linear):
            _load_part(music.enc_to_dec_proj, state, "music.enc_to_dec_proj.", weights)
    return model.to(resolve_device(device)).eval()
