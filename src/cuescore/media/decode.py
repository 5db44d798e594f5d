"""Streaming video decode: `iter_frames(path, ...)` yields `Frame(time, image)` one at a time.

Frames are decoded by PyAV; yuv420p frames are scaled plane by plane and converted to RGB
with OpenCV, which is several times cheaper than asking FFmpeg for full-size RGB. Only one
frame is alive at a time, so memory does not grow with the length of the video.
"""

from __future__ import annotations

import math
import os
import queue
import threading
from dataclasses import dataclass
from typing import Iterator, Sequence

import av
import cv2
import numpy as np

from cuescore.errors import InputError
from cuescore.media.probe import _reason, open_container, video_stream

_ROTATE = {90: cv2.ROTATE_90_COUNTERCLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_CLOCKWISE}
_FULL_RANGE = 2  # AVCOL_RANGE_JPEG


@dataclass
class Frame:
    """One decoded frame: `time` in seconds from the video's start, `image` uint8 RGB [H, W, 3]."""

    time: float
    image: np.ndarray
    index: int


def fit_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """Even (width, height) no larger than `max_side` on the long side, keeping the aspect ratio."""
    scale = min(1.0, max_side / max(width, height))
    w = max(2, int(round(width * scale / 2)) * 2)
    h = max(2, int(round(height * scale / 2)) * 2)
    return w, h


def iter_decoded(path: str | os.PathLike, *, threads: bool = True) -> Iterator[tuple[float, av.VideoFrame]]:
    """Yield `(time_s, av.VideoFrame)` for every frame, times relative to the first frame.

    Raises `InputError` if the file cannot be read, is damaged part way, or has no frames.
    """
    with open_container(path) as container:
        stream = video_stream(container, path)
        if threads:
            stream.thread_type = "AUTO"
        start = None
        count = 0
        try:
            for frame in container.decode(stream):
                if frame.pts is None or frame.time is None:
                    continue
                if start is None:
                    start = frame.time
                count += 1
                yield frame.time - start, frame
        except av.error.FFmpegError as exc:
            raise InputError(f"{path}: decoding failed after {count} frames ({_reason(exc)}); the file may be damaged") from None
    if count == 0:
        raise InputError(f"{path}: the video track has no decodable frames; the file may be truncated or damaged")


@dataclass(frozen=True)
class Sampling:
    """One view of a video: the first frame at or after each multiple of `1 / fps` seconds
    (sample-and-hold; every frame when fps is None), at the size `output_size` gives for
    `size`, `max_side` or `short_side`."""

    fps: float | None = None
    size: tuple[int, int] | None = None
    max_side: int | None = None
    short_side: int | None = None


def iter_sampled(path: str | os.PathLike, samplings: Sequence[Sampling], *,
                 threads: bool = True) -> Iterator[tuple[float, list[np.ndarray | None]]]:
    """One decode pass serving several `samplings`: `(time_s, images)` for every frame that at
    least one of them takes, with one uint8 RGB image [H, W, 3] (display orientation) or None per
    sampling. Times are frame timestamps relative to the first frame, so variable frame rate is exact."""
    for s in samplings:
        if s.fps is not None and s.fps <= 0:
            raise ValueError("fps must be positive")
    samplers = [TimeSampler(s.fps) for s in samplings]
    sizes: list[tuple[int, int] | None] = [None] * len(samplings)
    for t, frame in iter_decoded(path, threads=threads):
        images: list[np.ndarray | None] = [None] * len(samplings)
        for k, (s, sampler) in enumerate(zip(samplings, samplers)):
            if sampler.take(t):
                sizes[k] = sizes[k] or output_size(frame, s.size, s.max_side, s.short_side)
                images[k] = to_rgb(frame, sizes[k])
        if any(image is not None for image in images):
            yield float(t), images


def iter_frames(
    path: str | os.PathLike,
    *,
    fps: float | None = None,
    size: tuple[int, int] | None = None,
    max_side: int | None = None,
    threads: bool = True,
) -> Iterator[Frame]:
    """Yield RGB frames of the video at `path` in display orientation.

    fps: if given, yield the first frame at or after each multiple of `1 / fps` seconds
        (sample-and-hold, so a whole-second grid gets "the frame at each second");
        otherwise every frame.
    size: output (width, height) in display orientation, or
    max_side: scale so the long side is at most this many pixels. Neither: full size.
    Times are frame timestamps relative to the first frame, so variable frame rate is exact.
    """
    sampling = Sampling(fps, size, max_side)
    for index, (t, (image,)) in enumerate(iter_sampled(path, [sampling], threads=threads)):
        yield Frame(time=t, image=image, index=index)


class TimeSampler:
    """Sample-and-hold on a grid of `1 / fps` seconds: `take(t)` is True for the first frame at or
    after each grid point (every frame when fps is None)."""

    def __init__(self, fps: float | None) -> None:
        self.fps = fps
        self.next_time = 0.0

    def take(self, t: float) -> bool:
        if self.fps is None:
            return True
        if t + 1e-6 < self.next_time:
            return False
        self.next_time = (math.floor(t * self.fps + 1e-6) + 1) / self.fps
        return True


def output_size(frame: av.VideoFrame, size=None, max_side: int | None = None, short_side: int | None = None) -> tuple[int, int]:
    """Output (width, height) in display orientation: `size`, or fit to `max_side`, or scale the
    short side to `short_side`, or the full display size."""
    rot = int(frame.rotation or 0) % 360
    disp_w, disp_h = (frame.height, frame.width) if rot in (90, 270) else (frame.width, frame.height)
    if size is not None:
        return int(size[0]), int(size[1])
    if max_side is not None:
        return fit_size(disp_w, disp_h, max_side)
    if short_side is not None:
        return fit_size(disp_w, disp_h, int(round(short_side * max(disp_w, disp_h) / min(disp_w, disp_h))))
    return disp_w, disp_h


def to_rgb(frame: av.VideoFrame, size: tuple[int, int]) -> np.ndarray:
    """Convert a decoded frame to uint8 RGB [H, W, 3] of display `size` (width, height)."""
    rot = int(frame.rotation or 0) % 360
    w, h = (size[1], size[0]) if rot in (90, 270) else size
    limited_range = frame.format.name == "yuv420p" and frame.color_range != _FULL_RANGE
    if limited_range and frame.width % 2 == 0 and frame.height % 2 == 0 and w % 2 == 0 and h % 2 == 0:
        rgb = _i420_to_rgb(frame, w, h)
    else:
        rgb = frame.reformat(width=w, height=h, format="rgb24").to_ndarray()
    if rot in _ROTATE:
        rgb = cv2.rotate(rgb, _ROTATE[rot])
    return np.ascontiguousarray(rgb)


def _i420_to_rgb(frame: av.VideoFrame, w: int, h: int) -> np.ndarray:
    """Scale the Y, U, V planes of an I420 frame separately, then convert once.

    The planes are read in place (no copy of the full-size frame) and shrunk by `shrink`.
    """
    y, u, v = (_plane_view(p) for p in frame.planes[:3])
    i420 = np.empty((h * 3 // 2, w), np.uint8)
    i420[:h] = shrink(y, w, h)
    chroma = i420[h:].reshape(-1)
    quarter = (w // 2) * (h // 2)
    chroma[:quarter] = shrink(u, w // 2, h // 2).reshape(-1)
    chroma[quarter:] = shrink(v, w // 2, h // 2).reshape(-1)
    return cv2.cvtColor(i420, cv2.COLOR_YUV2RGB_I420)


def _plane_view(plane) -> np.ndarray:
    """A uint8 [height, width] view of one plane of a decoded frame (rows may be padded)."""
    flat = np.frombuffer(plane, np.uint8, count=plane.line_size * plane.height)
    return flat.reshape(plane.height, plane.line_size)[:, : plane.width]


def shrink(image: np.ndarray, w: int, h: int) -> np.ndarray:
    """Resize `image` to (w, h): area averaging when shrinking, bilinear when enlarging.

    Large reductions are done in exact 2x2 halvings first: OpenCV's vectorised path for
    those is several times faster than one area resize by a larger factor, and the result
    is the same box average (up to rounding).
    """
    ih, iw = image.shape[:2]
    while iw >= 2 * w and ih >= 2 * h and iw % 2 == 0 and ih % 2 == 0:
        iw, ih = iw // 2, ih // 2
        image = cv2.resize(image, (iw, ih), interpolation=cv2.INTER_AREA)
    if (iw, ih) != (w, h):
        image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if w < iw else cv2.INTER_LINEAR)
    return image


_DONE = object()


def prefetch(iterator: Iterator, depth: int = 8) -> Iterator:
    """Run `iterator` in a background thread, `depth` items ahead of the consumer.

    PyAV and OpenCV release the GIL, so decoding overlaps with the consumer's work on another
    core. Exceptions are re-raised in the consumer; closing the consumer stops the producer.
    """
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry) -> bool:
        """Queue `entry` unless the consumer has gone; False once it has."""
        while not stop.is_set():
            try:
                items.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in iterator:
                if not put((True, item)):
                    return
            put((True, _DONE))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            put((False, exc))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="cuescore-decode", daemon=True)
    worker.start()
    try:
        while True:
            ok, item = items.get()
            if not ok:
                raise item
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)
