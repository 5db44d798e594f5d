"""Torch modules (no file I/O apart from `checkpoint`): the AMT, its baseline, the regressor."""

from cuescore.models.amt import MODEL_SIZES, AMTConfig, ChordTransformer, DecodeCache, generate_chords
from cuescore.models.checkpoint import load_model, read_config, save_checkpoint
from cuescore.models.regression import RegressionConfig, VideoRegression, predict_density_loudness

__all__ = [
    "AMTConfig",
    "ChordTransformer",
    "DecodeCache",
    "MODEL_SIZES",
    "RegressionConfig",
    "VideoRegression",
    "generate_chords",
    "load_model",
    "predict_density_loudness",
    "read_config",
    "save_checkpoint",
]
