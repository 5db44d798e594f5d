"""Video conditioners: what the MusicGen decoder cross-attends to instead of text.

`VidMuseConditioner` is VidMuse's long-short-term visual module (Tian et al., CVPR 2025), built the
way its code builds it so that its released weights convert (`cuescore.convert.vidmuse`):

    CLIP ViT-B/32 patch tokens (`last_hidden_state`: class token + 49 patches, width 768, before
    the final layer norm) of the short-term frames (the window at 2 fps) and of the long-term
    frames (spread over the whole video)
    + a learned positional embedding over the 50 patch positions, one per stream
    → a "temporal" transformer per stream (depth 2, pre-norm, over the 50 tokens of each frame,
      final layer norm)
    → frames flattened to [B, N*50, 768]
    → multi-head cross-attention (3 heads): short-term tokens attend to long-term tokens;
      x = norm1(attn + short); x = norm2(final_linear(x) + x), final_linear zero-initialised
    → a 768 → decoder-width projection: the decoder's cross-attention memory [B, Ns*50, D].

The CLIP tower is a `CLIPVisionModelWithProjection` like VidMuse's (its projection is unused).
Beyond VidMuse, the window's place in the video (start and end as fractions of the duration) is
added to the short-term tokens through a zero-initialised linear map, so a converted checkpoint
gives VidMuse's logits until it is fine-tuned.

`ThesisConditioner` is the master thesis's design: a transformer encoder over the per-second
semantic rows of the analysis (CLIP image embeddings, 1 per second), projected to the text
encoder's width so that it enters MusicGen where text would.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
VIT_B32 = {
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "image_size": 224,
    "patch_size": 32,
    "projection_dim": 512,
    "hidden_act": "quick_gelu",
}
"""`CLIPVisionConfig` fields of openai/clip-vit-base-patch32, the CLIP inside VidMuse."""


@dataclass
class VidMuseConfig:
    """Hyperparameters of `VidMuseConditioner`.

    vision: `CLIPVisionConfig` fields (ViT-B/32 by default; tests pass a smaller tower).
    out_dim: the decoder's width D (1536 for VidMuse on musicgen-medium).
    heads, dim_head: of the temporal transformers (VidMuse: the LM's head count, 64 per head).
    depth: layers per temporal transformer; mlp_ratio: feed-forward width / token width.
    cross_heads: heads of the short/long cross-attention (3 in VidMuse).
    image_mean, image_std: pixel normalisation of the CLIP (what black frames become).
    short_fps: short-term frames per second; long_frames: long-term frames over the video;
    window_seconds: the decoder's window. These three tell the caller how to sample frames.
    """

    vision: dict = field(default_factory=lambda: dict(VIT_B32))
    out_dim: int = 1536
    heads: int = 24
    dim_head: int = 64
    depth: int = 2
    mlp_ratio: int = 4
    cross_heads: int = 3
    image_mean: tuple[float, float, float] = OPENAI_CLIP_MEAN
    image_std: tuple[float, float, float] = OPENAI_CLIP_STD
    short_fps: float = 2.0
    long_frames: int = 32
    window_seconds: float = 30.0

    def __post_init__(self) -> None:
        self.image_mean, self.image_std = tuple(self.image_mean), tuple(self.image_std)

    @property
    def width(self) -> int:
        """Token width (768 for ViT-B/32)."""
        return int(self.vision["hidden_size"])

    @property
    def patches(self) -> int:
        """Tokens per frame: class token + (image_size / patch_size)² (50 for ViT-B/32)."""
        return 1 + (int(self.vision["image_size"]) // int(self.vision["patch_size"])) ** 2

    @property
    def image_size(self) -> int:
        return int(self.vision["image_size"])

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ThesisConfig:
    """Hyperparameters of `ThesisConditioner`: in_dim = the encoder's embedding width E, out_dim =
    the text encoder's width; width/depth/heads of the transformer; max_seconds = the most rows it
    takes; window_seconds = the decoder window it was trained on (one row per second)."""

    in_dim: int
    out_dim: int
    width: int = 512
    depth: int = 4
    heads: int = 8
    dropout: float = 0.1
    max_seconds: int = 64
    window_seconds: float = 30.0

    def to_dict(self) -> dict:
        return asdict(self)


class _Attention(nn.Module):
    """VidMuse's `Attention`: fused bias-free qkv, softmax(q k^T / sqrt(dim_head)) v, output linear."""

    def __init__(self, dim: int, heads: int, dim_head: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * heads * dim_head, bias=False)
        self.out = nn.Linear(heads * dim_head, dim)

    def forward(self, x: Tensor) -> Tensor:
        b, n, _ = x.shape
        q, k, v = (t.view(b, n, self.heads, -1).transpose(1, 2) for t in self.qkv(x).chunk(3, dim=-1))
        return self.out(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, -1))


class _Block(nn.Module):
    """Pre-norm attention and GELU feed-forward, each added to its input."""

    def __init__(self, dim: int, heads: int, dim_head: int, mlp_dim: int) -> None:
        super().__init__()
        self.attn_norm = nn.LayerNorm(dim)
        self.attn = _Attention(dim, heads, dim_head)
        self.ff_norm = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Linear(mlp_dim, dim))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.attn_norm(x))
        return x + self.ff(self.ff_norm(x))


class TemporalTransformer(nn.Module):
    """VidMuse's `Transformer`: `depth` pre-norm blocks and a final layer norm; [N, P, C] → same."""

    def __init__(self, dim: int, depth: int, heads: int, dim_head: int, mlp_dim: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList([_Block(dim, heads, dim_head, mlp_dim) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return self.norm(x)


class ShortLongCrossAttention(nn.Module):
    """VidMuse's `MultiHeadCrossAttention`: queries from the short-term tokens [B, S, C], keys and
    values from the long-term tokens [B, L, C]; no output projection before the first residual."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.final_linear = nn.Linear(dim, dim)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        nn.init.zeros_(self.final_linear.weight)
        nn.init.zeros_(self.final_linear.bias)

    def forward(self, short: Tensor, long: Tensor) -> Tensor:
        b = short.shape[0]

        def split(x: Tensor) -> Tensor:
            return x.view(b, x.shape[1], self.heads, -1).transpose(1, 2)

        q, k, v = split(self.query(short)), split(self.key(long)), split(self.value(long))
        attended = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(short.shape)
        x = self.norm1(attended + short)
        return self.norm2(self.final_linear(x) + x)


class VidMuseConditioner(nn.Module):
    """Long-short-term visual memory: short/long frames → [B, Ns * patches, out_dim].

    Inputs are CLIP-normalised pixels [B, N, 3, S, S] (S = `config.image_size`), or the CLIP patch
    tokens [B, N, patches, width] of such pixels (what training caches); position [B, 2] is the
    window's start and end as fractions of the video's duration.
    """

    def __init__(self, config: VidMuseConfig) -> None:
        from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

        super().__init__()
        self.config = config
        c, mlp = config.width, config.width * config.mlp_ratio
        self.clip = CLIPVisionModelWithProjection(CLIPVisionConfig(**config.vision)).eval().requires_grad_(False)
        self.local_pos_embedding = nn.Parameter(torch.randn(1, config.patches, c))
        self.global_pos_embedding = nn.Parameter(torch.randn(1, config.patches, c))
        self.local_transformer = TemporalTransformer(c, config.depth, config.heads, config.dim_head, mlp)
        self.global_transformer = TemporalTransformer(c, config.depth, config.heads, config.dim_head, mlp)
        self.cross_attention = ShortLongCrossAttention(c, config.cross_heads)
        self.proj = nn.Linear(c, config.out_dim)
        self.position = nn.Linear(2, c)
        nn.init.zeros_(self.position.weight)
        nn.init.zeros_(self.position.bias)

    def train(self, mode: bool = True) -> VidMuseConditioner:
        """Train the conditioner; the CLIP tower stays frozen in eval mode, as in VidMuse."""
        super().train(mode)
        self.clip.eval()
        return self

    def black_pixels(self, count: int = 1) -> Tensor:
        """`count` black frames after CLIP normalisation, [count, 3, S, S] (VidMuse's null video)."""
        mean = torch.tensor(self.config.image_mean)
        std = torch.tensor(self.config.image_std)
        value = ((0.0 - mean) / std).view(1, 3, 1, 1)
        size = self.config.image_size
        return value.expand(count, 3, size, size).to(self.proj.weight.device, self.proj.weight.dtype)

    @torch.no_grad()
    def clip_tokens(self, pixels: Tensor, batch: int = 64) -> Tensor:
        """CLIP patch tokens of normalised pixels [..., 3, S, S] → [..., patches, width]."""
        lead = pixels.shape[:-3]
        flat = pixels.reshape(-1, *pixels.shape[-3:]).to(self.proj.weight.device, self.clip.dtype)
        parts = [self.clip(pixel_values=flat[i : i + batch]).last_hidden_state for i in range(0, len(flat), batch)]
        tokens = torch.cat(parts) if parts else flat.new_zeros(0, self.config.patches, self.config.width)
        return tokens.to(self.proj.weight.dtype).reshape(*lead, self.config.patches, self.config.width)

    def null_tokens(self) -> Tensor:
        """CLIP tokens of one black frame, [patches, width]."""
        return self.clip_tokens(self.black_pixels(1))[0]

    def _stream(self, tokens: Tensor, pos: Tensor, transformer: TemporalTransformer, extra: Tensor | None) -> Tensor:
        b, n = tokens.shape[:2]
        x = tokens.reshape(b * n, *tokens.shape[2:]) + pos
        if extra is not None:
            x = x + extra.repeat_interleave(n, dim=0)[:, None, :]
        return transformer(x).reshape(b, n * x.shape[1], x.shape[2])

    def forward(self, short_tokens: Tensor, long_tokens: Tensor, position: Tensor | None = None) -> Tensor:
        """Memory [B, Ns * patches, out_dim] from patch tokens [B, Ns, P, C] and [B, Nl, P, C]."""
        extra = None if position is None else self.position(position.to(self.proj.weight.dtype))
        short = self._stream(short_tokens, self.local_pos_embedding, self.local_transformer, extra)
        long = self._stream(long_tokens, self.global_pos_embedding, self.global_transformer, None)
        return self.proj(self.cross_attention(short, long))

    def tokens_from_inputs(self, video_inputs: dict) -> dict:
        """{short_tokens, long_tokens, position} from `video_inputs` holding pixels
        (`short_pixels`, `long_pixels`) or tokens (`short_tokens`, `long_tokens`), and `position`."""
        out = {"position": video_inputs.get("position")}
        for stream in ("short", "long"):
            if f"{stream}_tokens" in video_inputs:
                out[f"{stream}_tokens"] = video_inputs[f"{stream}_tokens"].to(self.proj.weight.device)
            else:
                out[f"{stream}_tokens"] = self.clip_tokens(video_inputs[f"{stream}_pixels"])
        return out

    def memory(self, video_inputs: dict) -> Tensor:
        """The memory for `video_inputs` (see `tokens_from_inputs`)."""
        return self(**self.tokens_from_inputs(video_inputs))

    def null_inputs(self, video_inputs: dict) -> dict:
        """The same inputs with every frame black (the unconditional branch of guidance)."""
        black = self.null_tokens()
        out = {"position": video_inputs.get("position")}
        for stream in ("short", "long"):
            out[f"{stream}_tokens"] = black.expand(*_stream_shape(video_inputs, stream), *black.shape)
        return out


def _stream_shape(video_inputs: dict, stream: str) -> tuple[int, int]:
    """(B, N) of a stream given as pixels or tokens."""
    value = video_inputs.get(f"{stream}_tokens", video_inputs.get(f"{stream}_pixels"))
    return int(value.shape[0]), int(value.shape[1])


class ThesisConditioner(nn.Module):
    """Semantic rows [B, T, E] (one per second) → memory [B, T, out_dim] at the text encoder's width."""

    def __init__(self, config: ThesisConfig) -> None:
        super().__init__()
        self.config = config
        self.inp = nn.Linear(config.in_dim, config.width)
        self.positions = nn.Parameter(torch.randn(1, config.max_seconds, config.width) / math.sqrt(config.width))
        layer = nn.TransformerEncoderLayer(config.width, config.heads, 4 * config.width, config.dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, config.depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(config.width)
        self.out = nn.Linear(config.width, config.out_dim)
        # the encoder's embedding of a black frame (set by the trainer): the unconditional row
        self.register_buffer("null_row", torch.zeros(config.in_dim))

    def forward(self, semantic: Tensor) -> Tensor:
        """Memory [B, T, out_dim] from rows [B, T, in_dim], T <= max_seconds."""
        t = semantic.shape[1]
        if t > self.config.max_seconds:
            raise ValueError(f"{t} semantic rows; the conditioner takes at most {self.config.max_seconds}")
        x = self.inp(semantic.to(self.out.weight.dtype)) + self.positions[:, :t]
        return self.out(self.norm(self.encoder(x)))

    def memory(self, video_inputs: dict) -> Tensor:
        """The memory for `video_inputs["semantic"]` [B, T, E]."""
        return self(video_inputs["semantic"].to(self.out.weight.device))

    def null_inputs(self, video_inputs: dict) -> dict:
        """Every row a black frame's embedding: the unconditional branch (what training's dropout
        puts in place of a window's rows)."""
        semantic = video_inputs["semantic"]
        return {"semantic": self.null_row.to(semantic.device, semantic.dtype).expand_as(semantic)}


CONDITIONERS = {"vidmuse": (VidMuseConditioner, VidMuseConfig), "thesis": (ThesisConditioner, ThesisConfig)}


def build_conditioner(kind: str, hyperparameters: dict) -> nn.Module:
    """A freshly initialised conditioner of `kind` ("vidmuse" or "thesis") from its config dict."""
    if kind not in CONDITIONERS:
        raise ValueError(f"unknown conditioner {kind!r}; known: {', '.join(CONDITIONERS)}")
    cls, config_cls = CONDITIONERS[kind]
    return cls(config_cls(**hyperparameters))
