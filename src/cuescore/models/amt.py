"""The Affective Multimodal Transformer (Video2Music) and its no-video Music Transformer baseline.

A transformer encoder reads the per-second video rows ([B, T, video_dim], see
`cuescore.data.matrices.video_matrix`) projected to d_model; a decoder writes one chord token per
second (vocabulary of `cuescore.music.chords`), attending to its past chords (optionally with
relative positions) and, for the AMT, to the encoded video. As in Video2Music, a chord enters the
decoder as root embedding + quality embedding, concatenated with the mode (0 major, 1 minor) and
projected back to d_model; sinusoidal positions are added to both streams; layers are post-norm.
Decoder input position i holds the chord of second i and predicts the chord of second i + 1.

`ChordTransformer.start` / `step` decode incrementally with a key/value cache (self-attention keys
and values of past steps kept per layer, the video memory projected once) and give the same
logits as the full `forward`. `generate_chords` samples a whole progression from it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import Tensor, nn

from cuescore.models.rpr import MultiHeadAttention
from cuescore.music.chords import END, NO_CHORD, PAD, QUALITIES, VOCAB_SIZE, parse_chord

MODEL_SIZES: dict[str, dict[str, int]] = {
    "paper": {"n_layers": 6, "n_heads": 8, "d_model": 512, "d_ff": 1024},
    "small": {"n_layers": 3, "n_heads": 4, "d_model": 256, "d_ff": 512},
    "debug": {"n_layers": 2, "n_heads": 2, "d_model": 32, "d_ff": 64},
}
"""Named sizes; `paper` is Video2Music's (6 layers, 8 heads, d_model 512, feed-forward 1024)."""

N_ROOTS = 15  # N, 12 roots, END, PAD
N_ATTRS = len(QUALITIES) + 3  # N, 13 qualities, END, PAD


def root_and_quality(tokens: Tensor) -> tuple[Tensor, Tensor]:
    """Video2Music's root (0 = N, 1..12 = C..B, 13 END, 14 PAD) and quality (0 = N, 1..13 as
    `QUALITIES`, 14 END, 15 PAD) indices of chord tokens."""
    chord = (tokens - 1).clamp(min=0)
    root = torch.where(tokens == NO_CHORD, 0, chord // 13 + 1)
    attr = torch.where(tokens == NO_CHORD, 0, chord % 13 + 1)
    root = torch.where(tokens == END, 13, torch.where(tokens == PAD, 14, root))
    attr = torch.where(tokens == END, 14, torch.where(tokens == PAD, 15, attr))
    return root, attr


def sinusoids(length: int, d_model: int) -> Tensor:
    """Sinusoidal position table [length, d_model] (Vaswani et al.)."""
    pos = torch.arange(length, dtype=torch.float32)[:, None]
    div = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    table = torch.zeros(length, d_model)
    table[:, 0::2] = torch.sin(pos * div)
    table[:, 1::2] = torch.cos(pos * div)[:, : d_model // 2]
    return table


@dataclass
class AMTConfig:
    """Hyperparameters. video=False builds the Music Transformer baseline (no encoder, no video).
    max_len: seconds per sequence (positions, relative distances, video length)."""

    video_dim: int = 776
    video: bool = True
    n_layers: int = 6
    n_heads: int = 8
    d_model: int = 512
    d_ff: int = 1024
    dropout: float = 0.1
    max_len: int = 300
    rpr: bool = True

    @classmethod
    def sized(cls, size: str, **overrides) -> "AMTConfig":
        if size not in MODEL_SIZES:
            raise ValueError(f"unknown model size {size!r}; choose one of {', '.join(MODEL_SIZES)}")
        return cls(**{**MODEL_SIZES[size], **overrides})

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class DecodeCache:
    """State of incremental decoding for a batch of B sequences.

    self_kv: per layer, key and value buffers [B, H, max_len, head_dim] filled up to `length`;
    cross_kv: per layer, the projected video memory [B, H, T, head_dim] (None without video).
    """

    mode: Tensor
    self_kv: list[tuple[Tensor, Tensor]]
    cross_kv: list[tuple[Tensor, Tensor]] | None
    length: int = 0
    capacity: int = 0


class DecoderLayer(nn.Module):
    """Post-norm decoder layer: causal self-attention, cross-attention (if `cross`), feed-forward."""

    def __init__(self, cfg: AMTConfig, cross: bool) -> None:
        super().__init__()
        d = cfg.d_model
        self.self_attn = MultiHeadAttention(d, cfg.n_heads, cfg.dropout, cfg.max_len if cfg.rpr else None)
        self.cross_attn = MultiHeadAttention(d, cfg.n_heads, cfg.dropout) if cross else None
        self.ff = nn.Sequential(nn.Linear(d, cfg.d_ff), nn.ReLU(), nn.Dropout(cfg.dropout), nn.Linear(cfg.d_ff, d))
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(
        self,
        x: Tensor,
        cross_kv: tuple[Tensor, Tensor] | None,
        past: tuple[Tensor, Tensor] | None = None,
        offset: int = 0,
    ) -> Tensor:
        """x [B, n, D] at positions offset..; `past` buffers receive this step's keys/values."""
        k, v = self.self_attn.project_kv(x)
        if past is not None:
            end = offset + x.shape[1]
            past[0][:, :, offset:end] = k
            past[1][:, :, offset:end] = v
            k, v = past[0][:, :, :end], past[1][:, :, :end]
        x = self.norm1(x + self.drop(self.self_attn(x, k, v, causal=True, q_offset=offset)))
        if self.cross_attn is not None and cross_kv is not None:
            x = self.norm2(x + self.drop(self.cross_attn(x, *cross_kv, causal=False)))
        return self.norm3(x + self.drop(self.ff(x)))


class ChordTransformer(nn.Module):
    """AMT (config.video) or Music Transformer baseline: chord tokens [B, L] -> logits [B, L, 159]."""

    def __init__(self, config: AMTConfig) -> None:
        super().__init__()
        self.config = cfg = config
        d = cfg.d_model
        self.root_emb = nn.Embedding(N_ROOTS, d)
        self.attr_emb = nn.Embedding(N_ATTRS, d)
        self.chord_in = nn.Linear(d + 1, d)
        self.register_buffer("positions", sinusoids(cfg.max_len, d), persistent=False)
        self.drop = nn.Dropout(cfg.dropout)
        if cfg.video:
            self.video_in = nn.Linear(cfg.video_dim, d)
            layer = nn.TransformerEncoderLayer(d, cfg.n_heads, cfg.d_ff, cfg.dropout, batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, cfg.n_layers, norm=nn.LayerNorm(d), enable_nested_tensor=False)
        self.layers = nn.ModuleList(DecoderLayer(cfg, cross=cfg.video) for _ in range(cfg.n_layers))
        self.norm = nn.LayerNorm(d)
        self.out = nn.Linear(d, VOCAB_SIZE)

    @property
    def kind(self) -> str:
        return "amt" if self.config.video else "music_transformer"

    def _check_len(self, end: int) -> None:
        if end > self.config.max_len:
            raise ValueError(f"sequence of {end} positions exceeds the model's max_len {self.config.max_len}")

    def _embed(self, tokens: Tensor, mode: Tensor, offset: int) -> Tensor:
        self._check_len(offset + tokens.shape[1])
        root, attr = root_and_quality(tokens)
        x = self.root_emb(root) + self.attr_emb(attr)
        m = mode.to(x.dtype).view(-1, 1, 1).expand(x.shape[0], x.shape[1], 1)
        x = self.chord_in(torch.cat([x, m], dim=-1))
        return self.drop(x + self.positions[offset : offset + tokens.shape[1]])

    def encode(self, video: Tensor) -> Tensor:
        """Video rows [B, T, video_dim] -> memory [B, T, d_model]."""
        if not self.config.video:
            raise ValueError("the Music Transformer baseline has no video encoder")
        self._check_len(video.shape[1])
        x = self.drop(self.video_in(video) + self.positions[: video.shape[1]])
        return self.encoder(x)

    def decode(self, tokens: Tensor, mode: Tensor, memory: Tensor | None) -> Tensor:
        """Full decoder pass: tokens [B, L], mode [B], memory [B, T, D] or None -> logits [B, L, V]."""
        x = self._embed(tokens, mode, 0)
        for layer in self.layers:
            cross = layer.cross_attn.project_kv(memory) if layer.cross_attn is not None else None
            x = layer(x, cross)
        return self.out(self.norm(x))

    def forward(self, tokens: Tensor, mode: Tensor, video: Tensor | None = None) -> Tensor:
        """tokens [B, L] int64, mode [B] (0 major, 1 minor), video [B, T, video_dim] -> logits [B, L, 159]."""
        memory = self.encode(video) if self.config.video else None
        return self.decode(tokens, mode, memory)

    def start(self, mode: Tensor, video: Tensor | None = None, capacity: int | None = None) -> DecodeCache:
        """Begin incremental decoding of up to `capacity` (default max_len) positions."""
        cap = capacity or self.config.max_len
        self._check_len(cap)
        B = mode.shape[0]
        ref = self.out.weight
        H, hd = self.config.n_heads, self.config.d_model // self.config.n_heads
        self_kv = [
            (ref.new_zeros(B, H, cap, hd), ref.new_zeros(B, H, cap, hd)) for _ in self.layers
        ]
        cross = None
        if self.config.video:
            if video is None:
                raise ValueError("the AMT needs video features to decode")
            memory = self.encode(video)
            cross = [layer.cross_attn.project_kv(memory) for layer in self.layers]
        return DecodeCache(mode=mode, self_kv=self_kv, cross_kv=cross, capacity=cap)

    def step(self, tokens: Tensor, cache: DecodeCache) -> Tensor:
        """Feed tokens [B, n] after those already in `cache`; returns their logits [B, n, V]."""
        offset, n = cache.length, tokens.shape[1]
        if offset + n > cache.capacity:
            raise ValueError(f"cache holds {cache.capacity} positions; cannot add {n} after {offset}")
        x = self._embed(tokens, cache.mode, offset)
        for i, layer in enumerate(self.layers):
            x = layer(x, cache.cross_kv[i] if cache.cross_kv else None, cache.self_kv[i], offset)
        cache.length = offset + n
        return self.out(self.norm(x))


def _mode_index(key_mode: int | str) -> int:
    if isinstance(key_mode, str):
        if key_mode not in ("major", "minor"):
            raise ValueError(f"key_mode must be 'major' or 'minor', got {key_mode!r}")
        return int(key_mode == "minor")
    if key_mode not in (0, 1):
        raise ValueError(f"key_mode must be 0 (major) or 1 (minor), got {key_mode!r}")
    return int(key_mode)


def _pick(logits: Tensor, history: list[int], top_k: int, temperature: float, no_n: bool, max_repeat: int,
          generator: torch.Generator | None) -> int:
    """Sample one chord from logits [V] under Video2Music's constraints (no END/PAD, optional no N,
    no chord more than `max_repeat` times in a row)."""
    logits = logits.float().clone()
    logits[END] = logits[PAD] = float("-inf")
    if no_n:
        logits[NO_CHORD] = float("-inf")
    if max_repeat > 0 and len(history) >= max_repeat and len(set(history[-max_repeat:])) == 1:
        logits[history[-1]] = float("-inf")
    if temperature <= 0:
        return int(torch.argmax(logits))
    logits = logits / temperature
    if 0 < top_k < logits.numel():
        kth = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    return int(torch.multinomial(probs, 1, generator=generator))


@torch.no_grad()
def generate_chords(
    model: ChordTransformer,
    features_tensor: Tensor | np.ndarray | None,
    key_mode: int | str,
    primer_tokens: list[int] | tuple[int, ...] = (),
    top_k: int = 0,
    temperature: float = 1.0,
    no_n: bool = True,
    max_repeat: int = 2,
    *,
    length: int | None = None,
    seed: int | None = None,
    use_cache: bool = True,
) -> list[int]:
    """Sample one chord token per second: returns `length` tokens (default: the video's T rows),
    in MuVi-Sync's normalized keys (C major / A minor; transpose them to the wanted key).

    features_tensor: video rows [T, video_dim] (`video_matrix`); None for the Music Transformer.
    key_mode: "major"/"minor" or 0/1. primer_tokens: chords of the first seconds (default the tonic
    of MuVi-Sync's normalized keys: C for major, A:min for minor). top_k: 0 samples from all tokens;
    temperature <= 0 picks the most likely token. no_n forbids N; max_repeat (0 = off) bans a chord
    that has just sounded that many seconds in a row (Video2Music). Videos longer than max_len are
    decoded in windows of max_len seconds, each primed with the last quarter of the previous one.
    use_cache=False recomputes the decoder over the whole prefix at every step (for benchmarks).
    """
    cfg = model.config
    mode = _mode_index(key_mode)
    video = None
    if cfg.video:
        if features_tensor is None:
            raise ValueError("the AMT needs features_tensor [T, video_dim]")
        if isinstance(features_tensor, Tensor):
            video = features_tensor.float()
        else:
            video = torch.as_tensor(np.asarray(features_tensor, np.float32))
        if video.ndim != 2 or video.shape[1] != cfg.video_dim:
            raise ValueError(f"features_tensor must be [T, {cfg.video_dim}], got {tuple(video.shape)}")
    T = length if length is not None else (video.shape[0] if video is not None else cfg.max_len)
    primer = list(primer_tokens) or [1 if mode == 0 else parse_chord("A:min").token]
    if any(not 0 <= t <= 156 for t in primer):
        raise ValueError(f"primer tokens must be chords (0..156), got {primer}")
    out = primer[:T]
    device = model.out.weight.device
    generator = torch.Generator(device=device).manual_seed(seed) if seed is not None else None
    mode_t = torch.tensor([mode], device=device)
    W = cfg.max_len
    was_training = model.training
    model.eval()
    try:
        while len(out) < T:
            start = 0 if T <= W else max(0, min(len(out) - max(1, W // 4), T - W))
            window_video = None
            if video is not None:
                window_video = torch.zeros(1, W, cfg.video_dim, device=device)
                chunk = video[start : start + W]
                window_video[0, : len(chunk)] = chunk.to(device)
            stop = min(T, start + W)
            context = out[start:]
            if use_cache:
                cache = model.start(mode_t, window_video)
                logits = model.step(torch.tensor([context], device=device), cache)[0, -1]
            else:
                memory = model.encode(window_video) if window_video is not None else None
            while len(out) < stop:
                if not use_cache:
                    tokens = torch.tensor([out[start:]], device=device)
                    logits = model.decode(tokens, mode_t, memory)[0, -1]
                token = _pick(logits, out, top_k, temperature, no_n, max_repeat, generator)
                out.append(token)
                if use_cache and len(out) < stop:
                    logits = model.step(torch.tensor([[token]], device=device), cache)[0, -1]
    finally:
        model.train(was_training)
    return out
