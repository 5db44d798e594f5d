"""`cuescore convert vidmuse`: VidMuse's released checkpoint → a codec checkpoint (`vidmuse` conditioner).

VidMuse (Tian et al., CVPR 2025) ships `state_dict.bin` = `{'best_state': LM state dict,
'xp.cfg': its training config as YAML}` in audiocraft's naming. The language model is MusicGen's
(musicgen-medium: dim 1536, 24 heads, 48 layers, 4 codebooks of 2048; EnCodec 32 kHz is not in
the file and comes from the music model), the visual modules are the long-short-term conditioner.

Reading is safe: `torch.load(weights_only=True)`, which refuses pickles that would run code. An
unexported training checkpoint holds `xp.cfg` as an omegaconf object, which that loader refuses;
then every `omegaconf.*` / `typing.*` class in the pickle is stood in for by an inert placeholder
that only stores what it is given (no omegaconf code runs), the plain builtin types its metadata
names (dict, list, int, ...) are allowed as themselves, nothing else is, and the hyperparameters
are read from the tensor shapes instead of the config.

audiocraft → transformers names (under `music.decoder.`): `emb.k` → `model.decoder.embed_tokens.k`,
`transformer.layers.i` → `model.decoder.layers.i` with `self_attn` / `cross_attention` →
`self_attn` / `encoder_attn` (fused `in_proj_weight` split into q, k, v; `out_proj` kept),
`linear1/2` → `fc1/fc2`, `norm1` → `self_attn_layer_norm`, `norm_cross` → `encoder_attn_layer_norm`,
`norm2` → `final_layer_norm`, `out_norm` → `model.decoder.layer_norm`, `linears.k` → `lm_heads.k`.
Visual modules (under `conditioner.`): `visual_encoder_model` → `clip` (a
`CLIPVisionModelWithProjection` like VidMuse's; its projection is kept but unused),
`{local,global}_pos_embedding` as they are, `{local,global}_temporal_transformer` →
`{local,global}_transformer` (`0.norm` → `attn_norm`, `0.fn.to_qkv` → `attn.qkv`, `0.fn.to_out.0` →
`attn.out`, `1.norm` → `ff_norm`, `1.fn.net.0/3` → `ff.0/2`), `multi_head_cross_attention` →
`cross_attention`, `visual_feature_proj` → `proj`; the window-position map `position` is new and zero.
"""

from __future__ import annotations

import collections
import os
import pickle
import re
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from cuescore.errors import InputError
from cuescore.models.codec_checkpoint import write_codec_checkpoint
from cuescore.models.codec_model import CodecConfig
from cuescore.models.video_conditioner import VIT_B32, VidMuseConfig, build_conditioner

LICENCE = "CC-BY-NC-4.0"
DEFAULT_MUSIC_MODEL = "facebook/musicgen-medium"
ENCODER = "clip:openai/clip-vit-base-patch32"
DIM_HEAD = 64
"""Head width of VidMuse's temporal transformers (fixed in its code) and of OpenAI's CLIP towers."""
CROSS_HEADS = 3
_WHAT = "VidMuse's state_dict.bin ({'best_state': ..., 'xp.cfg': ...})"
_PLACEHOLDER_MODULES = ("omegaconf.", "typing.")
_PLAIN_TYPES = {f"builtins.{t.__name__}": t for t in (dict, list, tuple, set, frozenset, int, float, str, bytes, bool)}
_PLAIN_TYPES["collections.defaultdict"] = collections.defaultdict
"""Plain types an omegaconf config refers to (its metadata names key and element types)."""
_GLOBAL = re.compile(r"GLOBAL ([\w.]+) was not an allowed global")

_LAYER_RENAMES = {"linear1": "fc1", "linear2": "fc2", "norm1": "self_attn_layer_norm",
                  "norm_cross": "encoder_attn_layer_norm", "norm2": "final_layer_norm"}
_VISUAL_RULES = [
    (r"visual_encoder_model\.(.+)", r"clip.\1"),
    (r"(local|global)_pos_embedding", r"\1_pos_embedding"),
    (r"(local|global)_temporal_transformer\.layers\.(\d+)\.0\.norm\.(\w+)", r"\1_transformer.layers.\2.attn_norm.\3"),
    (r"(local|global)_temporal_transformer\.layers\.(\d+)\.0\.fn\.to_qkv\.(\w+)", r"\1_transformer.layers.\2.attn.qkv.\3"),
    (r"(local|global)_temporal_transformer\.layers\.(\d+)\.0\.fn\.to_out\.0\.(\w+)",
     r"\1_transformer.layers.\2.attn.out.\3"),
    (r"(local|global)_temporal_transformer\.layers\.(\d+)\.1\.norm\.(\w+)", r"\1_transformer.layers.\2.ff_norm.\3"),
    (r"(local|global)_temporal_transformer\.layers\.(\d+)\.1\.fn\.net\.0\.(\w+)", r"\1_transformer.layers.\2.ff.0.\3"),
    (r"(local|global)_temporal_transformer\.layers\.(\d+)\.1\.fn\.net\.3\.(\w+)", r"\1_transformer.layers.\2.ff.2.\3"),
    (r"(local|global)_temporal_transformer\.norm\.(\w+)", r"\1_transformer.norm.\2"),
    (r"multi_head_cross_attention\.(.+)", r"cross_attention.\1"),
    (r"visual_feature_proj\.(\w+)", r"proj.\1"),
]


class _Placeholder:
    """Stands in for an omegaconf/typing object in an unexported checkpoint: stores, runs nothing."""

    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    def __init__(self, *args, **kwargs) -> None:
        self.args = args

    def __setstate__(self, state) -> None:
        self.state = state


def read_vidmuse_package(path: str | os.PathLike) -> tuple[dict[str, Tensor], dict | None]:
    """(best_state, xp.cfg as a dict or None) from VidMuse's checkpoint file, read safely."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"{file}: no such file; give {_WHAT} (from huggingface.co/Zeyue7/VidMuse)")
    allowed: list = []
    mmap = zipfile.is_zipfile(file)  # memory-map the tensors (6 GB for VidMuse) where the format allows
    while True:
        try:
            with warnings.catch_warnings(), torch.serialization.safe_globals(allowed):
                warnings.simplefilter("ignore")
                package = torch.load(file, map_location="cpu", weights_only=True, mmap=mmap)
            break
        except pickle.UnpicklingError as exc:
            allowed.append(_stand_in(_GLOBAL.search(str(exc)), len(allowed), file))
        except Exception as exc:  # noqa: BLE001 - whatever a damaged file makes the reader raise
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise InputError(f"{file}: unreadable or truncated ({reason[:160]}); give {_WHAT}") from None
    state = package.get("best_state") if isinstance(package, Mapping) else None
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise InputError(f"{file}: no 'best_state' dict of tensors in it; give {_WHAT}")
    return dict(state), _parse_xp_cfg(package.get("xp.cfg"))


def _stand_in(match: re.Match | None, count: int, file: Path) -> tuple:
    """What to allow for the global a safe load refused: an inert placeholder for omegaconf/typing
    classes, the real plain type for the builtins their metadata names; `InputError` otherwise."""
    name = match.group(1) if match else ""
    name = name if "." in name else f"builtins.{name}"
    if count < 64 and name.startswith(_PLACEHOLDER_MODULES):
        return (_Placeholder, name)
    if count < 64 and name in _PLAIN_TYPES:
        return (_PLAIN_TYPES[name], name)
    raise InputError(f"{file}: a safe load refuses it (it is no torch.save file of tensors and a config, or it "
                     f"holds objects that would run code); give {_WHAT}")


def _parse_xp_cfg(value) -> dict | None:
    """The exported YAML config as a dict; None when absent or an (inert) omegaconf placeholder."""
    if not isinstance(value, str):
        return None
    import yaml

    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _count(state: Mapping[str, Tensor], prefix: str) -> int:
    n = 0
    while any(k.startswith(f"{prefix}.{n}.") for k in state):
        n += 1
    return n


def _get(state: Mapping[str, Tensor], key: str) -> Tensor:
    if key not in state:
        raise InputError(f"key {key!r} is missing from best_state; is this {_WHAT}?")
    return state[key]


def _cfg(xp: dict | None, *path: str, default=None):
    node = xp
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def lm_hyperparameters(state: Mapping[str, Tensor], xp: dict | None) -> dict:
    """MusicGen decoder config fields read from the tensor shapes (heads from xp.cfg, else from the
    temporal transformers, whose head count VidMuse ties to the LM's)."""
    card, dim = _get(state, "linears.0.weight").shape
    inner = _get(state, "local_temporal_transformer.layers.0.0.fn.to_qkv.weight").shape[0] // 3
    heads = int(_cfg(xp, "transformer_lm", "num_heads", default=inner // DIM_HEAD))
    if dim % heads:
        raise InputError(f"LM width {dim} is not divisible by {heads} heads; is this {_WHAT}?")
    return {"vocab_size": int(card), "hidden_size": int(dim), "num_attention_heads": heads,
            "num_hidden_layers": _count(state, "transformer.layers"), "num_codebooks": _count(state, "emb"),
            "ffn_dim": int(_get(state, "transformer.layers.0.linear1.weight").shape[0])}


def vision_hyperparameters(state: Mapping[str, Tensor]) -> dict:
    """`CLIPVisionConfig` fields of the CLIP tower in the file (ViT-B/32 in VidMuse)."""
    prefix = "visual_encoder_model.vision_model."
    patch = _get(state, prefix + "embeddings.patch_embedding.weight")
    positions = _get(state, prefix + "embeddings.position_embedding.weight").shape[0]
    width, side = int(patch.shape[0]), int(patch.shape[-1])
    grid = round((positions - 1) ** 0.5)
    return {**VIT_B32, "hidden_size": width, "patch_size": side, "image_size": grid * side,
            "num_attention_heads": width // DIM_HEAD,
            "projection_dim": int(_get(state, "visual_encoder_model.visual_projection.weight").shape[0]),
            "num_hidden_layers": _count(state, prefix + "encoder.layers"),
            "intermediate_size": int(_get(state, prefix + "encoder.layers.0.mlp.fc1.weight").shape[0])}


def _map_lm_key(key: str, tensor: Tensor) -> dict[str, Tensor] | None:
    """Our names for one audiocraft LM tensor (several for a fused projection); None if not an LM key."""
    if m := re.fullmatch(r"emb\.(\d+)\.weight", key):
        return {f"model.decoder.embed_tokens.{m[1]}.weight": tensor}
    if m := re.fullmatch(r"linears\.(\d+)\.weight", key):
        return {f"lm_heads.{m[1]}.weight": tensor}
    if m := re.fullmatch(r"out_norm\.(weight|bias)", key):
        return {f"model.decoder.layer_norm.{m[1]}": tensor}
    m = re.fullmatch(r"transformer\.layers\.(\d+)\.(\w+)\.(?:mha\.)?(.+)", key)
    if not m:
        return None
    layer, module, rest = f"model.decoder.layers.{m[1]}", m[2], m[3]
    if module in ("self_attn", "cross_attention"):
        name = "self_attn" if module == "self_attn" else "encoder_attn"
        if rest == "in_proj_weight":
            q, k, v = tensor.chunk(3, dim=0)
            return {f"{layer}.{name}.q_proj.weight": q, f"{layer}.{name}.k_proj.weight": k,
                    f"{layer}.{name}.v_proj.weight": v}
        if rest == "in_proj_bias" or rest == "out_proj.bias":
            if tensor.abs().max() > 0:
                raise InputError(f"{key}: VidMuse's attention has no biases (bias_attn: false); this one does")
            return {}
        return {f"{layer}.{name}.{rest}": tensor}
    if module in _LAYER_RENAMES:
        return {f"{layer}.{_LAYER_RENAMES[module]}.{rest}": tensor}
    return None


def _map_visual_key(key: str) -> str | None:
    for pattern, replacement in _VISUAL_RULES:
        if re.fullmatch(pattern, key):
            return re.sub(pattern, replacement, key)
    return None


def map_vidmuse_state(state: Mapping[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, Tensor], list[str]]:
    """(decoder tensors by transformers name, conditioner tensors by our name, unused source keys)."""
    decoder: dict[str, Tensor] = {}
    conditioner: dict[str, Tensor] = {}
    unused: list[str] = []
    for key, tensor in state.items():
        lm = _map_lm_key(key, tensor)
        if lm is not None:
            decoder.update(lm)
        elif (name := _map_visual_key(key)) is not None and not name.endswith("position_ids"):
            conditioner[name] = tensor
        else:
            unused.append(key)
    return decoder, conditioner, unused


def _check_against(expected: Mapping[str, Tensor], got: dict[str, Tensor], what: str) -> None:
    for key, ref in expected.items():
        if key not in got:
            raise InputError(f"the checkpoint lacks the {what} tensor {key}; is this {_WHAT}?")
        if tuple(got[key].shape) != tuple(ref.shape):
            raise InputError(f"{what} tensor {key} has shape {list(got[key].shape)}, expected {list(ref.shape)}")
    extra = sorted(set(got) - set(expected))
    if extra:
        raise InputError(f"the checkpoint has {what} tensors this model does not: {', '.join(extra[:3])}")


@dataclass
class VidMuseConversion:
    """What `convert_vidmuse` wrote: the folder, the LM shape, the conditioner config and the
    source keys it did not use (as in VidMuse's own forward pass)."""

    output: Path
    decoder: dict
    conditioner: VidMuseConfig
    unused: list[str]
    config_from: str


def convert_vidmuse(path: str | os.PathLike, output: str | os.PathLike,
                    music_model: str = DEFAULT_MUSIC_MODEL) -> VidMuseConversion:
    """Convert VidMuse's checkpoint at `path` into a codec checkpoint folder `output`.

    music_model: recorded as the model that supplies EnCodec (and the decoder config); VidMuse was
    trained on facebook/musicgen-medium's LM and EnCodec. It is not needed to convert.
    """
    from transformers import MusicgenDecoderConfig, MusicgenForCausalLM

    state, xp = read_vidmuse_package(path)
    if not any(k.startswith("local_temporal_transformer.") for k in state):
        raise InputError(f"{path}: no VidMuse visual modules in best_state; is this {_WHAT}?")
    lm = lm_hyperparameters(state, xp)
    decoder_config = MusicgenDecoderConfig(**lm, pad_token_id=lm["vocab_size"], bos_token_id=lm["vocab_size"],
                                           max_position_embeddings=2048, activation_function="gelu")
    width = int(_get(state, "local_pos_embedding").shape[-1])
    cond_config = VidMuseConfig(
        vision=vision_hyperparameters(state), out_dim=lm["hidden_size"], heads=lm["num_attention_heads"],
        dim_head=DIM_HEAD, depth=_count(state, "local_temporal_transformer.layers"),
        mlp_ratio=int(_get(state, "local_temporal_transformer.layers.0.1.fn.net.0.weight").shape[0]) // width,
        cross_heads=CROSS_HEADS, short_fps=float(_cfg(xp, "video", "video_fps", default=2)),
        long_frames=int(_cfg(xp, "video", "add_global", "num_frames", default=32)),
        window_seconds=float(_cfg(xp, "dataset", "segment_duration", default=30)))
    decoder, conditioner, unused = map_vidmuse_state(state)
    with torch.device("meta"):
        expected_decoder = MusicgenForCausalLM(decoder_config).state_dict()
        expected_conditioner = build_conditioner("vidmuse", cond_config.to_dict()).state_dict()
    conditioner["position.weight"] = torch.zeros(width, 2, dtype=conditioner["proj.weight"].dtype)
    conditioner["position.bias"] = torch.zeros(width, dtype=conditioner["proj.weight"].dtype)
    _check_against(expected_decoder, decoder, "language model")
    _check_against(expected_conditioner, conditioner, "visual")
    config = CodecConfig(
        music_model=music_model, conditioner="vidmuse", conditioner_config=cond_config.to_dict(), encoder=ENCODER,
        licence=LICENCE, trained_with_text=False, lm_trained=True, decoder=decoder_config.to_dict(),
        source=f"VidMuse ({Path(path).name}, converted)")
    tensors = {**{f"music.decoder.{k}": v for k, v in decoder.items()},
               **{f"conditioner.{k}": v for k, v in conditioner.items()}}
    out = write_codec_checkpoint(tensors, config, output, extra={"converted_from": {
        "system": "VidMuse (Tian et al., CVPR 2025)", "file": str(Path(path).resolve()),
        "config_from": "xp.cfg" if xp else "tensor shapes", "unused_keys": unused}})
    return VidMuseConversion(out, lm, cond_config, unused, "xp.cfg" if xp else "tensor shapes")
