"""Emotion without a pretrained model: valence and arousal from colour, motion and cutting rate,
mapped onto Video2Music's six classes.

Sources for the formulas:
- Colour: Valdez & Mehrabian (1994), "Effects of color on emotions", J. Exp. Psychol. Gen.
  123(4): pleasure = 0.69 brightness + 0.22 saturation; arousal = -0.31 brightness
  + 0.60 saturation (standardised regressions). We apply them to z-scores of brightness and
  saturation around typical video values (mean 0.45 / 0.35, spread 0.2), plus (weight
  `WITHIN`) z-scores within the video itself: footage graded in one narrow band of colour still
  spans the plane, and a shot brighter or calmer than the rest of its video reads so.
- Motion and editing: Hanjalic & Xu (2005), "Affective video content representation and
  modeling", IEEE Trans. Multimedia 7(1): arousal rises with motion activity and shot-cut
  rate. We add the log-scaled frame difference and flow speed and the cuts per 10 s around
  each second, smoothed as they smooth their arousal curve; again both against typical values
  and within the video, so arousal rises with motion and cutting inside a calm clip too.
- Mapping to classes: Russell's circumplex (1980): each class has a prototype point in the
  valence–arousal plane; the probabilities are a softmax of negative squared distances.
  exciting (+0.6, +0.7), fearful (-0.7, +0.8), tense (-0.3, +0.5), sad (-0.6, -0.5),
  relaxing (+0.5, -0.5), neutral (0, 0).
"""

from __future__ import annotations

import numpy as np

from cuescore.analysis.series import gaussian_smooth

PROTOTYPES = np.array([
    [0.6, 0.7],    # exciting
    [-0.7, 0.8],   # fearful
    [-0.3, 0.5],   # tense
    [-0.6, -0.5],  # sad
    [0.5, -0.5],   # relaxing
    [0.0, 0.0],    # neutral
], dtype=np.float64)
TEMPERATURE = 0.08
"""Softmax temperature in squared valence-arousal units: smaller gives more decisive classes."""


def cut_rate(cut_times: list[float], T: int, window: float = 10.0) -> np.ndarray:
    """Cuts per `window` seconds centred on each second, [T]."""
    cuts = np.sort(np.asarray(cut_times, dtype=float))
    centres = np.arange(T) + 0.5
    inside = np.searchsorted(cuts, centres + window / 2, side="right") - np.searchsorted(cuts, centres - window / 2, side="left")
    return inside.astype(np.float32)


WITHIN = 0.6
GAIN = 0.9
"""tanh gain from the weighted z-scores to valence and arousal: real footage reaches the outer
classes rather than sitting in the neutral disc around the origin."""
"""Weight of the within-video z-scores beside the z-scores against typical values."""
FLOORS = {"brightness": 0.04, "saturation": 0.06, "activity": 0.12, "cuts": 1.0}
"""Smallest standard deviation a within-video z-score divides by (the feature's own units): a
video that barely changes keeps values near its absolute reading instead of amplified noise."""


def within_video(values: np.ndarray, floor: float, limit: float = 2.0) -> np.ndarray:
    """z-scores of `values` [T] against their own mean and standard deviation (at least `floor`),
    clipped to ±`limit`; all zeros for a constant series."""
    v = np.asarray(values, np.float64)
    if v.size == 0:
        return v
    return np.clip((v - v.mean()) / max(float(v.std()), floor), -limit, limit)


def valence_arousal(
    brightness: np.ndarray,
    saturation: np.ndarray,
    motion: np.ndarray,
    flow: np.ndarray,
    cuts_per_10s: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(valence [T], arousal [T]) in -1..1 from per-second colour (0-1), motion (mean absolute
    frame difference, 0-255), flow (pixels per frame) and cut rate (cuts per 10 s)."""
    brightness, saturation = np.asarray(brightness, np.float64), np.asarray(saturation, np.float64)
    zb = (brightness - 0.45) / 0.2 + WITHIN * within_video(brightness, FLOORS["brightness"])
    zs = (saturation - 0.35) / 0.2 + WITHIN * within_video(saturation, FLOORS["saturation"])
    colour_pleasure = 0.69 * zb + 0.22 * zs
    colour_arousal = -0.31 * zb + 0.60 * zs
    motion_activity = np.log1p(motion) / np.log1p(25.0) + np.log1p(flow) / np.log1p(3.0)
    motion_z = (motion_activity - 0.8) / 0.4 + 1.5 * WITHIN * within_video(motion_activity, FLOORS["activity"])
    cut_z = (cuts_per_10s - 1.5) / 1.5 + WITHIN * within_video(cuts_per_10s, FLOORS["cuts"])
    valence = np.tanh(GAIN * colour_pleasure)
    arousal_raw = 0.3 * colour_arousal + 0.5 * motion_z + 0.2 * cut_z
    arousal = np.tanh(GAIN * gaussian_smooth(arousal_raw, sigma=1.0))
    return valence.astype(np.float32), arousal.astype(np.float32)


def emotion_probabilities(valence: np.ndarray, arousal: np.ndarray) -> np.ndarray:
    """[T, 6] probabilities over `cuescore.analysis.features.EMOTIONS`, each row summing to 1."""
    points = np.stack([valence, arousal], axis=1).astype(np.float64)
    d2 = ((points[:, None, :] - PROTOTYPES[None, :, :]) ** 2).sum(axis=2)
    logits = -d2 / TEMPERATURE
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    return p.astype(np.float32)
