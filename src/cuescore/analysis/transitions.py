"""Gradual shot transitions: fades to and from black, and dissolves.

A fade or a dissolve is a linear blend: during it, every frame is (nearly) the average of the
frames `k` before and `k` after it, while those two frames differ a lot. Motion breaks that
(the average of two moved pictures is a double image), so the blend error

    e = mean |F(i) - (F(i-k) + F(i+k)) / 2|   against   d = mean |F(i+k) - F(i-k)|

is a few per cent of d through a fade or dissolve and a third or more of d through camera or
subject motion. A slow pan over a smooth picture is nearly linear in time too, so the change
c - a must also not be explained by an affine motion of the picture (its gradients), and what
motion leaves unexplained must be spread over the frame, not held in one region (a caption
fading in). A run of such frames is a candidate. Black on one side makes it a fade; otherwise
the pictures before and after it must differ in structure over most of the frame, not only in
brightness and contrast (an exposure change is a blend as well). Two window lengths are used,
so transitions from 0.2 s to 4 s long are found.

Times: a dissolve's `time` is its centre. A fade's `time` is its black point, the moment the
shot boundary happens: the end of a fade-out (the old shot is gone) and the start of a fade-in
(the new shot begins to appear). A fade-in from black at the very start of a video is reported
too: it is a real, visible transition that the music may follow.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from cuescore.analysis.base import FrameAnalyzer
from cuescore.analysis.features import Transition

BLEND_SIDE = 160
"""Long side, in pixels, of the frames the blend test compares."""

WINDOWS_S = (0.2, 0.5)
"""Half-windows k in seconds. 0.2 s fits inside the 0.7 s dissolve of 0102_0011.mp4; 0.5 s keeps
slow (2-4 s) dissolves above MIN_CHANGE, where 0.2 s sees only a small step per window."""

MIN_CHANGE = 6.0
"""Smallest d (mean absolute difference, 0-255) of a blend frame: below it e / d is noise.
The real transitions peak at d = 23 (0102_0011 dissolve) to 86 (big_buck_bunny fade)."""

MAX_BLEND_ERROR = 0.2
"""Largest e / d of a blend frame. Fades and dissolves in the real clips stay below 0.1 in their
middle and reach 0.2 at their ends; slow pans (big_buck_bunny 7.5-10.7 s) sit at 0.34, the fast
motion of demo_test_video_structuralize.mp4 at 0.38 and more."""

MAX_MOTION_SHARE = 0.75
"""Largest share of the change c - a that global motion may explain in a blend frame. A pan over a
smooth picture is locally linear in time too, but its change follows the picture's gradients
(the optical-flow constraint); an affine motion model explains over 0.9 of it (synthetic pans in
the tests), under 0.2 of the real fades and dissolves and about half of a dissolve between two
panning shots."""

MIN_SPREAD = 0.16
"""Smallest participation ratio (sum r^2)^2 / (N sum r^4) of the change left over by motion, the
share of the frame that carries it, averaged over a run. Real fades and dissolves: 0.20-0.90;
the big_buck_bunny title and a synthetic caption fading in over a pan: 0.05-0.12."""

MIN_RUN = 2
"""Blend frames needed in a row: one frame alone can look like a blend by chance."""

MIN_REPLACED = 0.25
"""Smallest fraction of pixels of the picture after a dissolve that are not the picture before it
under the best gain and offset per channel. The real dissolves replace 42 % (testvideo.mp4, two
stills of similar layout) and 85 % (0102_0011.mp4); the synthetic exposure drop over a slow pan in the tests
3-16 %."""

REPLACED_LEVEL = 30.0
"""Per-pixel difference (0-255, largest over R, G, B) that counts as a changed pixel."""

BLACK_LEVEL = 16.0
"""Mean RGB (0-255) below which a frame is black. Black frames in testvideo.mp4 and
big_buck_bunny average 0-2; the darkest ordinary shot in the real clips (goldeneye) averages 31."""


@dataclass
class Candidate:
    """A gradual transition found at one window length; times in seconds."""

    start: float
    end: float
    black_before: bool
    black_after: bool


def to_transition(c: Candidate) -> Transition | None:
    """The transition a candidate describes, or None when it is black on both sides."""
    if c.black_before and c.black_after:
        return None
    if c.black_after:
        return Transition(time=c.end, kind="fade_out", start=c.start, end=c.end)
    if c.black_before:
        return Transition(time=c.start, kind="fade_in", start=c.start, end=c.end)
    return Transition(time=(c.start + c.end) / 2, kind="dissolve", start=c.start, end=c.end)


def mean_value(image: np.ndarray) -> float:
    """Mean over all pixels and channels (1-4) of an image; OpenCV's reduction, faster than numpy's."""
    channels = 1 if image.ndim == 2 else image.shape[2]
    return sum(cv2.mean(image)[:channels]) / channels


def is_black(image: np.ndarray) -> bool:
    """Whether a frame (any size, 0-255) is black: mean below BLACK_LEVEL."""
    return mean_value(image) < BLACK_LEVEL


def motion_residual(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> tuple[float, float]:
    """How the change `c - a` (grey) relates to an affine motion of `b`'s picture.

    Least squares of c - a on b's gradients weighted by 1, x and y (brightness constancy under
    translation, zoom, rotation and shear). Returns (share of the change's energy the motion
    explains, participation ratio of what is left), both 0-1.
    """
    grey = [cv2.cvtColor(x, cv2.COLOR_RGB2GRAY) for x in (a, b, c)]
    change = (grey[2] - grey[0]).ravel()
    total = float(change @ change)
    if total <= 0.0:
        return 0.0, 0.0
    mid = cv2.GaussianBlur(grey[1], (5, 5), 1.0)
    gx = cv2.Sobel(mid, cv2.CV_32F, 1, 0, ksize=3).ravel() / 8
    gy = cv2.Sobel(mid, cv2.CV_32F, 0, 1, ksize=3).ravel() / 8
    h, w = mid.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    xx, yy = (xx.ravel() - w / 2) / w, (yy.ravel() - h / 2) / h
    basis = np.stack([gx, gx * xx, gx * yy, gy, gy * xx, gy * yy], axis=1)
    gram = basis.T @ basis + 1e-3 * np.eye(6, dtype=np.float32)
    rest = change - basis @ np.linalg.solve(gram, basis.T @ change)
    energy = rest * rest
    left = float(energy.sum())
    spread = left * left / (energy.size * float(energy @ energy)) if left > 0.0 else 0.0
    return float(np.clip(1.0 - left / total, 0.0, 1.0)), spread


def replaced_fraction(before: np.ndarray, after: np.ndarray) -> float:
    """Fraction of pixels (0-1) of `after` that differ by more than REPLACED_LEVEL from `before`
    mapped through the best gain and offset per colour channel."""
    x = before.reshape(-1, 3).astype(np.float64)
    y = after.reshape(-1, 3).astype(np.float64)
    dx, dy = x - x.mean(0), y - y.mean(0)
    gain = (dx * dy).sum(0) / np.maximum((dx * dx).sum(0), 1e-9)
    fitted = y.mean(0) + gain * dx
    return float((np.abs(y - fitted).max(axis=1) > REPLACED_LEVEL).mean())


class RingFrame:
    """One frame of the blend test's ring: uint8 RGB pixels, and their float32 copy made only when a
    frame takes part in a large enough change to need it (most frames never do)."""

    __slots__ = ("pixels", "_floats")

    def __init__(self, pixels: np.ndarray) -> None:
        self.pixels = pixels
        self._floats: np.ndarray | None = None

    def floats(self) -> np.ndarray:
        if self._floats is None:
            self._floats = self.pixels.astype(np.float32)
        return self._floats


def blend_frame(image: np.ndarray) -> np.ndarray:
    """`image` (uint8 RGB) with its long side shrunk to BLEND_SIDE pixels (never enlarged)."""
    h, w = image.shape[:2]
    scale = min(1.0, BLEND_SIDE / max(h, w))
    if scale < 1.0:
        image = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return image


class BlendScale:
    """Runs of blend frames at one half-window of `k` frames, over a shared ring of frames."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.candidates: list[Candidate] = []
        self._count = 0
        self._spread = 0.0
        self._start = 0.0
        self._end = 0.0
        self._before: np.ndarray | None = None
        self._after: np.ndarray | None = None

    def step(self, ring: deque) -> None:
        """Test the frame `k` behind the newest one in `ring` (a deque of (time, `RingFrame`))."""
        k = self.k
        if len(ring) < 2 * k + 1:
            return
        fa, fb, fc = ring[-1 - 2 * k][1], ring[-1 - k][1], ring[-1][1]
        d = mean_value(cv2.absdiff(fc.pixels, fa.pixels))  # exact on uint8: the pixels are whole numbers
        if d < MIN_CHANGE:
            self.close()
            return
        a, b, c = fa.floats(), fb.floats(), fc.floats()
        if mean_value(cv2.absdiff(b, cv2.addWeighted(a, 0.5, c, 0.5, 0.0))) > MAX_BLEND_ERROR * d:
            self.close()
            return
        share, spread = motion_residual(a, b, c)
        if share > MAX_MOTION_SHARE:
            self.close()
            return
        if self._count == 0:
            self._start = ring[-1 - k - k // 2][0]
            self._before = a
        self._count += 1
        self._spread += spread
        self._end = ring[-1 - k + k // 2][0]
        self._after = c

    def close(self) -> None:
        """End the current run and keep it if it passes the run-level tests."""
        if self._count >= MIN_RUN and self._spread / self._count >= MIN_SPREAD:
            black_before, black_after = is_black(self._before), is_black(self._after)
            if black_before or black_after or replaced_fraction(self._before, self._after) >= MIN_REPLACED:
                self.candidates.append(Candidate(self._start, self._end, black_before, black_after))
        self._count = 0
        self._spread = 0.0
        self._before = self._after = None


def merge_candidates(candidates: list[Candidate]) -> list[Candidate]:
    """Join candidates whose spans overlap (one transition seen at several window lengths)."""
    merged: list[Candidate] = []
    for c in sorted(candidates, key=lambda c: c.start):
        last = merged[-1] if merged else None
        if last is not None and c.start <= last.end:
            if c.end > last.end:
                last.end, last.black_after = c.end, c.black_after
        else:
            merged.append(Candidate(c.start, c.end, c.black_before, c.black_after))
    return merged


class GradualDetector(FrameAnalyzer):
    """Finds fades and dissolves; after `finish`, `transitions` holds them sorted by time.

    fps: the video's average frame rate, which turns the window lengths into frame counts.
    State: the last 2k+1 frames at BLEND_SIDE pixels for the longest window (about 30 frames).
    """

    def __init__(self, fps: float) -> None:
        if not fps > 0:
            raise ValueError("fps must be positive")
        ks = sorted({max(1, round(w * fps)) for w in WINDOWS_S})
        self.scales = [BlendScale(k) for k in ks]
        self._ring: deque = deque(maxlen=2 * ks[-1] + 1)
        self.transitions: list[Transition] = []

    def update(self, t: float, image: np.ndarray) -> None:
        self.add(t, blend_frame(image))

    def add(self, t: float, small: np.ndarray) -> None:
        """Take the frame at `t` s already shrunk by `blend_frame` (uint8 RGB)."""
        self._ring.append((t, RingFrame(small)))
        for s in self.scales:
            s.step(self._ring)

    def finish(self, duration: float) -> None:
        for s in self.scales:
            s.close()
        found = merge_candidates([c for s in self.scales for c in s.candidates])
        self.transitions = [tr for tr in map(to_transition, found) if tr is not None]
