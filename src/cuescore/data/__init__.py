"""Datasets on disk: the MuVi-Sync layout (reader and writer) and its torch `Dataset`."""

from cuescore.data.dataset import MuViSyncDataset, features_matrix, video_matrix
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
