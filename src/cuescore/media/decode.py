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
import warnings
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


UNREADABLE_SHARE = 0.5
"""A video with more than this share of its packets unreadable is an input error, not a warning."""


class DamageLog:
    """The packets of one decode that could not be read, as time ranges for one warning line."""

    GAP = 1.0
    """Damaged packets closer than this many seconds make one range."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = path
        self.ranges: list[list[float]] = []
        self.bad = self.packets = 0
        self.ended_at: float | None = None

    def add(self, t: float) -> None:
        """A packet at `t` s (from the first frame) could not be decoded."""
        self.bad += 1
        if self.ranges and self.ranges[-1][0] - self.GAP <= t <= self.ranges[-1][1] + self.GAP:
            self.ranges[-1] = [min(self.ranges[-1][0], t), max(self.ranges[-1][1], t)]
        else:
            self.ranges.append([t, t])

    def message(self) -> str | None:
        """One line naming the damaged time ranges, or None when nothing was damaged."""
        parts = []
        if self.ranges:
            spans = ", ".join(f"{a:.1f}-{b:.1f} s" if b - a >= 0.05 else f"{a:.1f} s" for a, b in self.ranges)
            parts.append(f"{self.bad} damaged packet(s) at {spans} skipped (the last good frame is held there)")
        if self.ended_at is not None:
            parts.append(f"the video stream breaks off after {self.ended_at:.1f} s (truncated?)")
        return f"{self.path}: " + "; ".join(parts) if parts else None

    def check(self) -> None:
        """Warn about the damage; `InputError` when most packets were unreadable."""
        if self.packets and self.bad > UNREADABLE_SHARE * self.packets:
            raise InputError(f"{self.path}: {self.bad} of {self.packets} video packets cannot be decoded; "
                             "the file is too damaged to score")
        text = self.message()
        if text:
            warnings.warn(text, DamagedMediaWarning, stacklevel=3)


class DamagedMediaWarning(UserWarning):
    """A video was decoded past damaged or missing data."""


def readable_packets(container, stream, damage: DamageLog | None = None) -> Iterator[av.Packet | None]:
    """The stream's packets; a demuxing error ends them (noted in `damage`) with a None (to flush a
    decoder) instead of raising."""
    packets = container.demux(stream)
    last = 0.0
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.error.FFmpegError:
            if damage is not None:
                damage.ended_at = last
            yield None  # flush the decoder
            return
        if packet.pts is not None and packet.time_base is not None:
            last = float(packet.pts * packet.time_base)
        yield packet


def iter_decoded(path: str | os.PathLike, *, threads: bool = True,
                 damage: DamageLog | None = None) -> Iterator[tuple[float, av.VideoFrame]]:
    """Yield `(time_s, av.VideoFrame)` for every frame, times relative to the first frame.

    Packets that cannot be decoded are skipped and a file that breaks off ends there, with one
    `DamagedMediaWarning` naming the damaged times; pass `damage` to read them afterwards (its
    `ended_at` is where a truncated file stops). `InputError` if the file cannot be read, has no
    decodable frame, or most of its packets are unreadable.
    """
    damage = damage if damage is not None else DamageLog(path)
    with open_container(path) as container:
        stream = video_stream(container, path)
        if threads:
            stream.thread_type = "AUTO"
        start = None
        count, last = 0, 0.0
        for packet in readable_packets(container, stream, damage):
            try:
                frames = stream.decode(packet)
            except av.error.FFmpegError:
                if packet is not None and packet.pts is not None:
                    damage.add(float(packet.pts * packet.time_base) - (start or 0.0))
                continue
            finally:
                damage.packets += packet is not None and packet.size > 0
            for frame in frames:
                if frame.pts is None or frame.time is None:
                    continue
                if start is None:
                    start = frame.time
                count += 1
                last = frame.time - start
                yield last, frame
        expected = _declared_duration(container, stream)
    if count == 0:
        raise InputError(f"{path}: the video track has no decodable frames; the file may be truncated or damaged")
    if damage.ended_at is not None or (expected is not None and last < expected - TRUNCATED_SECONDS):
        if threads:  # frame threads lose the frames decoded beside a packet the cut went through
            for last, frame in decode_from(path, start, last, after=last):
                yield last, frame
        damage.ended_at = last  # the last frame decoded, not the last packet read
    damage.check()


TRUNCATED_SECONDS = 1.0
"""Frames ending this much before the duration the container declares mean a cut-off file."""


def _declared_duration(container, stream) -> float | None:
    """Seconds of video the container's header promises, if it says."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return container.duration / 1e6 if container.duration is not None else None


def last_frame_time(path: str | os.PathLike, start_time: float, until: float) -> float:
    """Seconds from `start_time` (the video's first frame) to the last frame that decodes,
    decoding from the keyframe before `until` s only, and stopping at the first frame past
    `until`: a result above `until` means the video goes on. 0 when no frame decodes there."""
    last = 0.0
    for last, _ in decode_from(path, start_time, until - 1.0):
        if last > until:
            break
    return last


def decode_from(path: str | os.PathLike, start_time: float, seek: float,
                after: float = -math.inf) -> Iterator[tuple[float, av.VideoFrame]]:
    """`(seconds from start_time, frame)` for the frames later than `after` s, decoded on one
    thread from the keyframe at or before `seek` s (from the start when the file cannot seek);
    undecodable packets are skipped."""
    with open_container(path) as container:
        stream = video_stream(container, path)
        try:
            container.seek(int(max(0.0, start_time + seek) / stream.time_base), stream=stream)
        except av.error.FFmpegError:
            pass  # unseekable: decode from the start
        for packet in readable_packets(container, stream):
            try:
                frames = stream.decode(packet)
            except av.error.FFmpegError:
                continue
            for frame in frames:
                if frame.time is not None and float(frame.time) - start_time > after:
                    yield float(frame.time) - start_time, frame


@dataclass(frozen=True)
class Sampling:
    """One view of a video: the first frame at or after each multiple of `1 / fps` seconds
    (sample-and-hold; every frame when fps is None), at the size `output_size` gives for
    `size`, `max_side` or `short_side`."""

    fps: float | None = None
    size: tuple[int, int] | None = None
    max_side: int | None = None
    short_side: int | None = None


def iter_sampled(path: str | os.PathLike, samplings: Sequence[Sampling], *, threads: bool = True,
                 damage: DamageLog | None = None) -> Iterator[tuple[float, list[np.ndarray | None]]]:
    """One decode pass serving several `samplings`: `(time_s, images)` for every frame that at
    least one of them takes, with one uint8 RGB image [H, W, 3] (display orientation) or None per
    sampling. Times are frame timestamps relative to the first frame, so variable frame rate is
    exact. `threads` and `damage` as for `iter_decoded`."""
    for s in samplings:
        if s.fps is not None and s.fps <= 0:
            raise ValueError("fps must be positive")
    samplers = [TimeSampler(s.fps) for s in samplings]
    sizes: list[tuple[int, int] | None] = [None] * len(samplings)
    for t, frame in iter_decoded(path, threads=threads, damage=damage):
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
