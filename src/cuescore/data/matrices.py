"""The models' video-feature layout, in numpy (no torch): one row per second,
`[semantic (D) | scene_offset + 1 | motion | emotion (E)]`, zeros beyond the end of the video,
exactly as Video2Music concatenates it. `features_matrix` builds the same rows from cuescore's own
analysis, so that a trained model can score a new video.
"""

from __future__ import annotations

import numpy as np

from cuescore.analysis.features import VideoFeatures


def pad_rows(values: np.ndarray, length: int) -> np.ndarray:
    """Cut or zero-pad the first axis to `length`."""
    out = np.zeros((length, *values.shape[1:]), np.float32)
    n = min(length, len(values))
    out[:n] = values[:n]
    return out


def video_matrix(
    semantic: np.ndarray, scene_offset: np.ndarray, motion: np.ndarray, emotion: np.ndarray, length: int | None = None
) -> np.ndarray:
    """Model input rows float32 [length, D + 2 + E] from per-second features (semantic [T, D],
    scene offset [T] in whole seconds, motion [T] on the 0-255 scale, emotion [T, E] probabilities).

    Scene offset is stored as offset + 1 so that 0 marks padding (Video2Music); each feature is
    padded with zeros (or cut) to `length`, default the semantic length.
    """
    L = len(semantic) if length is None else length
    offset = pad_rows(np.asarray(scene_offset, np.float32) + 1.0, L)
    return np.concatenate(
        [
            pad_rows(np.asarray(semantic, np.float32), L),
            offset[:, None],
            pad_rows(np.asarray(motion, np.float32), L)[:, None],
            pad_rows(np.asarray(emotion, np.float32), L),
        ],
        axis=1,
    )


def features_matrix(features: VideoFeatures, length: int | None = None, emotion_width: int = 6) -> np.ndarray:
    """`video_matrix` of an analysed video: float32 [length or T, D + 2 + emotion_width]."""
    return video_matrix(
        features.semantic, features.scene_offset, features.motion, features.emotion[:, :emotion_width], length
    )
