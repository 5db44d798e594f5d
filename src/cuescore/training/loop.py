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
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler
from tqdm.auto import tqdm

from cuescore.data.dataset import MuViSyncDataset
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


@dataclass
class _Run:
    """One training run in progress: its model (and the DDP wrapper `net` that trains it), the
    optimizer, the loaders and the trainer state that `last/` saves for resuming."""

    task: _ChordTask | _RegressionTask
    ctx: DistContext
    out: Path
    precision: str
    model: nn.Module
    net: nn.Module
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler | None
    sampler: DistributedSampler
    train_loader: DataLoader
    val_loader: DataLoader
    state: dict
    config: dict
    history: list[dict] = field(default_factory=list)

    def record(self, entry: dict) -> None:
        """Keep one epoch's metrics and append them to `metrics.jsonl` (rank 0)."""
        self.history.append(entry)
        if self.ctx.is_main:
            with open(self.out / METRICS_FILE, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry) + "\n")

    def summary(self) -> dict:
        return {"out_dir": str(self.out), "kind": self.model.kind, "epochs": self.state["epoch"],
                "steps": self.state["step"], "best_epoch": self.state["best_epoch"],
                "best_val_loss": self.state["best_val_loss"], "history": self.history}


def _fit(task, data_root: str | os.PathLike, out_dir: str | os.PathLike, *, epochs: int, batch_size: int,
         resume: bool, progress: bool, device: str, semantic: str | None, emotion: str | None, max_len: int, precision: str,
         num_workers: int, seed: int, split_version: str) -> dict:
    """Train `task`'s model for `epochs` (counted from the start of the run); the run's summary."""
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
        run = _start(task, ctx, out, train_set, val_set, resume=resume, precision=prec, seed=seed,
                     batch_size=batch_size, num_workers=num_workers, data_root=data_root)
        for epoch in range(run.state["epoch"] + 1, epochs + 1):
            started = time.perf_counter()
            train = _train_epoch(run, epoch, f"{run.model.kind} epoch {epoch}/{epochs}", progress)
            _end_epoch(run, epoch, train, started)
        return run.summary()
    finally:
        ctx.close()


def _resume_or_build(task, out: Path, train_set: MuViSyncDataset, resume: bool, seed: int,
                     ) -> tuple[nn.Module, dict | None, dict | None]:
    """(model, optimizer state, trainer state): the run in `out/last` when resuming one, else a
    new model seeded with `seed`; `OutputError` for a run there that is not resumed."""
    last = out / "last"
    has_run = (last / STATE_FILE).is_file()
    if has_run and not resume:
        raise OutputError(f"{out} already holds a training run; continue it with --resume (resume=True) "
                          "or choose another folder")
    if resume and not has_run:
        warnings.warn(f"{out}: nothing to resume; starting a new run", stacklevel=5)
    opt_state, state = load_training_state(last) if resume and has_run else (None, None)
    if state is None:
        torch.manual_seed(seed)
        return task.build(train_set), opt_state, state
    model = load_model(last)
    if model.kind != task.kind:
        raise InputError(f"{last}: the run trains a {model.kind} model, not a {task.kind}")
    expected = train_set.video_dim if getattr(model.config, "video", True) else 0
    if model.config.video_dim != expected or model.config.max_len != train_set.max_len:
        raise InputError(f"{last}: the saved model does not fit this data (video width or max_len differ)")
    return model, opt_state, state


def _start(task, ctx: DistContext, out: Path, train_set: MuViSyncDataset, val_set: MuViSyncDataset, *,
           resume: bool, precision: str, seed: int, batch_size: int, num_workers: int,
           data_root: str | os.PathLike) -> _Run:
    """The run ready for its next epoch: model, optimizer, loaders, the output folder (a new run's
    metrics cleared) and, for a new run, epoch 0's validation of the untrained model.
    precision: resolved ("fp32", "bf16" or "fp16")."""
    model, opt_state, state = _resume_or_build(task, out, train_set, resume, seed)
    model.to(ctx.device).train()
    torch.manual_seed(seed + 1009 * ctx.rank)
    optimizer = task.optimizer(model)
    if opt_state is not None:
        optimizer.load_state_dict(opt_state)
    net = model
    if ctx.distributed:
        net = DistributedDataParallel(model, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None)
    sampler = DistributedSampler(train_set, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True, seed=seed)
    config = {"features": train_set.feature_info(),
              "training": {**task.settings, "batch_size": batch_size, "world_size": ctx.world_size,
                           "precision": precision, "seed": seed, "data": str(data_root)}}
    run = _Run(task, ctx, out, precision, model, net, optimizer,
               scaler=torch.amp.GradScaler("cuda") if precision == "fp16" else None, sampler=sampler,
               train_loader=DataLoader(train_set, batch_size=batch_size, sampler=sampler, num_workers=num_workers),
               val_loader=DataLoader(val_set, batch_size=batch_size, num_workers=num_workers,
                                     sampler=ShardSampler(len(val_set), ctx.rank, ctx.world_size)),
               state=state or {"epoch": 0, "step": 0, "best_val_loss": None, "best_epoch": None}, config=config)
    if ctx.is_main:
        ensure_writable_dir(out)
        if not resume:
            (out / METRICS_FILE).unlink(missing_ok=True)
    ctx.barrier()
    if run.state["epoch"] == 0:
        untrained = _validate(task, model, run.val_loader, ctx, precision)
        run.record({"epoch": 0, "step": 0, **{f"val_{k}": v for k, v in untrained.items()}})
    log.info("training %s on %d videos (%d val), %d process(es), %s", model.kind, len(train_set), len(val_set),
             ctx.world_size, ctx.device)
    return run


def _train_epoch(run: _Run, epoch: int, desc: str, progress: bool) -> dict[str, float]:
    """One pass over this process's share of the training set; the mean of each loss part over
    every batch of every process."""
    run.sampler.set_epoch(epoch)
    sums: dict[str, float] = {}
    bar = tqdm(run.train_loader, desc=desc, unit="batch", disable=not (progress and run.ctx.is_main), leave=False)
    for batch in bar:
        values = _step(run, batch)
        for k, v in values.items():
            sums[k] = sums.get(k, 0.0) + v
        sums["batches"] = sums.get("batches", 0.0) + 1
        bar.set_postfix(loss=f"{values['loss']:.3f}")
    keys = sorted(sums)
    totals = dict(zip(keys, run.ctx.all_sum([sums[k] for k in keys])))
    n = totals.pop("batches")
    return {k: v / n for k, v in totals.items()}


def _step(run: _Run, batch: dict) -> dict[str, float]:
    """One optimizer step on `batch` (the learning rate set by the task's schedule); its loss parts."""
    run.state["step"] += 1
    lr = run.task.lr_at(run.state["step"])
    if lr is not None:
        for group in run.optimizer.param_groups:
            group["lr"] = lr
    with autocast(run.ctx.device, run.precision):
        parts = run.task.loss(run.net, batch, run.ctx.device)
    run.optimizer.zero_grad(set_to_none=True)
    if run.scaler is not None:
        run.scaler.scale(parts["loss"]).backward()
        run.scaler.step(run.optimizer)
        run.scaler.update()
    else:
        parts["loss"].backward()
        run.optimizer.step()
    return {k: float(v.detach()) for k, v in parts.items()}


def _end_epoch(run: _Run, epoch: int, train: dict[str, float], started: float) -> None:
    """Validate, record the epoch's metrics, save the best checkpoint (if it improved) and `last/`."""
    val = _validate(run.task, run.model, run.val_loader, run.ctx, run.precision)
    entry = {"epoch": epoch, "step": run.state["step"], "lr": run.optimizer.param_groups[0]["lr"],
             **{f"train_{k}": v for k, v in train.items()}, **{f"val_{k}": v for k, v in val.items()},
             "seconds": round(time.perf_counter() - started, 3)}
    run.record(entry)
    state = run.state
    improved = state["best_val_loss"] is None or val["loss"] < state["best_val_loss"]
    if improved:
        state["best_val_loss"], state["best_epoch"] = val["loss"], epoch
    state["epoch"] = epoch
    if run.ctx.is_main:
        meta = {**run.config, "epoch": epoch, "val": val}
        if improved:
            save_checkpoint(run.model, run.out, meta)
        save_checkpoint(run.model, run.out / "last", meta, optimizer=run.optimizer, extra=state)
    log.info("epoch %d: train loss %.4f, val loss %.4f", epoch, entry["train_loss"], val["loss"])
    run.ctx.barrier()


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
    semantic: str | None = None,
    emotion: str | None = None,
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
    feature folders (None: the only one the dataset holds; `OptionError` listing them when several); max_len is seconds per sequence (300 in the paper). Returns a summary with the
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
    semantic: str | None = None,
    emotion: str | None = None,
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
