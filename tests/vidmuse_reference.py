"""VidMuse's language model restated in its own layout, for the converter tests.

`ReferenceVidMuse` computes what VidMuse's `LMModel.forward` computes (audiocraft's pre-norm
streaming transformer with fused `in_proj_weight` attention = torch's `nn.MultiheadAttention`,
sinusoidal positions, per-codebook embeddings and heads; the visual module of `compute_video_emb`)
and its `state_dict()` has VidMuse's key names, so `package()` writes the file VidMuse releases.
Its frames are CLIP-normalised pixels (VidMuse runs CLIP's processor first).
"""

from __future__ import annotations

import math

import torch
import yaml
from torch import Tensor, einsum, nn

VIT_B32_LAYOUT = dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12, image_size=224,
                      patch_size=32, projection_dim=512, hidden_act="quick_gelu")


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int) -> None:
        super().__init__()
        self.heads, self.scale = heads, dim_head**-0.5
        self.to_qkv = nn.Linear(dim, 3 * heads * dim_head, bias=False)
        self.to_out = nn.Sequential(nn.Linear(heads * dim_head, dim), nn.Dropout(0.0))

    def forward(self, x: Tensor) -> Tensor:
        b, n, _ = x.shape
        q, k, v = (t.reshape(b, n, self.heads, -1).transpose(1, 2) for t in self.to_qkv(x).chunk(3, dim=-1))
        attn = (einsum("b h i d, b h j d -> b h i j", q, k) * self.scale).softmax(dim=-1)
        return self.to_out(einsum("b h i j, b h j d -> b h i d", attn, v).transpose(1, 2).reshape(b, n, -1))


class PreNorm(nn.Module):
    def __init__(self, dim: int, fn: nn.Module) -> None:
        super().__init__()
        self.norm, self.fn = nn.LayerNorm(dim), fn

    def forward(self, x: Tensor) -> Tensor:
        return self.fn(self.norm(x))


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(0.0), nn.Linear(hidden, dim),
                                 nn.Dropout(0.0))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class Transformer(nn.Module):
    def __init__(self, dim: int, depth: int, heads: int, dim_head: int, mlp_dim: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList([nn.ModuleList([PreNorm(dim, Attention(dim, heads, dim_head)),
                                                    PreNorm(dim, FeedForward(dim, mlp_dim))]) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor) -> Tensor:
        for attn, ff in self.layers:
            x = attn(x) + x
            x = ff(x) + x
        return self.norm(x)


class MultiHeadCrossAttention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads, self.depth = heads, dim // heads
        self.query, self.key, self.value = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.final_linear = nn.Linear(dim, dim)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        n = a.size(0)

        def split(x: Tensor) -> Tensor:
            return x.view(n, -1, self.heads, self.depth).permute(0, 2, 1, 3)

        q, k, v = split(self.query(a)), split(self.key(b)), split(self.value(b))
        scores = torch.softmax(torch.matmul(q, k.transpose(-2, -1)) / self.depth**0.5, dim=-1)
        out = torch.matmul(scores, v).permute(0, 2, 1, 3).contiguous().view(n, -1, self.heads * self.depth)
        out = self.norm1(out + a)
        return self.norm2(self.final_linear(out) + out)


class Layer(nn.Module):
    """audiocraft's `StreamingTransformerLayer` with norm_first, no biases, cross-attention."""

    def __init__(self, dim: int, heads: int, ffn: int) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(dim, heads, bias=False, batch_first=True)
        self.cross_attention = nn.MultiheadAttention(dim, heads, bias=False, batch_first=True)
        self.linear1, self.linear2 = nn.Linear(dim, ffn, bias=False), nn.Linear(ffn, dim, bias=False)
        self.norm1, self.norm2, self.norm_cross = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)

    def forward(self, x: Tensor, src: Tensor) -> Tensor:
        s = x.shape[1]
        causal = torch.triu(torch.ones(s, s, dtype=torch.bool), diagonal=1)
        h = self.norm1(x)
        x = x + self.self_attn(h, h, h, attn_mask=causal, need_weights=False)[0]
        h = self.norm_cross(x)
        x = x + self.cross_attention(h, src, src, need_weights=False)[0]
        return x + self.linear2(nn.functional.gelu(self.linear1(self.norm2(x))))


def sin_embedding(length: int, dim: int, max_period: float = 10000) -> Tensor:
    """audiocraft's `create_sin_embedding` for positions 0..length-1: [1, length, dim]."""
    half = dim // 2
    positions = torch.arange(length, dtype=torch.float32).view(1, -1, 1)
    adim = torch.arange(half, dtype=torch.float32).view(1, 1, -1)
    phase = positions / (max_period ** (adim / (half - 1)))
    return torch.cat([torch.cos(phase), torch.sin(phase)], dim=-1)


class ReferenceVidMuse(nn.Module):
    """VidMuse's LMModel (clip encoder, global stream on) with the given sizes."""

    def __init__(self, *, dim: int, heads: int, layers: int, ffn: int, n_q: int, card: int, clip_layers: int,
                 depth: int = 2, hidden_scale: int = 4) -> None:
        from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

        super().__init__()
        self.sizes = dict(dim=dim, num_heads=heads, num_layers=layers, hidden_scale=ffn // dim, n_q=n_q, card=card)
        self.emb = nn.ModuleList([nn.Embedding(card + 1, dim) for _ in range(n_q)])
        self.transformer = nn.Module()
        self.transformer.layers = nn.ModuleList([Layer(dim, heads, ffn) for _ in range(layers)])
        self.out_norm = nn.LayerNorm(dim)
        self.linears = nn.ModuleList([nn.Linear(dim, card, bias=False) for _ in range(n_q)])
        vision = CLIPVisionConfig(**VIT_B32_LAYOUT, num_hidden_layers=clip_layers)
        self.visual_encoder_model = CLIPVisionModelWithProjection(vision).eval()
        width = vision.hidden_size
        self.local_pos_embedding = nn.Parameter(torch.randn(1, 50, width))
        self.local_temporal_transformer = Transformer(width, depth, heads, 64, width * hidden_scale)
        self.global_pos_embedding = nn.Parameter(torch.randn(1, 50, width))
        self.global_temporal_transformer = Transformer(width, depth, heads, 64, width * hidden_scale)
        self.multi_head_cross_attention = MultiHeadCrossAttention(width, 3)
        self.visual_feature_proj = nn.Linear(width, dim)

    def _stream(self, pixels: Tensor, pos: Tensor, transformer: Transformer) -> Tensor:
        b, t = pixels.shape[:2]
        hidden = self.visual_encoder_model(pixel_values=pixels.flatten(0, 1)).last_hidden_state + pos
        hidden = transformer(hidden)
        return hidden.reshape(b, t * hidden.shape[1], hidden.shape[2])

    def video_emb(self, local: Tensor, global_: Tensor) -> Tensor:
        """`compute_video_emb`: frames [B, T, 3, 224, 224] of both streams → memory [B, T*50, dim]."""
        short = self._stream(local, self.local_pos_embedding, self.local_temporal_transformer)
        long = self._stream(global_, self.global_pos_embedding, self.global_temporal_transformer)
        return self.visual_feature_proj(self.multi_head_cross_attention(short, long))

    def forward(self, sequence: Tensor, local: Tensor, global_: Tensor) -> Tensor:
        """Logits [B, K, S, card] for a delay-pattern sequence [B, K, S]."""
        b, k, s = sequence.shape
        x = sum(self.emb[q](sequence[:, q]) for q in range(k))
        x = x + sin_embedding(s, x.shape[-1])
        src = self.video_emb(local, global_)
        for layer in self.transformer.layers:
            x = layer(x, src)
        out = self.out_norm(x)
        return torch.stack([self.linears[q](out) for q in range(k)], dim=1)

    def package(self, with_config: bool = True) -> dict:
        """What VidMuse's export writes: {'best_state': state dict, 'xp.cfg': YAML}."""
        cfg = {"transformer_lm": self.sizes, "video": {"video_fps": 2, "add_global": {"num_frames": 64}},
               "dataset": {"segment_duration": 30}}
        return {"best_state": self.state_dict(), **({"xp.cfg": yaml.safe_dump(cfg)} if with_config else {})}


def seeded_reference(seed: int = 0, **sizes) -> ReferenceVidMuse:
    """A reference with every weight random (zero-initialised parts included), scaled to keep
    activations in range."""
    torch.manual_seed(seed)
    model = ReferenceVidMuse(**sizes).eval()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or "norm" in name or "layer_norm" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1 + (1.0 if name.endswith("weight") else 0.0))
            else:
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(max(p.shape[-1], 1)))
    return model
