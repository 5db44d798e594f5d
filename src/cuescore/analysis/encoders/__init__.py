"""Semantic encoders: a registry of ways to turn a frame into a vector (see `base`)."""

from cuescore.analysis.encoders import clip, handcrafted  # noqa: F401  (register "clip", "handcrafted")
from cuescore.analysis.encoders.base import (
    ENCODERS,
    MISSING,
    SemanticEncoder,
    available_encoders,
    get_encoder,
    register,
)

__all__ = ["ENCODERS", "MISSING", "SemanticEncoder", "available_encoders", "get_encoder", "register"]
