"""`cuescore train codec`: train a video conditioner (and, with freeze="none", MusicGen's decoder)
on videos paired with their own soundtrack.

The soundtrack is encoded once to EnCodec tokens and the frames once to CLIP features, cached in
OUT/cache (`cuescore.training.codec_data`). Each step takes windows of the videos, replaces each
window's conditioning with the null one (black frames: the unconditional branch of guidance) with probability `cond_dropout` (0.1), runs the decoder on the codes in MusicGen's delay
pattern and minimises the cross-entropy of every code, averaged per codebook then over codebooks
(audiocraft's MusicGen loss). AdamW (betas 0.9 / 0.95, weight decay 0.1, as VidMuse), constant
learning rate, gradients clipped to norm 1.

OUT receives the checkpoint after every epoch (config.json + model.safetensors: what
`load_codec_checkpoint` and the codec engine read), OUT/last (the same with `optimizer.pt` and
`trainer_state.json`, for resume=True) and metrics.jsonl (one line per epoch). Launched by
`torchrun --nproc-per-node N`, the same call trains data-parallel (DDP); rank 0 alone writes.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler
from tqdm.auto import tqdm

from cuescore.errors import OptionError, OutputError
from cuescore.fileio import ensure_writable_dir
from cuescore.models.checkpoint import STATE_FILE, load_training_state
from cuescore.models.codec_checkpoint import check_codec_checkpoint, load_codec_checkpoint, save_codec_checkpoint
from cuescore.models.codec_model import CONDITIONER_KINDS, CodecConfig, CodecModel, load_music_model, load_music_tokenizer
from cuescore.models.video_conditioner import ThesisConditioner, ThesisConfig, VidMuseConditioner, VidMuseConfig
from cuescore.training.codec_data import (
    CodecPairs,
    FeatureSpec,
    built_pair_files,
    encode_pair,
    holds_built_pairs,
    list_videos,
    pairs_folder,
    prepare_pairs,
)
from cuescore.training.distributed import DistContext, autocast, resolve_precision, setup_distributed

log = logging.getLogger("cuescore.training")
FREEZE = ("lm", "none")
METRICS_FILE = "metrics.jsonl"
VISION_FIELDS = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "image_size",
                 "patch_size", "projection_dim", "hidden_act", "layer_norm_eps", "num_channels")


def codec_loss(logits: Tensor, codes: Tensor, valid: Tensor) -> Tensor:
    """Cross-entropy of logits [B, K, L, V] against codes [B, K, L] where valid [B, L]: the mean over
    valid steps per codebook, then over codebooks."""
    targets = codes.masked_fill(~valid[:, None, :], 0)  # padding holds the special token, outside the vocabulary
    per_token = F.cross_entropy(logits.float().flatten(0, 2), targets.flatten(), reduction="none").view(codes.shape)
    weights = valid[:, None, :].to(per_token.dtype)
    per_codebook = (per_token * weights).sum(dim=(0, 2)) / weights.sum(dim=(0, 2)).clamp(min=1.0)
    return per_codebook.mean()


def _clip_source(encoder: str) -> str:
    name, _, source = encoder.partition(":")
    if name != "clip" or not source:
        raise OptionError(f"--encoder {encoder!r}: the codec conditioners need a CLIP: clip:<folder or hub id>, "
                          "e.g. clip:openai/clip-vit-base-patch32 (VidMuse's)")
    return source


def _load_clip_vision(source: str):
    """(CLIPVisionModelWithProjection, preprocessor config dict) from a folder or the hub cache."""
    from transformers import AutoConfig, CLIPVisionModelWithProjection
    from transformers.image_processing_base import ImageProcessingMixin

    try:
        config = AutoConfig.from_pretrained(source, local_files_only=True)
        vision = getattr(config, "vision_config", config)
        vision.projection_dim = config.projection_dim  # a CLIPConfig keeps it outside its vision config
        clip = CLIPVisionModelWithProjection.from_pretrained(source, config=vision, local_files_only=True)
        prep, _ = ImageProcessingMixin.get_image_processor_dict(source, local_files_only=True)
    except (OSError, ValueError):
        raise OptionError(f"CLIP model {source} not found: download it with `hf download {source}` on a machine "
                          "with internet, or pass a folder: --encoder clip:DIR") from None
    return clip, prep


def _licence(music_model: str) -> str:
    if "musicgen" in Path(music_model).name.lower():
        return "CC-BY-NC-4.0 (trained from MusicGen's weights, whose licence it inherits)"
    return f"the licence of the music model {music_model}"


def build_codec_model(music_model: str, encoder: str, conditioner: str, *, window: float = 30.0,
                      long_frames: int = 32, device: str | torch.device = "cpu") -> tuple[CodecModel, object | None]:
    """A fresh CodecModel on `music_model` with a new `conditioner` for CLIP `encoder`, and the
    semantic encoder the thesis conditioner's features come from (None for vidmuse)."""
    source = _clip_source(encoder)
    clip, prep = _load_clip_vision(source)  # first: the cheaper check of the two
    music = load_music_model(music_model, device)
    semantic_encoder = None
    if conditioner == "vidmuse":
        dec = music.config.decoder
        width = clip.config.hidden_size
        cfg = VidMuseConfig(vision={k: getattr(clip.config, k) for k in VISION_FIELDS}, out_dim=dec.hidden_size,
                            heads=dec.num_attention_heads, cross_heads=next(h for h in (3, 2, 1) if width % h == 0),
                            image_mean=tuple(prep["image_mean"]),
                            image_std=tuple(prep["image_std"]), long_frames=long_frames, window_seconds=window)
        module = VidMuseConditioner(cfg)
        module.clip.load_state_dict(clip.state_dict())
    else:
        from cuescore.analysis.encoders import get_encoder

        semantic_encoder = get_encoder(encoder, device=str(device), half=False)
        cfg = ThesisConfig(in_dim=semantic_encoder.dim, out_dim=music.config.text_encoder.hidden_size,
                           max_seconds=max(64, math.ceil(window)), window_seconds=window)
        module = ThesisConditioner(cfg)
        side = semantic_encoder.frame_short_side
        black = semantic_encoder.encode([np.zeros((side, side, 3), np.uint8)])[0]
        module.null_row.copy_(torch.from_numpy(black))
    config = CodecConfig(music_model=str(music_model), conditioner=conditioner, conditioner_config=cfg.to_dict(),
                         encoder=encoder, licence=_licence(str(music_model)), source="cuescore train codec")
    model = CodecModel(music, module, config, tokenizer=load_music_tokenizer(music_model))
    return model.to(device), semantic_encoder


def _feature_spec(model: CodecModel) -> FeatureSpec:
    cfg = model.conditioner.config
    if model.config.conditioner == "vidmuse":
        return FeatureSpec("vidmuse", model.config.music_model, model.config.encoder, cfg.short_fps, cfg.image_size,
                           tuple(cfg.image_mean), tuple(cfg.image_std))
    return FeatureSpec("thesis", model.config.music_model, model.config.encoder)


_PAIR_MODELS: dict[tuple[str, str], tuple[CodecModel, FeatureSpec]] = {}


def pair_models(music_model: str, encoder: str) -> tuple[CodecModel, FeatureSpec]:
    """The model whose EnCodec and CLIP make `codec_pair`'s tensors, and their spec; loaded once per
    process (`OptionError` when either model cannot be found)."""
    if (music_model, encoder) not in _PAIR_MODELS:
        model, _ = build_codec_model(music_model, encoder, "vidmuse")
        _PAIR_MODELS[(music_model, encoder)] = (model.eval(), _feature_spec(model))
    return _PAIR_MODELS[(music_model, encoder)]


def codec_pair(video: str | os.PathLike, music_model: str, encoder: str) -> tuple[str, FeatureSpec, dict, dict]:
    """One video's pair for the vidmuse conditioner, as `dataset build --codec-pairs` stores it:
    (folder name under `codec_pairs/`, its spec, tensors, metadata). The models load once per process."""
    model, spec = pair_models(music_model, encoder)
    tensors, meta = encode_pair(Path(video), spec, model.music, model.conditioner)
    return pairs_folder(spec), spec, tensors, meta


def _set_trainable(model: CodecModel, freeze: str) -> list[torch.nn.Parameter]:
    """Freeze everything but the conditioner (and the decoder with freeze="none"); the trainable ones."""
    model.requires_grad_(False)
    model.conditioner.requires_grad_(True)
    if isinstance(model.conditioner, VidMuseConditioner):
        model.conditioner.clip.requires_grad_(False)
    if freeze == "none":
        model.music.decoder.requires_grad_(True)
        if hasattr(model.music, "enc_to_dec_proj"):
            model.music.enc_to_dec_proj.requires_grad_(True)
    model.config.lm_trained = model.config.lm_trained or freeze == "none"
    return [p for p in model.parameters() if p.requires_grad]


def _drop_conditions(batch: dict, drop: Tensor, null: Tensor) -> dict:
    """The batch's conditioner inputs with the windows in `drop` [B] given the null condition
    (`null`: black-frame patch tokens [P, C] for vidmuse, a black frame's embedding [E] for thesis)."""
    if "semantic" in batch:
        return {"semantic": torch.where(drop[:, None, None], null, batch["semantic"])}
    keep = ~drop[:, None, None, None]
    return {"short_tokens": torch.where(keep, batch["short_tokens"], null),
            "long_tokens": torch.where(keep, batch["long_tokens"], null), "position": batch["position"]}


def _prepare_model(out: Path, resume: bool, *, music_model: str, encoder: str, conditioner: str, window: float,
                   ctx: DistContext) -> tuple[CodecModel, object | None, dict | None, dict | None]:
    """(model, semantic encoder, optimizer state, trainer state): a new model, or the run in OUT/last."""
    last = out / "last"
    has_run = (last / STATE_FILE).is_file()
    if has_run and not resume:
        raise OutputError(f"{out} already holds a training run; continue it with --resume or choose another folder")
    if resume and not has_run:
        warnings.warn(f"{out}: nothing to resume; starting a new run", stacklevel=3)
    if not (resume and has_run):
        return (*build_codec_model(music_model, encoder, conditioner, window=window, device=ctx.device), None, None)
    model = load_codec_checkpoint(last, music_model=music_model, device=ctx.device)
    check_codec_checkpoint(model.config, conditioner=conditioner, encoder=encoder)
    semantic_encoder = None
    if conditioner == "thesis":
        from cuescore.analysis.encoders import get_encoder

        semantic_encoder = get_encoder(encoder, device=str(ctx.device), half=False)
    return (model, semantic_encoder, *load_training_state(last))


def _check_options(conditioner: str, freeze: str, epochs: int, batch_size: int, window: float, cond_dropout: float) -> None:
    if conditioner not in CONDITIONER_KINDS:
        raise OptionError(f"--conditioner {conditioner!r}: choose {' or '.join(CONDITIONER_KINDS)}")
    if freeze not in FREEZE:
        raise OptionError(f"--freeze {freeze!r}: choose lm (train the conditioner only) or none (also the decoder)")
    if epochs < 1 or batch_size < 1:
        raise OptionError(f"epochs and batch size must be at least 1 (got {epochs}, {batch_size})")
    if not 0 < window <= 600 or not 0 <= cond_dropout < 1:
        raise OptionError(f"window must be in (0, 600] s and cond_dropout in [0, 1) (got {window}, {cond_dropout})")


def _loader(model: CodecModel, files: list[Path], ctx: DistContext, batch_size: int, seed: int, num_workers: int):
    cond = model.conditioner.config
    audio = model.music.config.audio_encoder
    data = CodecPairs(files, window=cond.window_seconds, frame_rate=audio.frame_rate, pad_code=model.special_token,
                      short_fps=getattr(cond, "short_fps", 1.0), long_frames=getattr(cond, "long_frames", 1))
    sampler = DistributedSampler(data, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True, seed=seed)
    return DataLoader(data, batch_size=batch_size, sampler=sampler, num_workers=num_workers), sampler


class _Run:
    """One training run's moving parts (model, optimizer, data) and its per-step work."""

    def __init__(self, model: CodecModel, trainable: list, optimizer, ctx: DistContext, precision: str,
                 cond_dropout: float, seed: int, step: int) -> None:
        self.model, self.trainable, self.optimizer, self.ctx = model, trainable, optimizer, ctx
        self.precision, self.cond_dropout = precision, cond_dropout
        conditioner = model.conditioner
        self.null = conditioner.null_tokens() if isinstance(conditioner, VidMuseConditioner) else conditioner.null_row
        self.net = model
        if ctx.distributed:
            self.net = DistributedDataParallel(model, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None)
        self.scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None
        self.generator = torch.Generator().manual_seed(seed + 7919 * ctx.rank + step)

    def step(self, batch: dict) -> float:
        """One optimizer step on a batch; the batch's loss."""
        batch = {k: v.to(self.ctx.device) for k, v in batch.items()}
        drop = (torch.rand(batch["codes"].shape[0], generator=self.generator) < self.cond_dropout).to(self.ctx.device)
        with autocast(self.ctx.device, self.precision):
            logits = self.net(batch["codes"], _drop_conditions(batch, drop, self.null))
        loss = codec_loss(logits, batch["codes"], batch["valid"])
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.trainable, 1.0)
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.trainable, 1.0)
            self.optimizer.step()
        return float(loss.detach())

    def epoch(self, loader: DataLoader, label: str, progress: bool) -> tuple[float, int]:
        """(mean loss over all processes, steps taken here) of one pass over `loader`."""
        total, batches = 0.0, 0
        for batch in tqdm(loader, desc=label, unit="batch", disable=not (progress and self.ctx.is_main), leave=False):
            total, batches = total + self.step(batch), batches + 1
        total_all, batches_all = self.ctx.all_sum([total, float(batches)])
        return total_all / max(batches_all, 1.0), batches


def _pair_files(videos: list[Path], out: Path, model: CodecModel, semantic_encoder, ctx: DistContext) -> list[Path]:
    """The cache files of the pairs: rank 0 encodes what is missing, the others wait and read."""
    spec = _feature_spec(model)
    files = None
    if ctx.is_main:
        ensure_writable_dir(out)
        files = prepare_pairs(videos, out / "cache", spec, model.music, model.conditioner, semantic_encoder)
    ctx.barrier()
    return files or prepare_pairs(videos, out / "cache", spec, model.music, model.conditioner, semantic_encoder)


def _write_epoch(out: Path, model: CodecModel, optimizer, state: dict, entry: dict, settings: dict) -> None:
    """Append the epoch to metrics.jsonl; save the checkpoint to OUT and, for resuming, OUT/last."""
    with open(out / METRICS_FILE, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry) + "\n")
    meta = {**settings, "epoch": entry["epoch"], "train_loss": entry["train_loss"]}
    save_codec_checkpoint(model, out, extra=meta)
    save_codec_checkpoint(model, out / "last", extra=meta, optimizer=optimizer, trainer_state=state)


def train_codec(
    pairs: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    music_model: str,
    encoder: str,
    conditioner: str = "vidmuse",
    epochs: int = 10,
    freeze: str = "lm",
    batch_size: int = 4,
    precision: str = "auto",
    resume: bool = False,
    lr: float = 1e-4,
    window: float = 30.0,
    cond_dropout: float = 0.1,
    device: str = "auto",
    seed: int = 0,
    num_workers: int = 0,
    progress: bool = True,
) -> dict:
    """Train a codec checkpoint on the videos in `pairs` (each with its own soundtrack) into `out_dir`;
    `pairs` may instead be a dataset folder built with `--codec-pairs` (its pair files are read as they are).

    music_model: MusicGen folder or cached hub id; encoder: clip:<folder or hub id>; conditioner:
    vidmuse | thesis; freeze: lm (conditioner only) | none (also the decoder, saved in the
    checkpoint); window: seconds per training window (the decoder's window at generation; a
    resumed run keeps its own); epochs counts from the start of the run (resume continues up to
    it). Returns a summary with the per-epoch `history` that metrics.jsonl also holds.
    """
    _check_options(conditioner, freeze, epochs, batch_size, window, cond_dropout)
    videos = None if holds_built_pairs(pairs) else list_videos(pairs)
    out, ctx = Path(out_dir), setup_distributed(device)
    try:
        prec = resolve_precision(precision, ctx.device)
        torch.manual_seed(seed)
        model, semantic_encoder, opt_state, state = _prepare_model(
            out, resume, music_model=music_model, encoder=encoder, conditioner=conditioner, window=window, ctx=ctx)
        if videos is None:
            files = built_pair_files(pairs, _feature_spec(model))
            if ctx.is_main:
                ensure_writable_dir(out)
        else:
            files = _pair_files(videos, out, model, semantic_encoder, ctx)
        trainable = _set_trainable(model, freeze)
        optimizer = torch.optim.AdamW(trainable, lr=lr, betas=(0.9, 0.95), weight_decay=0.1)
        if opt_state is not None:
            optimizer.load_state_dict(opt_state)
        loader, sampler = _loader(model, files, ctx, batch_size, seed, num_workers)
        model.train()
        if freeze == "lm":
            model.music.eval()  # a frozen decoder runs without dropout
        state = state or {"epoch": 0, "step": 0}
        run = _Run(model, trainable, optimizer, ctx, prec, cond_dropout, seed, state["step"])
        if ctx.is_main and not resume:
            (out / METRICS_FILE).unlink(missing_ok=True)
        settings = {"training": {"lr": lr, "batch_size": batch_size, "world_size": ctx.world_size, "precision": prec,
                                 "freeze": freeze, "cond_dropout": cond_dropout, "seed": seed, "pairs": str(pairs),
                                 "videos": len(files), "windows": len(loader.dataset)}}
        history = []
        for epoch in range(state["epoch"] + 1, epochs + 1):
            started = time.perf_counter()
            sampler.set_epoch(epoch)
            loss, steps = run.epoch(loader, f"codec epoch {epoch}/{epochs}", progress)
            state.update(epoch=epoch, step=state["step"] + steps)
            history.append({"epoch": epoch, "step": state["step"], "train_loss": loss,
                            "seconds": round(time.perf_counter() - started, 3)})
            if ctx.is_main:
                _write_epoch(out, model, optimizer, state, history[-1], settings)
            log.info("epoch %d: train loss %.4f", epoch, loss)
            ctx.barrier()
        return {"out_dir": str(out), "conditioner": conditioner, "epochs": state["epoch"], "steps": state["step"],
                "history": history}
    finally:
        ctx.close()
