"""Colour per second: brightness, saturation, colourfulness and dominant hue.

brightness and saturation are the mean HSV value and saturation (0-1). colorfulness is
Hasler & Süsstrunk's metric (2003, "Measuring colourfulness in natural images"),
sigma_rgyb + 0.3 * mu_rgyb, divided by 150 and clipped to 0-1 (their "extremely colourful"
is about 110). hue is the centre, in degrees, of the most frequent of 36 hue bins weighted by
saturation × value, so greys and blacks do not vote.
"""

from __future__ import annotations

import cv2
import numpy as np

from cuescore.analysis.base import FrameAnalyzer
from cuescore.analysis.features import timeline_length
from cuescore.analysis.motion import PerSecondMean

THUMB_SIDE = 96
HUE_BINS = 36


class ColourAnalyzer(FrameAnalyzer):
    """Colour statistics of every frame on a small thumbnail, averaged per second."""

    def __init__(self) -> None:
        self.brightness = PerSecondMean()
        self.saturation = PerSecondMean()
        self.colorfulness = PerSecondMean()
        self.hue_hist: dict[int, np.ndarray] = {}

    def update(self, t: float, image: np.ndarray) -> None:
        h, w = image.shape[:2]
        scale = THUMB_SIDE / max(h, w)
        thumb = cv2.resize(image, (max(1, int(w * scale)), max(1, int(h * scale))), interpolation=cv2.INTER_AREA)
        hsv = cv2.cvtColor(thumb, cv2.COLOR_RGB2HSV_FULL).reshape(-1, 3).astype(np.float32)
        sat, val = hsv[:, 1] / 255.0, hsv[:, 2] / 255.0
        self.brightness.add(t, float(val.mean()))
        self.saturation.add(t, float(sat.mean()))
        self.colorfulness.add(t, colorfulness(thumb))
        hist = np.bincount((hsv[:, 0] * HUE_BINS / 256.0).astype(int), weights=sat * val, minlength=HUE_BINS)
        s = int(t)
        self.hue_hist[s] = self.hue_hist.get(s, 0.0) + hist

    def per_second(self, duration: float) -> dict[str, np.ndarray]:
        """{"brightness", "saturation", "colorfulness", "hue"} → [T] arrays."""
        T = timeline_length(duration)
        hue = np.zeros(T, np.float32)
        last = 0.0
        for s in range(T):
            hist = self.hue_hist.get(s)
            if hist is not None and np.max(hist) > 0:
                last = (int(np.argmax(hist)) + 0.5) * 360.0 / HUE_BINS
            hue[s] = last
        return {
            "brightness": self.brightness.values(T),
            "saturation": self.saturation.values(T),
            "colorfulness": self.colorfulness.values(T),
            "hue": hue,
        }


def colorfulness(image: np.ndarray) -> float:
    """Hasler–Süsstrunk colourfulness of an RGB uint8 image, scaled to 0-1."""
    rgb = image.reshape(-1, 3).astype(np.float32)
    rg = rgb[:, 0] - rgb[:, 1]
    yb = 0.5 * (rgb[:, 0] + rgb[:, 1]) - rgb[:, 2]
    value = np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())
    return float(min(1.0, value / 150.0))
