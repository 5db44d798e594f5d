"""A demo clip drawn by the project itself: scenes of different colour, brightness and motion,
separated by hard cuts at known frames. Used by `make demo`, the tests and the benchmarks."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from cuescore.fileio import atomic_path


@dataclass(frozen=True)
class Scene:
    """One shot: background hue (0-179, OpenCV scale), brightness 0-1, saturation 0-1, speed in px/frame."""

    frames: int
    hue: int
    brightness: float
    saturation: float
    speed: float
    n_shapes: int = 6


DEFAULT_SCENES = (
    Scene(frames=75, hue=110, brightness=0.35, saturation=0.5, speed=0.5),   # calm dusk blue
    Scene(frames=60, hue=20, brightness=0.85, saturation=0.9, speed=6.0),    # bright, fast orange
    Scene(frames=90, hue=60, brightness=0.6, saturation=0.6, speed=2.0),     # green, moderate
    Scene(frames=45, hue=0, brightness=0.5, saturation=1.0, speed=9.0),      # red, frantic
    Scene(frames=90, hue=140, brightness=0.25, saturation=0.3, speed=0.3),   # dark, still
)


@dataclass(frozen=True)
class DemoClip:
    """What was rendered: the cut frames and times are ground truth for tests."""

    path: Path
    fps: float
    n_frames: int
    width: int
    height: int
    cut_frames: list[int] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return self.n_frames / self.fps

    @property
    def cut_times(self) -> list[float]:
        return [f / self.fps for f in self.cut_frames]


def _background(scene: Scene, width: int, height: int) -> np.ndarray:
    """The scene's lit gradient, uint8 RGB [H, W, 3]."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    shade = 0.75 + 0.25 * np.sin(xx / width * np.pi + yy / height * 0.5)
    hsv = np.empty((height, width, 3), np.float32)
    hsv[..., 0] = scene.hue
    hsv[..., 1] = 255 * scene.saturation
    hsv[..., 2] = 255 * scene.brightness * shade
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)


def _scene_frame(scene: Scene, t: int, background: np.ndarray, rng_state: np.ndarray) -> np.ndarray:
    """Draw frame `t` of a scene: shapes moving at the scene's speed over its background."""
    img = background.copy()
    height, width = img.shape[:2]
    for k in range(scene.n_shapes):
        x0, y0, vx, vy, r, hue_shift = rng_state[k]
        x = int((x0 + vx * scene.speed * t) % (width + 2 * r) - r)
        y = int((y0 + vy * scene.speed * t) % (height + 2 * r) - r)
        colour = cv2.cvtColor(np.uint8([[[(scene.hue + hue_shift) % 180, 200, 240]]]), cv2.COLOR_HSV2RGB)[0, 0]
        cv2.circle(img, (x, y), int(r), tuple(int(c) for c in colour), thickness=-1, lineType=cv2.LINE_AA)
    return img


def render_demo_clip(
    path: str | os.PathLike,
    *,
    scenes: tuple[Scene, ...] = DEFAULT_SCENES,
    fps: int = 30,
    size: tuple[int, int] = (640, 360),
    codec: str = "libx264",
    seed: int = 0,
    with_audio: bool = False,
) -> DemoClip:
    """Encode the demo clip to `path` and return its ground truth (cuts at the first frame of each
    scene after the first). `with_audio` adds a quiet 220 Hz tone track (for mixing tests)."""
    width, height = size
    rng = np.random.default_rng(seed)
    cut_frames, n = [], 0
    with atomic_path(path) as tmp, av.open(str(tmp), mode="w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            stream.options = {"preset": "veryfast", "crf": "20"}
        audio = out.add_stream("aac", rate=44100, layout="stereo") if with_audio else None
        for i, scene in enumerate(scenes):
            if i:
                cut_frames.append(n)
            state = np.column_stack([
                rng.uniform(0, width, scene.n_shapes), rng.uniform(0, height, scene.n_shapes),
                rng.uniform(-1, 1, scene.n_shapes), rng.uniform(-1, 1, scene.n_shapes),
                rng.uniform(height * 0.05, height * 0.2, scene.n_shapes), rng.integers(20, 90, scene.n_shapes),
            ])
            background = _background(scene, width, height)
            for t in range(scene.frames):
                img = _scene_frame(scene, t, background, state)
                grain = rng.integers(-6, 7, img.shape, dtype=np.int16)
                img = np.clip(img.astype(np.int16) + grain, 0, 255).astype(np.uint8)
                frame = av.VideoFrame.from_ndarray(img, format="rgb24")
                frame.pts = n
                frame.time_base = Fraction(1, fps)
                out.mux(stream.encode(frame))
                n += 1
        out.mux(stream.encode(None))
        if audio is not None:
            _write_tone(out, audio, n / fps)
    return DemoClip(path=Path(path), fps=float(fps), n_frames=n, width=width, height=height, cut_frames=cut_frames)


def _write_tone(out, stream, duration: float, rate: int = 44100) -> None:
    t = np.arange(int(duration * rate)) / rate
    tone = (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    data = np.stack([tone, tone])
    for start in range(0, data.shape[1], 1024):
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data[:, start : start + 1024]), format="fltp", layout="stereo")
        frame.sample_rate = rate
        frame.pts = start
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))
