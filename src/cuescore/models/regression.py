"""Video2Music's regressor: a bidirectional GRU that predicts note density and loudness per second.

Input rows are the AMT's video rows ([B, T, video_dim], `cuescore.data.matrices.video_matrix`);
output [B, T, 2] is note density (notes sounding per second) and loudness (RMS amplitude, 0-1),
in that order, as in MuVi-Sync's `vevo_note_density` and `vevo_loudness`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import Tensor, nn

REGRESSION_SIZES: dict[str, dict[str, int]] = {
    "paper": {"hidden": 64, "n_layers": 2},
    "small": {"hidden": 64, "n_layers": 2},
    "debug": {"hidden": 16, "n_layers": 1},
}
"""Named sizes; `paper` is Video2Music's (2 layers, 64 units each way)."""

TARGET_NAMES = ("note_density", "loudness")


@dataclass
class RegressionConfig:
    """Hyperparameters of `VideoRegression`; dropout applies to the input rows."""

    video_dim: int = 776
    hidden: int = 64
    n_layers: int = 2
    dropout: float = 0.1
    bidirectional: bool = True
    max_len: int = 300

    @classmethod
    def sized(cls, size: str, **overrides) -> "RegressionConfig":
        if size not in REGRESSION_SIZES:
            raise ValueError(f"unknown model size {size!r}; choose one of {', '.join(REGRESSION_SIZES)}")
        return cls(**{**REGRESSION_SIZES[size], **overrides})

    def to_dict(self) -> dict:
        return asdict(self)


class VideoRegression(nn.Module):
    """Video rows [B, T, video_dim] -> [B, T, 2] (note density, loudness)."""

    kind = "regression"

    def __init__(self, config: RegressionConfig) -> None:
        super().__init__()
        self.config = cfg = config
        self.drop = nn.Dropout(cfg.dropout)
        self.rnn = nn.GRU(cfg.video_dim, cfg.hidden, cfg.n_layers, batch_first=True, bidirectional=cfg.bidirectional)
        self.out = nn.Linear(cfg.hidden * (2 if cfg.bidirectional else 1), len(TARGET_NAMES))

    def forward(self, video: Tensor) -> Tensor:
        hidden, _ = self.rnn(self.drop(video))
        return self.out(hidden)


@torch.no_grad()
def predict_density_loudness(
    model: VideoRegression, features_tensor: Tensor | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Note density [T] (notes per second) and loudness [T] (0-1) for video rows [T, video_dim]."""
    video = torch.as_tensor(np.asarray(features_tensor, np.float32))
    if video.ndim != 2 or video.shape[1] != model.config.video_dim:
        raise ValueError(f"features_tensor must be [T, {model.config.video_dim}], got {tuple(video.shape)}")
    was_training = model.training
    model.eval()
    try:
        pred = model(video[None].to(model.out.weight.device))[0].float().cpu().numpy()
    finally:
        model.train(was_training)
    return pred[:, 0], pred[:, 1]
