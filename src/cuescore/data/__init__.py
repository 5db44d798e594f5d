"""Datasets on disk: the MuVi-Sync layout (reader and writer) and its torch `Dataset`."""

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


_TORCH_NAMES = ("MuViSyncDataset", "features_matrix", "video_matrix")


def __getattr__(name: str):
    """The torch `Dataset` and its helpers load on first use, so the layout reader/writer (and
    `cuescore dataset build`) do not pay for importing torch."""
    if name in _TORCH_NAMES:
        from cuescore.data import dataset

        return getattr(dataset, name)
    raise AttributeError(f"module 'cuescore.data' has no attribute {name!r}")
