"""Video2Music's AMT and regressor restated from the layout of its public code (AMAAI-Lab/Video2Music).

These modules reproduce their state-dict keys and their forward passes (sequence-first tensors,
`nn.Transformer` with a custom relative-attention decoder, Huang et al.'s "skew" of the relative
logits over the last rows of `Er`, sinusoidal tables with dropout, the regressor's four recurrent
heads of which the bi-GRU is used) so that the tests can save weights exactly as Video2Music
does and compare cuescore's converted models with them. Token -> root/quality indices follow
their `chord_root.json` / `chord_attr.json` as their dataset reads them.
"""

from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F
from torch import Tensor, nn

ROOTS = ("N", "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
ATTRS = ("N", "maj", "dim", "sus4", "min7", "min", "sus2", "aug", "dim7", "maj6", "hdim7", "7", "min6", "maj7")
CHORD_END, CHORD_SIZE, ROOT_SIZE, ATTR_SIZE = 157, 159, 15, 16


def label_root_attr(label: str) -> tuple[int, int]:
    """Their dataset's (root, quality) ids of a chord label: "N" -> (0, 0), a bare root is "maj"."""
    if label == "N":
        return 0, 0
    root, _, quality = label.partition(":")
    return ROOTS.index(root), ATTRS.index(quality or "maj")


def skew(qe: Tensor) -> Tensor:
    """Huang et al.'s skew: qe [N, L, L] (column m = distance L-1-m) -> S_rel [N, L, L], lower triangle valid."""
    L = qe.shape[1]
    keep = torch.triu(torch.ones(L, L)).flip(0)
    padded = F.pad(keep * qe, (1, 0))
    return padded.reshape(qe.shape[0], L + 1, L)[:, 1:, :]


class RPRSelfAttention(nn.Module):
    """Their MultiheadAttentionRPR for self-attention: packed in_proj, out_proj, Er [er_len, head_dim]."""

    def __init__(self, d: int, heads: int, dropout: float, er_len: int) -> None:
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d, d))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * d))
        self.out_proj = nn.Linear(d, d)
        self.Er = nn.Parameter(torch.rand(er_len, d // heads))
        nn.init.xavier_uniform_(self.in_proj_weight)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        L, B, D = x.shape
        hd = D // self.heads
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)
        q = (q * hd**-0.5).reshape(L, B * self.heads, hd).transpose(0, 1)
        k = k.reshape(L, B * self.heads, hd).transpose(0, 1)
        v = v.reshape(L, B * self.heads, hd).transpose(0, 1)
        logits = torch.bmm(q, k.transpose(1, 2))
        er = self.Er[max(0, self.Er.shape[0] - L):]
        logits = logits + skew(torch.einsum("hld,md->hlm", q, er)) + mask[None]
        weights = F.dropout(torch.softmax(logits, dim=-1), self.dropout, self.training)
        out = torch.bmm(weights, v).transpose(0, 1).reshape(L, B, D)
        return self.out_proj(out)


class RPRDecoderLayer(nn.Module):
    """Their TransformerDecoderLayerRPR: post-norm self-attention (RPR), cross-attention, ReLU feed-forward."""

    def __init__(self, d: int, heads: int, d_ff: int, dropout: float, er_len: int) -> None:
        super().__init__()
        self.self_attn = RPRSelfAttention(d, heads, dropout, er_len)
        self.multihead_attn = nn.MultiheadAttention(d, heads, dropout=dropout)
        self.linear1, self.dropout, self.linear2 = nn.Linear(d, d_ff), nn.Dropout(dropout), nn.Linear(d_ff, d)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.dropout1, self.dropout2, self.dropout3 = nn.Dropout(dropout), nn.Dropout(dropout), nn.Dropout(dropout)

    def forward(self, tgt: Tensor, memory: Tensor, mask: Tensor) -> Tensor:
        tgt = self.norm1(tgt + self.dropout1(self.self_attn(tgt, mask)))
        tgt = self.norm2(tgt + self.dropout2(self.multihead_attn(tgt, memory, memory)[0]))
        return self.norm3(tgt + self.dropout3(self.linear2(self.dropout(F.relu(self.linear1(tgt))))))


class RPRDecoder(nn.Module):
    """Their TransformerDecoderRPR, taking (and ignoring) the extra arguments nn.Transformer passes."""

    def __init__(self, layers: list[RPRDecoderLayer], norm: nn.LayerNorm) -> None:
        super().__init__()
        self.layers, self.norm = nn.ModuleList(layers), norm

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None, **_) -> Tensor:
        for layer in self.layers:
            tgt = layer(tgt, memory, tgt_mask)
        return self.norm(tgt)


class PositionalEncoding(nn.Module):
    """Sinusoids `pe` [max_len, 1, d] added to sequence-first input, then dropout."""

    def __init__(self, d: int, dropout: float, max_len: int) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        pos = torch.arange(max_len, dtype=torch.float)[:, None]
        div = torch.exp(torch.arange(0, d, 2).float() * (-math.log(10000.0) / d))
        pe = torch.zeros(max_len, d)
        pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * div), torch.cos(pos * div)
        self.register_buffer("pe", pe[:, None, :])

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(x + self.pe[: x.shape[0]])


class VideoMusicTransformer(nn.Module):
    """Their AMT with RPR: 207 state-dict keys at the released size."""

    def __init__(self, n_layers: int = 6, heads: int = 8, d: int = 512, d_ff: int = 1024, dropout: float = 0.1,
                 max_seq: int = 300, video_dim: int = 776) -> None:
        super().__init__()
        self.embedding = nn.Embedding(CHORD_SIZE, d)
        self.embedding_root, self.embedding_attr = nn.Embedding(ROOT_SIZE, d), nn.Embedding(ATTR_SIZE, d)
        self.Linear_vis, self.Linear_chord = nn.Linear(video_dim, d), nn.Linear(d + 1, d)
        self.positional_encoding = PositionalEncoding(d, dropout, max_seq)
        self.positional_encoding_video = PositionalEncoding(d, dropout, max_seq)
        self.condition_linear = nn.Linear(1, d)
        decoder = RPRDecoder([RPRDecoderLayer(d, heads, d_ff, dropout, max_seq) for _ in range(n_layers)],
                             nn.LayerNorm(d))
        with warnings.catch_warnings():  # torch's note that sequence-first encoders skip its nested-tensor path
            warnings.simplefilter("ignore")
            self.transformer = nn.Transformer(d, heads, n_layers, n_layers, d_ff, dropout, custom_decoder=decoder)
        self.Wout = nn.Linear(d, CHORD_SIZE)
        self.Wout_root, self.Wout_attr = nn.Linear(d, ROOT_SIZE), nn.Linear(d, ATTR_SIZE)

    def forward(self, x_root: Tensor, x_attr: Tensor, semantic: Tensor, key: float, scene_offset: Tensor,
                motion: Tensor, emotion: Tensor) -> Tensor:
        """Batch-first ids [B, L] and video parts [B, T, ...] -> logits [B, L, 159]; key 0 major, 1 minor."""
        L = x_root.shape[1]
        mask = torch.triu(torch.full((L, L), float("-inf")), diagonal=1)
        x = self.embedding_root(x_root) + self.embedding_attr(x_attr)
        x = self.Linear_chord(torch.cat([x, torch.full((*x.shape[:2], 1), float(key))], dim=-1))
        video = torch.cat([semantic, scene_offset[..., None], motion[..., None], emotion], dim=-1)
        vf = self.positional_encoding_video(self.Linear_vis(video).permute(1, 0, 2))
        xf = self.positional_encoding(x.permute(1, 0, 2))
        return self.Wout(self.transformer(src=vf, tgt=xf, tgt_mask=mask).permute(1, 0, 2))


class VideoRegression(nn.Module):
    """Their regressor: bilstm, bigru, lstm, gru heads (52 keys at the released size); runs the bi-GRU."""

    def __init__(self, n_layers: int = 2, hidden: int = 64, dropout: float = 0.1, video_dim: int = 776) -> None:
        super().__init__()
        self.dropout = dropout
        self.bilstm = nn.LSTM(video_dim, hidden, n_layers, bidirectional=True)
        self.bigru = nn.GRU(video_dim, hidden, n_layers, bidirectional=True)
        self.bifc = nn.Linear(2 * hidden, 2)
        self.lstm, self.gru = nn.LSTM(video_dim, hidden, n_layers), nn.GRU(video_dim, hidden, n_layers)
        self.fc = nn.Linear(hidden, 2)

    def forward(self, video: Tensor) -> Tensor:
        """Batch-first rows [B, T, video_dim] -> [B, T, 2] (note density, loudness)."""
        x = F.dropout(video.permute(1, 0, 2), self.dropout, self.training)
        return self.bifc(self.bigru(x)[0].permute(1, 0, 2))
