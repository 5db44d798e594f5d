"""Checkpoints that carry their own config: `config.json` + `model.safetensors` in one folder.

`config.json` holds the model kind (`amt`, `music_transformer`, `regression`), its hyperparameters
(`model`) and whatever the trainer adds: the features it was trained on (`features`: semantic
encoder id/dim, MuVi-Sync folder names, input layout) and the training settings. A folder saved for
resuming also holds `optimizer.pt` and `trainer_state.json`.

`load_model` takes a folder, a Hugging Face hub id (downloaded when `huggingface_hub` can reach
the hub) or a debug name (`debug`, `debug-mt`, `debug-regression`: tiny random models for tests,
like audiocraft's `get_pretrained('debug')`).
"""

from __future__ import annotations

import json
import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from cuescore.errors import InputError, OptionError
from cuescore.fileio import atomic_path, ensure_writable_dir
from cuescore.models.amt import AMTConfig, ChordTransformer
from cuescore.models.regression import RegressionConfig, VideoRegression

FORMAT_VERSION = 1
CONFIG_FILE, WEIGHTS_FILE = "config.json", "model.safetensors"
OPTIMIZER_FILE, STATE_FILE = "optimizer.pt", "trainer_state.json"
REGRESSION_SUBDIR = "regression"
"""Where the density/loudness regressor that goes with an AMT checkpoint lives inside its folder."""

DEBUG_SEMANTIC_DIM = 16
_DEBUG_FEATURES = {
    "semantic_encoder": {"name": "debug", "id": "debug", "dim": DEBUG_SEMANTIC_DIM},
    "semantic_folder": "debug",
    "emotion_variant": "6c_l14p",
    "video_dim": DEBUG_SEMANTIC_DIM + 2 + 6,
}
DEBUG_MODELS: dict[str, tuple[str, dict]] = {
    "debug": ("amt", AMTConfig.sized("debug", video_dim=DEBUG_SEMANTIC_DIM + 8, max_len=64).to_dict()),
    "debug-mt": ("music_transformer", AMTConfig.sized("debug", video=False, video_dim=0, max_len=64).to_dict()),
    "debug-regression": ("regression", RegressionConfig.sized("debug", video_dim=DEBUG_SEMANTIC_DIM + 8).to_dict()),
}
"""Tiny random models by name: kind and hyperparameters (semantic features of width 16)."""


def _cuescore_version() -> str:
    try:
        return version("cuescore")
    except PackageNotFoundError:
        return "unknown"


def unwrap(model: nn.Module) -> nn.Module:
    """The bare model inside a DistributedDataParallel (or similar) wrapper."""
    return getattr(model, "module", model)


def build_model(kind: str, hyperparameters: dict) -> nn.Module:
    """A freshly initialised model of `kind` from its hyperparameters."""
    try:
        if kind in ("amt", "music_transformer"):
            cfg = AMTConfig(**{**hyperparameters, "video": kind == "amt"})
            return ChordTransformer(cfg)
        if kind == "regression":
            return VideoRegression(RegressionConfig(**hyperparameters))
    except TypeError as exc:
        raise InputError(f"model hyperparameters do not fit kind {kind!r}: {exc}") from None
    raise InputError(f"unknown model kind {kind!r}; known: amt, music_transformer, regression")


def save_checkpoint(
    model: nn.Module,
    directory: str | os.PathLike,
    config: dict | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    extra: dict | None = None,
) -> Path:
    """Write `config.json` ({kind, model: hyperparameters, **config}) and `model.safetensors` into
    `directory`; with `optimizer` also `optimizer.pt`, with `extra` also `trainer_state.json`."""
    model = unwrap(model)
    out = ensure_writable_dir(directory)
    meta = {
        "format_version": FORMAT_VERSION,
        "cuescore_version": _cuescore_version(),
        **(config or {}),
        "kind": model.kind,
        "model": model.config.to_dict(),
    }
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    return write_checkpoint_files(out, state, meta, {"kind": model.kind}, optimizer=optimizer, trainer_state=extra)


def write_checkpoint_files(
    out: Path,
    state: dict[str, torch.Tensor],
    meta: dict,
    weights_metadata: dict[str, str],
    *,
    optimizer: torch.optim.Optimizer | None = None,
    trainer_state: dict | None = None,
) -> Path:
    """`model.safetensors` (contiguous CPU tensors of `state`), then `optimizer.pt` and
    `trainer_state.json` when given, then `config.json` (`meta`), each written atomically;
    config.json comes last, so its presence marks a whole checkpoint folder."""
    with atomic_path(out / WEIGHTS_FILE) as tmp:
        save_file({k: v.contiguous() for k, v in state.items()}, str(tmp), metadata=weights_metadata)
    if optimizer is not None:
        with atomic_path(out / OPTIMIZER_FILE) as tmp:
            torch.save(optimizer.state_dict(), tmp)
    if trainer_state is not None:
        with atomic_path(out / STATE_FILE) as tmp:
            tmp.write_text(json.dumps(trainer_state, indent=2))
    with atomic_path(out / CONFIG_FILE) as tmp:
        tmp.write_text(json.dumps(meta, indent=2))
    return out


def _resolve(name_or_path: str | os.PathLike) -> Path:
    """A local folder for a path or hub id; `InputError` if neither exists."""
    path = Path(name_or_path)
    if path.is_dir():
        return path
    name = str(name_or_path)
    if path.exists() or name.count("/") != 1 or name.startswith((".", "/")):
        raise InputError(f"{name}: no checkpoint folder here; train one with `cuescore train amt -o {name}`")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, allow_patterns=[CONFIG_FILE, WEIGHTS_FILE]))
    except ImportError:
        raise InputError(f"{name}: no such folder, and huggingface_hub is not installed to fetch it") from None
    except Exception as exc:  # network, auth or missing repository: all mean "cannot get it"
        raise InputError(f"{name}: no such folder, and the hub download failed ({type(exc).__name__})") from None


def read_config(name_or_path: str | os.PathLike) -> dict:
    """The `config.json` of a checkpoint (or the synthetic config of a debug name)."""
    name = str(name_or_path)
    if name in DEBUG_MODELS:
        kind, hp = DEBUG_MODELS[name]
        features = {**_DEBUG_FEATURES, "video_dim": hp.get("video_dim", 0)}
        return {"format_version": FORMAT_VERSION, "kind": kind, "model": dict(hp), "features": features}
    path = _resolve(name_or_path) / CONFIG_FILE
    if not path.is_file():
        raise InputError(f"{path}: missing; not a cuescore checkpoint folder")
    try:
        config = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: malformed checkpoint config ({exc})") from None
    if not isinstance(config, dict) or not isinstance(config.get("model"), dict) or "kind" not in config:
        raise InputError(f"{path}: malformed checkpoint config (needs 'kind' and 'model')")
    if config.get("format_version", 0) > FORMAT_VERSION:
        raise InputError(f"{path}: written by a newer cuescore (format {config['format_version']}); upgrade")
    return config


def regression_checkpoint(checkpoint: str | os.PathLike) -> Path | None:
    """The regressor that goes with an AMT checkpoint folder: its `regression/` subfolder when
    that holds a checkpoint, else None."""
    folder = Path(checkpoint) / REGRESSION_SUBDIR
    return folder if (folder / CONFIG_FILE).is_file() else None


def load_model(name_or_path: str | os.PathLike, *, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild a model from a checkpoint folder, hub id or debug name; in eval mode on `device`.

    The model's `checkpoint_config` attribute holds the checkpoint's `config.json`.
    """
    config = read_config(name_or_path)
    if str(name_or_path) in DEBUG_MODELS:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = build_model(config["kind"], config["model"])
    else:
        model = build_model(config["kind"], config["model"])
        weights = _resolve(name_or_path) / WEIGHTS_FILE
        if not weights.is_file():
            raise InputError(f"{weights}: missing; the checkpoint folder is incomplete")
        try:
            model.load_state_dict(load_file(str(weights)))
        except (RuntimeError, OSError) as exc:
            raise InputError(f"{weights}: weights do not fit the config ({str(exc).splitlines()[0]})") from None
    model.checkpoint_config = config
    return model.to(device).eval()


def load_training_state(directory: str | os.PathLike) -> tuple[dict | None, dict | None]:
    """The optimizer state dict and trainer state saved for resuming (None where absent)."""
    d = Path(directory)
    opt = None
    if (d / OPTIMIZER_FILE).is_file():
        opt = torch.load(d / OPTIMIZER_FILE, map_location="cpu", weights_only=True)
    state = json.loads((d / STATE_FILE).read_text()) if (d / STATE_FILE).is_file() else None
    return opt, state


def encoder_name(encoder_id: str) -> str:
    """The model an encoder id names, wherever its weights were loaded from: "clip:openai/clip-vit-b"
    (hub id), "clip:/models/clip-vit-b" (a folder) and a hub-cache snapshot folder
    ("clip:.../models--openai--clip-vit-b/snapshots/<hash>") all give "clip:clip-vit-b"."""
    kind, _, where = encoder_id.partition(":")
    if not where:
        return encoder_id
    parts = [p for p in where.replace("\\", "/").split("/") if p]
    cached = [p for p in parts if p.startswith("models--")]
    name = cached[-1].split("--")[-1] if cached else (parts[-1] if parts else where)
    return f"{kind}:{name}"


def check_encoder(config: dict, encoder: dict) -> None:
    """`OptionError` unless features from `encoder` (a `VideoFeatures.encoder`) fit the checkpoint."""
    want = config.get("features", {}).get("semantic_encoder", {})
    if not want:
        return
    same = encoder_name(str(want.get("id"))) == encoder_name(str(encoder.get("id")))
    if not same or int(want.get("dim") or -1) != int(encoder.get("dim") or -2):
        raise OptionError(
            f"the checkpoint was trained on semantic features from {want.get('id')!r} (dim {want.get('dim')}), "
            f"but the video was analysed with {encoder.get('id')!r} (dim {encoder.get('dim')}); "
            f"analyse it again with the encoder {want.get('id')!r} or train on features from yours"
        )
