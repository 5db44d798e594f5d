"""Frames at chosen times, found by seeking: VidMuse's two visual streams.

VidMuse conditions each 30 s window on its frames at 2 fps (the *short-term* stream) and on frames
spread evenly over the whole video (the *long-term* stream), every frame resized to 224x224 without
cropping (as its `transforms.Resize((224, 224))`). `window_frames` and `spread_frames` return those
as uint8 arrays [N, 224, 224, 3]. They seek to the keyframe before each wanted time when it is more
than `seek_gap` seconds ahead, so a window of an hour-long video costs about the same as one of a
minute-long video, and only the frames asked for are kept.
"""

from __future__ import annotations

import math
import os
from typing import Iterator, Sequence

import av
import numpy as np

from cuescore.errors import InputError
from cuescore.media.decode import to_rgb
from cuescore.media.probe import _reason, open_container, video_stream

VIDMUSE_SIZE = 224
"""Side of VidMuse's (and CLIP ViT-B/32's) square input frames."""
VIDMUSE_FPS = 2.0
"""Frame rate of VidMuse's short-term stream."""
_EPS = 1e-6


def frames_at(path: str | os.PathLike, times: Sequence[float], *, size: int = VIDMUSE_SIZE,
              seek_gap: float = 2.0) -> np.ndarray:
    """The frame on screen at each of `times` (seconds from the first frame) as uint8 RGB
    [len(times), size, size, 3], in display orientation, squashed to a square as VidMuse does.

    The frame on screen at t is the last one whose timestamp is <= t; before the first frame it is
    the first frame, after the last frame the last one. Raises `InputError` for a video without
    decodable frames.
    """
    wanted = np.asarray(times, float)
    out = np.empty((len(wanted), size, size, 3), np.uint8)
    if len(wanted) == 0:
        return out
    order = np.argsort(wanted, kind="stable")
    with open_container(path) as container:
        stream = video_stream(container, path)
        stream.thread_type = "AUTO"
        for slot, image in zip(order, _shown_frames(container, stream, wanted[order], seek_gap, path)):
            out[slot] = to_rgb(image, (size, size))
    return out


def window_frames(path: str | os.PathLike, start_s: float, end_s: float, *, fps: float = VIDMUSE_FPS,
                  size: int = VIDMUSE_SIZE) -> np.ndarray:
    """Frames of [start_s, end_s) every 1 / fps seconds from start_s: uint8 [ceil((end-start) * fps), size, size, 3]."""
    count = max(1, math.ceil((end_s - start_s) * fps - _EPS))
    return frames_at(path, start_s + np.arange(count) / fps, size=size)


def spread_frames(path: str | os.PathLike, count: int, duration_s: float, *, size: int = VIDMUSE_SIZE) -> np.ndarray:
    """`count` frames evenly spread from the first to the last frame of a video `duration_s` long:
    uint8 [count, size, size, 3] (VidMuse's long-term stream: `linspace` over the frame indices)."""
    return frames_at(path, np.linspace(0.0, duration_s, count), size=size)


def _shown_frames(container, stream, times: np.ndarray, seek_gap: float, path) -> Iterator[av.VideoFrame]:
    """For sorted `times`, yield the decoded frame on screen at each one (see `frames_at`)."""
    start, shown, last, index, seeked_to = None, None, None, 0, -math.inf
    decoded = 0
    try:
        while index < len(times):
            restart = False
            for frame in container.decode(stream):
                if frame.pts is None or frame.time is None:
                    continue
                decoded += 1
                start = float(frame.time) if start is None else start
                t = float(frame.time) - start
                last = frame
                while index < len(times) and times[index] < t - _EPS:
                    yield shown if shown is not None else frame
                    index += 1
                if index == len(times):
                    return
                shown = frame
                if times[index] - t > seek_gap and times[index] > seeked_to:
                    seeked_to = float(times[index])
                    container.seek(int((start + seeked_to) / stream.time_base), stream=stream, backward=True)
                    shown, restart = None, True
                    break
            if not restart:
                break
    except av.error.FFmpegError as exc:
        raise InputError(f"{path}: decoding failed after {decoded} frames ({_reason(exc)}); "
                         "the file may be damaged") from None
    if last is None:
        raise InputError(f"{path}: the video track has no decodable frames; the file may be truncated or damaged")
    for _ in range(index, len(times)):
        yield last
