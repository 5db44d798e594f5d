"""Datasets on disk: the MuVi-Sync layout (reader and writer), the models' video rows and the torch `Dataset`."""

from cuescore.data.matrices import features_matrix, video_matrix
from cuescore.data.muvisync import (
    DEFAULT_EMOTION,
    DEFAULT_SEMANTIC,
    read_chord_lab,
    read_emotion_lab,
    read_semantic,
    read_split,
    read_value_lab,
    write_muvisync_example,
)

__all__ = [
    "DEFAULT_EMOTION",
    "DEFAULT_SEMANTIC",
    "MuViSyncDataset",
    "features_matrix",
    "read_chord_lab",
    "read_emotion_lab",
    "read_semantic",
    "read_split",
    "read_value_lab",
    "video_matrix",
    "write_muvisync_example",
]


def __getattr__(name: str):
    """The torch `Dataset` loads on first use, so the layout reader/writer (and `cuescore dataset
    build`) do not pay for importing torch."""
    if name == "MuViSyncDataset":
        from cuescore.data import dataset

        return getattr(dataset, name)
    raise AttributeError(f"module 'cuescore.data' has no attribute {name!r}")
