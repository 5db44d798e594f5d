"""Tiny video-conditioned MusicGen models for the codec tests: a VidMuse conditioner with a small
CLIP tower, a thesis conditioner, and the tiny MusicGen of `musicgen_fixtures` saved to a folder."""

from __future__ import annotations

import torch

TINY_VISION = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                   image_size=32, patch_size=8)
"""A CLIP vision tower of 1 + (32 / 8)² = 17 tokens of width 32."""


def tiny_vidmuse_config(out_dim: int = 32, **overrides):
    from cuescore.models.video_conditioner import VidMuseConfig

    return VidMuseConfig(**{"vision": dict(TINY_VISION), "out_dim": out_dim, "heads": 2, "dim_head": 8,
                            "cross_heads": 2, "long_frames": 4, **overrides})


def tiny_thesis_config(in_dim: int = 12, out_dim: int = 16):
    from cuescore.models.video_conditioner import ThesisConfig

    return ThesisConfig(in_dim=in_dim, out_dim=out_dim, width=16, depth=1, heads=2, dropout=0.0, max_seconds=40)


def vidmuse_inputs(batch: int = 2, short: int = 3, long: int = 4, size: int = 32, seed: int = 0) -> dict:
    """Random normalised pixels for both streams and window positions."""
    g = torch.Generator().manual_seed(seed)
    return {"short_pixels": torch.randn(batch, short, 3, size, size, generator=g),
            "long_pixels": torch.randn(batch, long, 3, size, size, generator=g),
            "position": torch.rand(batch, 2, generator=g).sort(dim=1).values}


def randomise(module: torch.nn.Module, seed: int = 1) -> torch.nn.Module:
    """Give every parameter random values (so zero-initialised parts matter in comparisons)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    return module
