"""Shot boundaries: hard cuts (PySceneDetect) and gradual transitions, fed by our own decoder.

Hard cuts come from PySceneDetect's `AdaptiveDetector`: the HSV content change between
consecutive frames, compared with the change of the frames around it, so that steady fast
motion does not read as a cut. Its frames and timecodes come from `cuescore.media.decode`;
each timecode is built from the frame's own timestamp (microsecond time base), so variable
frame rate video gets exact cut times. A cut between two black frames (hue and saturation
are noise there, as in the first frames of a fade-in), a cut inside a fade or dissolve, and a
"cut" whose frames on either side show the same picture once the camera's shift between them is
undone (a whip pan: one or two frames of fast, smeared motion inside one shot; `same_scene`) are
dropped. Fades and dissolves come from `transitions.GradualDetector` on the same frames.

`scene_offset` turns boundary times into MuVi-Sync's per-second "seconds since the shot began".
"""

from __future__ import annotations

from collections import deque
from fractions import Fraction

import cv2
import numpy as np
from scenedetect import AdaptiveDetector, FrameTimecode
from scenedetect.common import Timecode

from cuescore.analysis.base import FrameAnalyzer
from cuescore.analysis.features import HARD_CUT, Transition
from cuescore.analysis.transitions import GradualDetector, blend_frame, is_black

TIME_BASE = Fraction(1, 1_000_000)
"""Time base of the timecodes handed to PySceneDetect: microseconds."""

MIN_SHOT_S = 0.4
"""Shortest shot after a hard cut, in seconds: camera flashes and explosions change a few frames
and then return; 0.4 s is shorter than any shot in the real clips and the demo clip (1.5 s)."""

ADAPTIVE_THRESHOLD = 3.0
"""A cut's content change must be this many times the mean change of the 2 frames on either
side (PySceneDetect's default). The real cuts in the clips score 20-255 (the cap); the fast
basketball motion of demo_test_video_structuralize.mp4 at most 1.2; the first frames of the
fades from black in testvideo.mp4 and big_buck_bunny 4.3-4.5 (dropped as black)."""

MIN_CONTENT = 20.0
"""Smallest HSV content change (0-255) of a cut. The real cuts score 48-82; a codec keyframe that
shifts the hue of big_buck_bunny's pale sky (5.795 s) scores 16 at a ratio of 4.7. Still below
the 27 of PySceneDetect's ContentDetector, so any cut that detector finds alone passes here."""

HISTORY = 8
"""Frames of (timecode, time, black, picture shrunk by `blend_frame`) kept to map emitted cuts back; the
detector reports a cut 2 frames late."""

SAME_SCENE = 0.6
"""Smallest correlation of two frames aligned by their global shift that counts as one scene. The
frames around every real cut in the shared clips correlate at most 0.24 however they are shifted;
the sharp frames on either side of a synthetic 50-px whip pan at 1.0 (the smeared frame itself 0.4).
Structure alone is not enough: two flat colours under one overlay (a caption, a bar) correlate too."""

SAME_COLOUR = 24.0
"""Largest mean absolute RGB difference (0-255) of two aligned frames of one scene: a cut between
two shots of similar layout changes the colours (flat red to flat green under a moving bar: 103;
the aligned sharp frames around a synthetic whip pan: under 1)."""


class _AdaptiveRGB(AdaptiveDetector):
    """PySceneDetect's AdaptiveDetector fed RGB frames, its content score computed with OpenCV.

    The score is ContentDetector's: the weighted mean absolute change of hue, saturation and
    value between consecutive frames (0-255). OpenCV's HSV straight from RGB and its per-channel
    mean of `absdiff` give the same value as PySceneDetect's BGR conversion, split and numpy
    sums, at a third of the cost.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        if self._weights.delta_edges != 0.0:
            raise ValueError("edge weights are not supported")
        self._last_hsv: np.ndarray | None = None

    def _calculate_frame_score(self, timecode: FrameTimecode, frame_img: np.ndarray) -> float:
        hsv = cv2.cvtColor(frame_img, cv2.COLOR_RGB2HSV)
        last, self._last_hsv = self._last_hsv, hsv
        if last is None or last.shape != hsv.shape:
            return 0.0
        dh, ds, dv = cv2.mean(cv2.absdiff(hsv, last))[:3]
        w = self._weights
        return (dh * w.delta_hue + ds * w.delta_sat + dv * w.delta_lum) / (abs(w.delta_hue) + abs(w.delta_sat) + abs(w.delta_lum))


def aligned_match(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """How alike RGB frames `a` and `b` [H, W, 3] are over their overlap once `a` is moved by the
    global shift phase correlation finds between their grey pictures (lightly smoothed against
    codec noise): (correlation -1..1 of the grey pictures, mean absolute RGB difference 0-255).
    (0, 255) when the overlap is under a quarter of the frame."""
    h, w = a.shape[:2]
    grey = [cv2.GaussianBlur(cv2.cvtColor(x, cv2.COLOR_RGB2GRAY), (0, 0), 1.0) for x in (a, b)]
    (dx, dy), _ = cv2.phaseCorrelate(grey[0], grey[1], cv2.createHanningWindow((w, h), cv2.CV_32F))
    if not (np.isfinite(dx) and np.isfinite(dy)):
        return 0.0, 255.0
    mx, my = int(np.ceil(abs(dx))) + 1, int(np.ceil(abs(dy))) + 1
    if max(0, w - mx) * max(0, h - my) < h * w / 4:  # shifted that far, too little of the pictures overlaps
        return 0.0, 255.0
    shift = np.float32([[1, 0, dx], [0, 1, dy]])
    cols = slice(mx, w) if dx >= 0 else slice(0, w - mx)
    rows = slice(my, h) if dy >= 0 else slice(0, h - my)
    moved = cv2.warpAffine(grey[0], shift, (w, h), flags=cv2.INTER_LINEAR)[rows, cols].ravel()
    p, q = moved - moved.mean(), grey[1][rows, cols].ravel()
    q = q - q.mean()
    norm = float(np.sqrt((p @ p) * (q @ q)))
    colour = cv2.warpAffine(a, shift, (w, h), flags=cv2.INTER_LINEAR)[rows, cols]
    return (float(p @ q) / norm if norm > 1e-6 else 0.0), float(np.abs(colour - b[rows, cols]).mean())


def same_scene(before: list[np.ndarray], after: list[np.ndarray]) -> bool:
    """Whether any frame of `before` (the last frames of the old shot) and any of `after` (the first
    of the new) show one picture shifted: aligned, their structure correlates (`SAME_SCENE`) and
    their colours agree (`SAME_COLOUR`). Comparing a few frames on each side reaches past the
    smeared frames of a whip pan."""
    for a in before:
        for b in after:
            if a.shape == b.shape:
                correlation, difference = aligned_match(a, b)
                if correlation >= SAME_SCENE and difference <= SAME_COLOUR:
                    return True
    return False


def timecode(t: float, fps: float) -> FrameTimecode:
    """A PySceneDetect timecode for the frame shown at `t` seconds (pts in microseconds)."""
    return FrameTimecode(Timecode(pts=round(t / TIME_BASE), time_base=TIME_BASE), fps=float(fps))


class CutDetector(FrameAnalyzer):
    """Finds every shot boundary; after `finish`, `transitions` holds them sorted by time.

    fps: the video's average frame rate (frames per second), which sets the minimum shot
    length and the gradual detector's windows in frames.
    Hard cuts have kind "cut" and `time` = the first frame of the new shot. Fades and dissolves
    carry `start` and `end`; see `cuescore.analysis.transitions` for their `time`.
    """

    def __init__(self, fps: float) -> None:
        if not fps > 0:
            raise ValueError("fps must be positive")
        self.fps = float(fps)
        self._content = _AdaptiveRGB(
            adaptive_threshold=ADAPTIVE_THRESHOLD,
            min_content_val=MIN_CONTENT,
            min_scene_len=max(1, round(MIN_SHOT_S * self.fps)),
        )
        self._gradual = GradualDetector(self.fps)
        self._history: deque[tuple[int, float, bool, np.ndarray]] = deque(maxlen=HISTORY)
        self._cuts: list[float] = []
        self._last: FrameTimecode | None = None
        self.transitions: list[Transition] = []

    def update(self, t: float, image: np.ndarray) -> None:
        tc = timecode(t, self.fps)
        small = blend_frame(image)  # one shrunk frame for the blend test and for `same_scene`
        self._history.append((tc.pts, t, is_black(image), small))
        self._take(self._content.process_frame(tc, image))
        self._gradual.add(t, small)
        self._last = tc

    def _take(self, cuts: list[FrameTimecode]) -> None:
        """Keep each reported cut unless both frames around it are black or the frames around it
        show one scene shifted (`same_scene`)."""
        frames = list(self._history)
        for cut in cuts:
            for i, (pts, t, black, _) in enumerate(frames):
                if pts == cut.pts:
                    both_black = black and i > 0 and frames[i - 1][2]
                    before = [f[3].astype(np.float32) for f in frames[max(0, i - 2):i]]
                    after = [f[3].astype(np.float32) for f in frames[i:i + 3]]
                    if not both_black and not same_scene(before, after):
                        self._cuts.append(t)
                    break

    def finish(self, duration: float) -> None:
        if self._last is not None:
            self._take(self._content.post_process(self._last))
        self._gradual.finish(duration)
        gradual = self._gradual.transitions
        guard = 1.0 / self.fps
        cuts = [
            Transition(time=t, kind=HARD_CUT)
            for t in self._cuts
            if not any(g.start - guard <= t <= g.end + guard for g in gradual)
        ]
        self.transitions = sorted(cuts + gradual, key=lambda tr: tr.time)


def scene_offset(cut_times: list[float], T: int) -> np.ndarray:
    """Whole seconds since the current shot began, per second: float32 [T].

    Row s counts up 0, 1, 2, ... and drops to 0 in the second that contains a boundary from
    `cut_times` (seconds), as in MuVi-Sync. Times outside [0, T) are ignored.
    """
    starts = np.zeros(T, bool)
    for t in cut_times:
        s = int(np.floor(t))
        if 0 <= s < T:
            starts[s] = True
    out = np.zeros(T, np.float32)
    for s in range(1, T):
        out[s] = 0.0 if starts[s] else out[s - 1] + 1.0
    return out
