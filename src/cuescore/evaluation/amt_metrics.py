"""Video2Music's objective metrics for the chord models and the regressor.

Hits@k: share of a video's target seconds (PAD ignored, END counted) whose true next chord is
    among the k most likely tokens; averaged over videos (Video2Music evaluates one video per batch).
Emotion correspondence: over the seconds whose dominant emotion has probability >= 0.8 and a
    non-empty chord-quality set (`EMOTION_QUALITIES`; neutral has none) and whose target is a chord,
    the share where the most likely token is a chord of a suiting quality; averaged over the videos
    that have such seconds. (The original counts a predicted N as `maj`; here N never suits.)
RMSE: root mean squared error of note density (notes per second) and of loudness (0-1), pooled
    over the real seconds of the split (the original also counted the zero padding up to 300 s).
Losses are token-weighted: chord cross-entropy without smoothing, affective BCE, and their
    0.4 / 0.6 mix for the AMT.
"""

from __future__ import annotations

import math
import os

import torch
from torch import Tensor
from torch.utils.data import DataLoader

from cuescore.data.dataset import MuViSyncDataset
from cuescore.errors import InputError, OptionError
from cuescore.models.checkpoint import load_model, read_config, regression_checkpoint
from cuescore.models.device import resolve_device
from cuescore.music.chords import END, PAD
from cuescore.training.losses import CHORD_WEIGHT, affective_targets, emotion_chord_table

EMOTION_THRESHOLD = 0.8


def hits_at_k(logits: Tensor, tgt: Tensor, k: int) -> Tensor:
    """Per-sequence Hits@k [B] (NaN where a sequence has no target): logits [B, L, V], tgt [B, L]."""
    top = logits.topk(k, dim=-1).indices
    hit = (top == tgt.unsqueeze(-1)).any(dim=-1)
    valid = tgt != PAD
    return (hit & valid).sum(dim=1) / valid.sum(dim=1)


def emotion_correspondence(
    pred: Tensor, tgt: Tensor, emotion: Tensor, emotions: tuple[str, ...], threshold: float = EMOTION_THRESHOLD
) -> Tensor:
    """Per-sequence emotion correspondence [B] (NaN where no second qualifies).

    pred, tgt: [B, L] tokens; emotion: [B, L] x len(emotions) probabilities of the target seconds.
    """
    table = emotion_chord_table(emotions).to(emotion.device)
    prob, dominant = emotion.max(dim=-1)
    suits = table[dominant]  # [B, L, V]
    eligible = (tgt != PAD) & (tgt != END) & (prob >= threshold) & (suits.sum(dim=-1) > 0)
    correct = suits.gather(-1, pred.unsqueeze(-1)).squeeze(-1) > 0
    return (correct & eligible).sum(dim=1) / eligible.sum(dim=1)


def _nansum_count(values: Tensor) -> tuple[float, int]:
    ok = ~torch.isnan(values)
    return float(values[ok].sum()), int(ok.sum())


class ChordStats:
    """Sums of the chord metrics over batches (and, through `values`/`load`, over processes)."""

    KEYS = ("ce_sum", "tokens", "bce_sum", "elements", "hits1", "hits3", "hits5", "videos", "cor_sum", "cor_videos")

    def __init__(self) -> None:
        self.sums = dict.fromkeys(self.KEYS, 0.0)

    def add(self, logits: Tensor, tgt: Tensor, emotion: Tensor, emotions: tuple[str, ...]) -> None:
        """logits [B, L, V], tgt [B, L], emotion [B, L, E] of the target seconds."""
        logits = logits.float()
        valid = tgt != PAD
        ce = torch.nn.functional.cross_entropy(logits.transpose(1, 2), tgt, ignore_index=PAD, reduction="sum")
        bce = torch.nn.functional.binary_cross_entropy_with_logits(
            logits, affective_targets(tgt, emotion, emotions), reduction="sum"
        )
        s = self.sums
        s["ce_sum"] += float(ce)
        s["tokens"] += int(valid.sum())
        s["bce_sum"] += float(bce)
        s["elements"] += logits.numel()
        hits = {k: _nansum_count(hits_at_k(logits, tgt, k)) for k in (1, 3, 5)}
        for k, (total, _) in hits.items():
            s[f"hits{k}"] += total
        s["videos"] += hits[1][1]
        total, n = _nansum_count(emotion_correspondence(logits.argmax(dim=-1), tgt, emotion, emotions))
        s["cor_sum"] += total
        s["cor_videos"] += n

    def values(self) -> list[float]:
        return [self.sums[k] for k in self.KEYS]

    def load(self, values: list[float]) -> None:
        self.sums = dict(zip(self.KEYS, values))

    def result(self, chord_weight: float | None) -> dict[str, float]:
        """Metrics; `loss` mixes chord and affective with chord_weight (None: chord loss alone)."""
        s = self.sums

        def ratio(a: str, b: str) -> float:
            return s[a] / s[b] if s[b] else math.nan

        chord, affective = ratio("ce_sum", "tokens"), ratio("bce_sum", "elements")
        loss = chord if chord_weight is None else chord_weight * chord + (1 - chord_weight) * affective
        return {
            "loss": loss,
            "chord_loss": chord,
            "affective_loss": affective,
            "hits@1": ratio("hits1", "videos"),
            "hits@3": ratio("hits3", "videos"),
            "hits@5": ratio("hits5", "videos"),
            "emotion_correspondence": ratio("cor_sum", "cor_videos"),
        }


class RegressionStats:
    """Sums of squared errors of (note density, loudness) over real seconds."""

    KEYS = ("sq_density", "sq_loudness", "seconds")

    def __init__(self) -> None:
        self.sums = dict.fromkeys(self.KEYS, 0.0)

    def add(self, pred: Tensor, target: Tensor, mask: Tensor) -> None:
        """pred, target [B, T, 2] (note density, loudness); mask [B, T] real seconds."""
        sq = (pred.float() - target).pow(2) * mask.unsqueeze(-1)
        self.sums["sq_density"] += float(sq[..., 0].sum())
        self.sums["sq_loudness"] += float(sq[..., 1].sum())
        self.sums["seconds"] += float(mask.sum())

    def values(self) -> list[float]:
        return [self.sums[k] for k in self.KEYS]

    def load(self, values: list[float]) -> None:
        self.sums = dict(zip(self.KEYS, values))

    def result(self) -> dict[str, float]:
        n = self.sums["seconds"]
        if not n:
            return {"loss": math.nan, "rmse": math.nan, "rmse_note_density": math.nan, "rmse_loudness": math.nan}
        d, ld = self.sums["sq_density"] / n, self.sums["sq_loudness"] / n
        return {"loss": (d + ld) / 2, "rmse": math.sqrt((d + ld) / 2), "rmse_note_density": math.sqrt(d),
                "rmse_loudness": math.sqrt(ld)}


@torch.no_grad()
def evaluate_amt(
    data_root: str | os.PathLike,
    checkpoint_dir: str | os.PathLike,
    split: str = "test",
    *,
    batch_size: int = 8,
    device: str = "auto",
    split_version: str = "v1",
) -> dict:
    """Score a checkpoint on a MuVi-Sync split. Chord models (AMT, Music Transformer): Hits@1/3/5,
    emotion correspondence and losses; a regressor: RMSE of note density and loudness.

    The checkpoint's config names the feature folders and sequence length it was trained with."""
    dev = resolve_device(device)
    model = load_model(checkpoint_dir, device=dev)
    config, cfg = model.checkpoint_config, model.config
    feats = config.get("features", {})
    kind = config["kind"]
    data = MuViSyncDataset(
        data_root,
        split,
        semantic=feats.get("semantic_folder"),  # None (not recorded): the only one the dataset holds
        emotion=feats.get("emotion_variant"),
        max_len=cfg.max_len,
        targets="regression" if kind == "regression" else "chords",
        split_version=split_version,
    )
    if kind != "music_transformer" and data.video_dim != cfg.video_dim:
        raise InputError(
            f"{data_root}: video rows are {data.video_dim} wide, but the checkpoint expects {cfg.video_dim} "
            f"(semantic encoder {feats.get('semantic_encoder', {}).get('id')!r})"
        )
    loader = DataLoader(data, batch_size=batch_size)
    stats = RegressionStats() if kind == "regression" else ChordStats()
    for batch in loader:
        video = batch["video"].to(dev)
        if kind == "regression":
            target = torch.stack([batch["note_density"], batch["loudness"]], dim=-1).to(dev)
            stats.add(model(video), target, batch["regression_mask"].to(dev))
        else:
            tgt = batch["tgt"].to(dev)
            logits = model(batch["x"].to(dev), batch["mode"].to(dev), video if cfg.video else None)
            stats.add(logits, tgt, batch["emotion"][:, 1:].to(dev), data.emotion_names)
    if kind == "regression":
        metrics = stats.result()
    else:
        metrics = stats.result(CHORD_WEIGHT if kind == "amt" else None)
    return {"kind": kind, "split": split, "videos": len(data), **metrics}


def _finite(value):
    """NaN → None, so the result is strict JSON."""
    return None if isinstance(value, float) and math.isnan(value) else value


def evaluate_checkpoints(
    data_root: str | os.PathLike,
    checkpoint: str | os.PathLike,
    split: str = "test",
    *,
    baseline: str | os.PathLike | None = None,
    regression: str | os.PathLike | None = None,
    device: str = "auto",
    batch_size: int = 8,
    split_version: str = "v1",
) -> dict:
    """`evaluate_amt` of an AMT checkpoint, and of its no-video baseline and its density/loudness
    regressor when given, on one split: {"split", "amt", "baseline"?, "regression"?} (NaN → None).

    regression: default the checkpoint's `regression/` subfolder when it holds one (where the
    `amt` engine looks for it). Each checkpoint must be of its role's kind (`OptionError`)."""
    if regression is None:
        regression = regression_checkpoint(checkpoint)
    roles = {"amt": (checkpoint, "amt"), "baseline": (baseline, "music_transformer"),
             "regression": (regression, "regression")}
    roles = {role: spec for role, spec in roles.items() if spec[0] is not None}
    for role, (path, kind) in roles.items():
        found = read_config(path)["kind"]
        if found != kind:
            raise OptionError(f"{path}: holds a {found} model, but the {role} checkpoint must be a {kind}")
    result: dict = {"split": split}
    for role, (path, _) in roles.items():
        metrics = evaluate_amt(data_root, path, split, batch_size=batch_size, device=device,
                               split_version=split_version)
        result[role] = {"checkpoint": str(path), **{k: _finite(v) for k, v in metrics.items() if k != "split"}}
    return result
