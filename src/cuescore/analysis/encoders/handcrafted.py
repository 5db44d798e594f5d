"""The `handcrafted` semantic encoder: a 128-d descriptor of colour, layout and texture that
needs no weights.

- colour (48): joint HSV histogram, 8 hue × 2 saturation × 3 value bins, L1-normalised;
- layout (48): mean CIE Lab of a 4 × 4 grid of cells, scaled to about 0-1;
- texture (32): gradient-orientation histograms (8 bins, magnitude-weighted) of the four
  quadrants, each L1-normalised and multiplied by the quadrant's edge density.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from cuescore.analysis.encoders.base import SemanticEncoder, register

SIDE = 144


@register
class HandcraftedEncoder(SemanticEncoder):
    """Colour histogram + spatial layout + oriented edges; deterministic, no weights."""

    NAME = "handcrafted"
    VERSION = 1
    frame_short_side = SIDE
    batch_size = 32

    @property
    def dim(self) -> int:
        return 128

    @property
    def id(self) -> str:
        return f"handcrafted-v{self.VERSION}"

    def encode(self, images: Sequence[np.ndarray]) -> np.ndarray:
        if not len(images):
            return np.zeros((0, self.dim), np.float32)
        return np.stack([describe_frame(img) for img in images]).astype(np.float32)


def describe_frame(image: np.ndarray) -> np.ndarray:
    """[128] descriptor of one RGB uint8 frame."""
    h, w = image.shape[:2]
    scale = SIDE / min(h, w)
    img = cv2.resize(image, (max(4, int(w * scale)), max(4, int(h * scale))), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV_FULL)
    colour = cv2.calcHist([hsv], [0, 1, 2], None, [8, 2, 3], [0, 256, 0, 256, 0, 256]).reshape(-1)
    colour /= max(colour.sum(), 1.0)
    lab = cv2.cvtColor(img, cv2.COLOR_RGB2LAB).astype(np.float32) / 255.0
    layout = cv2.resize(lab, (4, 4), interpolation=cv2.INTER_AREA).reshape(-1)
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    mag = np.hypot(gx, gy)
    ang = (np.arctan2(gy, gx) % np.pi) / np.pi
    texture = []
    hh, ww = gray.shape
    for rows in (slice(0, hh // 2), slice(hh // 2, hh)):
        for cols in (slice(0, ww // 2), slice(ww // 2, ww)):
            m, a = mag[rows, cols].reshape(-1), ang[rows, cols].reshape(-1)
            hist = np.bincount(np.minimum((a * 8).astype(int), 7), weights=m, minlength=8)
            density = float((m > 0.25).mean())
            texture.append(hist / max(hist.sum(), 1e-6) * density)
    return np.concatenate([colour, layout, np.concatenate(texture)]).astype(np.float32)
