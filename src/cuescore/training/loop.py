"""Training loops: the AMT, its no-video Music Transformer baseline, and the note density /
loudness regressor, on a MuVi-Sync folder.

A run writes into its output folder: the best checkpoint so far (lowest validation loss;
`config.json` + `model.safetensors`, what `load_model(out_dir)` and `evaluate_amt` read),
`last/` (the latest epoch with `optimizer.pt` and `trainer_state.json`, for `resume=True`) and
`metrics.jsonl` (one JSON object per epoch; epoch 0 is the untrained model, as in Video2Music).
Launched by `torchrun --nproc-per-node N`, the same call trains data-parallel (DDP): each process
takes `batch_size` sequences per step and rank 0 alone writes.
"""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler
from tqdm.auto import tqdm

from cuescore.data.dataset import MuViSyncDataset
from cuescore.data.muvisync import DEFAULT_EMOTION, DEFAULT_SEMANTIC
from cuescore.errors import InputError, OptionError, OutputError
from cuescore.evaluation.amt_metrics import ChordStats, RegressionStats
from cuescore.fileio import ensure_writable_dir
from cuescore.models.amt import AMTConfig, ChordTransformer
from cuescore.models.checkpoint import STATE_FILE, load_model, load_training_state, save_checkpoint
from cuescore.models.regression import RegressionConfig, VideoRegression
from cuescore.training.distributed import (
    ADAM_BETAS,
    ADAM_EPS,
    DistContext,
    ShardSampler,
    autocast,
    noam_schedule,
    resolve_precision,
    setup_distributed,
)
from cuescore.training.losses import CHORD_WEIGHT, amt_loss, regression_loss

log = logging.getLogger("cuescore.training")
METRICS_FILE = "metrics.jsonl"


class _ChordTask:
    """The AMT (video=True) or the Music Transformer baseline (video=False)."""

    targets = "chords"

    def __init__(self, *, video: bool, rpr: bool, size: str, dropout: float, lr: float | None,
                 warmup_steps: int, smoothing: float, chord_weight: float) -> None:
        self.video, self.rpr, self.size, self.dropout = video, rpr, size, dropout
        self.peak_lr, self.warmup, self.smoothing, self.chord_weight = lr, warmup_steps, smoothing, chord_weight
        self.emotions: tuple[str, ...] = ()
        self.schedule = None

    @property
    def kind(self) -> str:
        return "amt" if self.video else "music_transformer"

    @property
    def settings(self) -> dict:
        return {"lr": self.peak_lr, "warmup_steps": self.warmup, "label_smoothing": self.smoothing,
                "chord_weight": self.chord_weight if self.video else None, "model_size": self.size}

    def build(self, data: MuViSyncDataset) -> nn.Module:
        cfg = AMTConfig.sized(self.size, video_dim=data.video_dim if self.video else 0, video=self.video,
                              rpr=self.rpr, max_len=data.max_len, dropout=self.dropout)
        return ChordTransformer(cfg)

    def optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        self.schedule = noam_schedule(model.config.d_model, self.warmup, self.peak_lr)
        return torch.optim.Adam(model.parameters(), lr=self.schedule(1), betas=ADAM_BETAS, eps=ADAM_EPS, foreach=True)

    def lr_at(self, step: int) -> float | None:
        return self.schedule(step)

    def _forward(self, model: nn.Module, batch: dict, dev: torch.device) -> Tensor:
        video = batch["video"].to(dev) if self.video else None
        return model(batch["x"].to(dev), batch["mode"].to(dev), video)

    def loss(self, model: nn.Module, batch: dict, dev: torch.device) -> dict[str, Tensor]:
        logits = self._forward(model, batch, dev)
        emotion = batch["emotion"][:, 1:].to(dev) if self.video else None
        return amt_loss(logits, batch["tgt"].to(dev), emotion, smoothing=self.smoothing,
                        chord_weight=self.chord_weight, emotions=self.emotions)

    def new_stats(self) -> ChordStats:
        return ChordStats()

    def evaluate(self, model: nn.Module, batch: dict, dev: torch.device, stats: ChordStats) -> None:
        logits = self._forward(model, batch, dev)
        stats.add(logits, batch["tgt"].to(dev), batch["emotion"][:, 1:].to(dev), self.emotions)

    def result(self, stats: ChordStats) -> dict[str, float]:
        return stats.result(self.chord_weight if self.video else None)


class _RegressionTask:
    """Video2Music's regressor: MSE, Adam (lr 1e-3, weight decay 1e-5), constant learning rate."""

    targets = "regression"
    kind = "regression"

    def __init__(self, *, size: str, dropout: float, lr: float, weight_decay: float) -> None:
        self.size, self.dropout, self.lr, self.weight_decay = size, dropout, lr, weight_decay

    @property
    def settings(self) -> dict:
        return {"lr": self.lr, "weight_decay": self.weight_decay, "model_size": self.size}

    def build(self, data: MuViSyncDataset) -> nn.Module:
        cfg = RegressionConfig.sized(self.size, video_dim=data.video_dim, max_len=data.max_len, dropout=self.dropout)
        return VideoRegression(cfg)

    def optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        return torch.optim.Adam(model.parameters(), lr=self.lr, weight_decay=self.weight_decay, foreach=True)

    def lr_at(self, step: int) -> float | None:
        return None

    @staticmethod
    def _target(batch: dict, dev: torch.device) -> tuple[Tensor, Tensor]:
        target = torch.stack([batch["note_density"], batch["loudness"]], dim=-1)
        return target.to(dev), batch["regression_mask"].to(dev)

    def loss(self, model: nn.Module, batch: dict, dev: torch.device) -> dict[str, Tensor]:
        target, mask = self._target(batch, dev)
        return {"loss": regression_loss(model(batch["video"].to(dev)), target, mask)}

    def new_stats(self) -> RegressionStats:
        return RegressionStats()

    def evaluate(self, model: nn.Module, batch: dict, dev: torch.device, stats: RegressionStats) -> None:
        target, mask = self._target(batch, dev)
        stats.add(model(batch["video"].to(dev)), target, mask)

    def result(self, stats: RegressionStats) -> dict[str, float]:
        return stats.result()


@torch.no_grad()
def _validate(task, model: nn.Module, loader: DataLoader, ctx: DistContext, precision: str) -> dict[str, float]:
    model.eval()
    stats = task.new_stats()
    for batch in loader:
        with autocast(ctx.device, precision):
            task.evaluate(model, batch, ctx.device, stats)
    stats.load(ctx.all_sum(stats.values()))
    model.train()
    return task.result(stats)


def _fit(task, data_root: str | os.PathLike, out_dir: str | os.PathLike, *, epochs: int, batch_size: int,
         resume: bool, progress: bool, device: str, semantic: str, emotion: str, max_len: int, precision: str,
         num_workers: int, seed: int, split_version: str) -> dict:
    if epochs < 1 or batch_size < 1:
        raise OptionError(f"epochs and batch size must be at least 1 (got {epochs}, {batch_size})")
    out, ctx = Path(out_dir), setup_distributed(device)
    try:
        prec = resolve_precision(precision, ctx.device)
        opts = {"semantic": semantic, "emotion": emotion, "max_len": max_len, "targets": task.targets,
                "split_version": split_version}
        train_set = MuViSyncDataset(data_root, "train", **opts)
        val_set = MuViSyncDataset(data_root, "val", semantic_dim=train_set.semantic_dim, **opts)
        task.emotions = train_set.emotion_names
        last = out / "last"
        has_run = (last / STATE_FILE).is_file()
        if has_run and not resume:
            raise OutputError(f"{out} already holds a training run; continue it with --resume (resume=True) "
                              "or choose another folder")
        if resume and not has_run:
            warnings.warn(f"{out}: nothing to resume; starting a new run", stacklevel=3)
        opt_state, state = load_training_state(last) if resume and has_run else (None, None)
        if state is not None:
            model = load_model(last)
            if model.kind != task.kind:
                raise InputError(f"{last}: the run trains a {model.kind} model, not a {task.kind}")
            expected = train_set.video_dim if getattr(model.config, "video", True) else 0
            if model.config.video_dim != expected or model.config.max_len != max_len:
                raise InputError(f"{last}: the saved model does not fit this data (video width or max_len differ)")
        else:
            torch.manual_seed(seed)
            model = task.build(train_set)
        model.to(ctx.device).train()
        torch.manual_seed(seed + 1009 * ctx.rank)
        optimizer = task.optimizer(model)
        if opt_state is not None:
            optimizer.load_state_dict(opt_state)
        net = model
        if ctx.distributed:
            net = DistributedDataParallel(model, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None)
        scaler = torch.amp.GradScaler("cuda") if prec == "fp16" else None
        sampler = DistributedSampler(train_set, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True, seed=seed)
        train_loader = DataLoader(train_set, batch_size=batch_size, sampler=sampler, num_workers=num_workers)
        val_loader = DataLoader(val_set, batch_size=batch_size, num_workers=num_workers,
                                sampler=ShardSampler(len(val_set), ctx.rank, ctx.world_size))
        state = state or {"epoch": 0, "step": 0, "best_val_loss": None, "best_epoch": None}
        config = {"features": train_set.feature_info(),
                  "training": {**task.settings, "batch_size": batch_size, "world_size": ctx.world_size,
                               "precision": prec, "seed": seed, "data": str(data_root)}}
        history: list[dict] = []

        def record(entry: dict) -> None:
            history.append(entry)
            if ctx.is_main:
                with open(out / METRICS_FILE, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(entry) + "\n")

        if ctx.is_main:
            ensure_writable_dir(out)
            if not resume:
                (out / METRICS_FILE).unlink(missing_ok=True)
        ctx.barrier()
        if state["epoch"] == 0:
            untrained = _validate(task, model, val_loader, ctx, prec)
            record({"epoch": 0, "step": 0, **{f"val_{k}": v for k, v in untrained.items()}})
        log.info("training %s on %d videos (%d val), %d process(es), %s", model.kind, len(train_set), len(val_set),
                 ctx.world_size, ctx.device)
        for epoch in range(state["epoch"] + 1, epochs + 1):
            started = time.perf_counter()
            sampler.set_epoch(epoch)
            sums: dict[str, float] = {}
            bar = tqdm(train_loader, desc=f"{model.kind} epoch {epoch}/{epochs}", unit="batch",
                       disable=not (progress and ctx.is_main), leave=False)
            for batch in bar:
                state["step"] += 1
                lr = task.lr_at(state["step"])
                if lr is not None:
                    for group in optimizer.param_groups:
                        group["lr"] = lr
                with autocast(ctx.device, prec):
                    parts = task.loss(net, batch, ctx.device)
                optimizer.zero_grad(set_to_none=True)
                if scaler is not None:
                    scaler.scale(parts["loss"]).backward()
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    parts["loss"].backward()
                    optimizer.step()
                values = {k: float(v.detach()) for k, v in parts.items()}
                for k, v in values.items():
                    sums[k] = sums.get(k, 0.0) + v
                sums["batches"] = sums.get("batches", 0.0) + 1
                bar.set_postfix(loss=f"{values['loss']:.3f}")
            keys = sorted(sums)
            totals = dict(zip(keys, ctx.all_sum([sums[k] for k in keys])))
            n = totals.pop("batches")
            val = _validate(task, model, val_loader, ctx, prec)
            entry = {"epoch": epoch, "step": state["step"], "lr": optimizer.param_groups[0]["lr"],
                     **{f"train_{k}": v / n for k, v in totals.items()}, **{f"val_{k}": v for k, v in val.items()},
                     "seconds": round(time.perf_counter() - started, 3)}
            record(entry)
            improved = state["best_val_loss"] is None or val["loss"] < state["best_val_loss"]
            if improved:
                state["best_val_loss"], state["best_epoch"] = val["loss"], epoch
            state["epoch"] = epoch
            if ctx.is_main:
                meta = {**config, "epoch": epoch, "val": val}
                if improved:
                    save_checkpoint(model, out, meta)
                save_checkpoint(model, last, meta, optimizer=optimizer, extra=state)
            log.info("epoch %d: train loss %.4f, val loss %.4f", epoch, entry["train_loss"], val["loss"])
            ctx.barrier()
        return {"out_dir": str(out), "kind": model.kind, "epochs": state["epoch"], "steps": state["step"],
                "best_epoch": state["best_epoch"], "best_val_loss": state["best_val_loss"], "history": history}
    finally:
        ctx.close()


def train_amt(
    data_root: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    epochs: int = 20,
    batch_size: int = 8,
    lr: float | None = None,
    resume: bool = False,
    rpr: bool = True,
    video: bool = True,
    model_size: str = "paper",
    progress: bool = True,
    device: str = "auto",
    semantic: str = DEFAULT_SEMANTIC,
    emotion: str = DEFAULT_EMOTION,
    max_len: int = 300,
    warmup_steps: int = 4000,
    label_smoothing: float = 0.1,
    chord_weight: float = CHORD_WEIGHT,
    dropout: float = 0.1,
    precision: str = "auto",
    num_workers: int = 0,
    seed: int = 0,
    split_version: str = "v1",
) -> dict:
    """Train the AMT (or, with video=False, the Music Transformer baseline) on a MuVi-Sync folder.

    Loss: 0.4 x label-smoothed chord CE + 0.6 x affective BCE (`cuescore.training.losses`).
    Adam (0.9, 0.98, 1e-9) with the Noam warm-up schedule: lr=None is Video2Music's
    d_model^-0.5 * min(s^-0.5, s * warmup^-1.5); a number is the peak reached after `warmup_steps`.
    epochs counts from the start of the run (resume continues up to it). semantic / emotion name the
    feature folders; max_len is seconds per sequence (300 in the paper). Returns a summary with the
    per-epoch `history` that `metrics.jsonl` also holds.
    """
    task = _ChordTask(video=video, rpr=rpr, size=model_size, dropout=dropout, lr=lr, warmup_steps=warmup_steps,
                      smoothing=label_smoothing, chord_weight=chord_weight)
    return _fit(task, data_root, out_dir, epochs=epochs, batch_size=batch_size, resume=resume, progress=progress,
                device=device, semantic=semantic, emotion=emotion, max_len=max_len, precision=precision,
                num_workers=num_workers, seed=seed, split_version=split_version)


def train_regression(
    data_root: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    epochs: int = 20,
    batch_size: int = 8,
    lr: float = 1e-3,
    weight_decay: float = 1e-5,
    resume: bool = False,
    model_size: str = "paper",
    progress: bool = True,
    device: str = "auto",
    semantic: str = DEFAULT_SEMANTIC,
    emotion: str = DEFAULT_EMOTION,
    max_len: int = 300,
    dropout: float = 0.1,
    precision: str = "auto",
    num_workers: int = 0,
    seed: int = 0,
    split_version: str = "v1",
) -> dict:
    """Train the bi-GRU that predicts note density and loudness per second (masked MSE, Adam).
    Same outputs and options as `train_amt`."""
    task = _RegressionTask(size=model_size, dropout=dropout, lr=lr, weight_decay=weight_decay)
    return _fit(task, data_root, out_dir, epochs=epochs, batch_size=batch_size, resume=resume, progress=progress,
                device=device, semantic=semantic, emotion=emotion, max_len=max_len, precision=precision,
                num_workers=num_workers, seed=seed, split_version=split_version)
