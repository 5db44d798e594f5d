"""Small synthetic videos for tests: any codec/container, variable frame rate, rotation."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def colour_frame(i: int, width: int, height: int) -> np.ndarray:
    """A frame whose colour and a moving bar encode its index."""
    img = np.zeros((height, width, 3), np.uint8)
    img[:] = ((i * 37) % 256, (i * 91) % 256, 128)
    x = (i * 3) % width
    img[:, x : x + 4] = 255
    return img


def make_video(
    path: Path,
    *,
    codec: str = "libx264",
    n_frames: int = 30,
    fps: int = 30,
    size: tuple[int, int] = (96, 64),
    times: list[float] | None = None,
    rotation: int = 0,
    frames: list[np.ndarray] | None = None,
    gop: int | None = None,
) -> Path:
    """Encode a video; `times` (seconds) gives variable frame timestamps (millisecond time base);
    `gop`: frames between keyframes (the encoder's default when None)."""
    width, height = size
    time_base = Fraction(1, 1000) if times is not None else Fraction(1, fps)
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        if gop is not None:
            stream.codec_context.gop_size = gop
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
        if rotation:
            stream.set_display_rotation(rotation)
        count = len(frames) if frames is not None else n_frames
        for i in range(count):
            img = frames[i] if frames is not None else colour_frame(i, width, height)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = int(round(times[i] * 1000)) if times is not None else i
            frame.time_base = time_base
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def make_audio_only(path: Path, seconds: float = 1.0) -> Path:
    """An .mp4 with only an AAC track."""
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("aac", rate=44100, layout="stereo")
        n = int(seconds * 44100)
        data = np.zeros((2, n), np.float32)
        for start in range(0, n, 1024):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data[:, start : start + 1024]), format="fltp", layout="stereo")
            frame.sample_rate = 44100
            frame.pts = start
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path
