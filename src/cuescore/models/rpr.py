"""Multi-head attention with optional relative position representations (Music Transformer).

Relative attention (Shaw et al. 2018; Huang et al. 2018, "Music Transformer") adds to each causal
self-attention logit a term `q_i . E[i - j]` that depends only on how far key j lies behind query i.
As in Video2Music's `rpr.py`, one table `E` [max_distance, head_dim] is shared by the heads; its
row d is distance d (0 = the same position); farther distances use the last row. The term is
computed with a gather instead of the memory "skew", which lets the same code serve the full pass
and incremental decoding with a key/value cache.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def relative_logits(q: Tensor, table: Tensor, q_offset: int, k_len: int) -> Tensor:
    """Relative-position logits [B, H, n, k_len] for queries at positions q_offset..q_offset+n-1.

    q: [B, H, n, head_dim] (already scaled); table: [max_distance, head_dim]. Entries where the key
    lies after the query (masked anyway by causal attention) are 0.
    """
    n = q.shape[2]
    max_distance = table.shape[0]
    far = min(q_offset + n, max_distance)
    qe = torch.matmul(q, table[:far].transpose(0, 1))  # [B, H, n, far]
    pos_q = torch.arange(q_offset, q_offset + n, device=q.device)[:, None]
    pos_k = torch.arange(k_len, device=q.device)[None, :]
    dist = pos_q - pos_k
    index = dist.clamp(0, far - 1).expand(*q.shape[:2], n, k_len)
    rel = torch.gather(qe, -1, index)
    return rel.masked_fill(dist < 0, 0.0)


def causal_mask(n: int, k_len: int, q_offset: int, device: torch.device) -> Tensor:
    """Boolean [n, k_len]: True where query q_offset + i may see key j (j <= q_offset + i)."""
    pos_q = torch.arange(q_offset, q_offset + n, device=device)[:, None]
    return torch.arange(k_len, device=device)[None, :] <= pos_q


class MultiHeadAttention(nn.Module):
    """Multi-head attention over [B, L, D] tensors.

    max_distance: if set, adds relative position logits (causal self-attention only).
    `project_kv` gives keys/values [B, H, S, head_dim] that a caller may cache; `forward` attends
    queries [B, n, D] to such keys/values (queries sit at positions q_offset.. when causal).
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, max_distance: int | None = None) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} is not divisible by n_heads {n_heads}")
        self.n_heads, self.head_dim, self.dropout = n_heads, d_model // n_heads, dropout
        self.q_proj = nn.Linear(d_model, d_model)
        self.kv_proj = nn.Linear(d_model, 2 * d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        self.rel_table = None
        if max_distance:
            self.rel_table = nn.Parameter(torch.randn(max_distance, self.head_dim) * self.head_dim**-0.5)
        nn.init.xavier_uniform_(self.q_proj.weight)
        nn.init.xavier_uniform_(self.kv_proj.weight)
        nn.init.zeros_(self.q_proj.bias)
        nn.init.zeros_(self.kv_proj.bias)
        nn.init.zeros_(self.out_proj.bias)

    def _heads(self, x: Tensor) -> Tensor:
        B, L, _ = x.shape
        return x.view(B, L, self.n_heads, self.head_dim).transpose(1, 2)

    def project_kv(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Keys and values [B, H, S, head_dim] of x [B, S, D]."""
        k, v = self.kv_proj(x).chunk(2, dim=-1)
        return self._heads(k), self._heads(v)

    def forward(self, x: Tensor, k: Tensor, v: Tensor, *, causal: bool, q_offset: int = 0) -> Tensor:
        """Attend x [B, n, D] to k, v [B, H, S, head_dim]; returns [B, n, D]."""
        B, n, D = x.shape
        S = k.shape[2]
        q = self._heads(self.q_proj(x))
        p = self.dropout if self.training else 0.0
        if self.rel_table is not None:
            scale = self.head_dim**-0.5
            bias = relative_logits(q * scale, self.rel_table, q_offset, S)
            if causal:
                bias = bias.masked_fill(~causal_mask(n, S, q_offset, x.device), float("-inf"))
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype), dropout_p=p)
        elif causal and n > 1:
            if q_offset == 0 and n == S:
                out = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=p)
            else:
                out = F.scaled_dot_product_attention(
                    q, k, v, attn_mask=causal_mask(n, S, q_offset, x.device), dropout_p=p
                )
        else:
            out = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
        return self.out_proj(out.transpose(1, 2).reshape(B, n, D))
