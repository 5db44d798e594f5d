"""What a video file holds: `probe(path) -> VideoInfo`.

`probe` opens the file with PyAV, checks that it has a decodable video stream and reads the
facts every later stage needs. Variable frame rate is normal input: times always come from
frame timestamps, never from `index / fps`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import av

from cuescore.errors import InputError


@dataclass(frozen=True)
class VideoInfo:
    """Facts about a video file. Sizes are display sizes (rotation applied), times in seconds.

    start_time is the timestamp of the first decodable frame: every time cuescore reports (cuts,
    beats, the new soundtrack) counts from there. duration runs from it to the end of the video
    stream (other streams, such as a longer audio track, do not count)."""

    path: str
    duration: float
    fps: float
    width: int
    height: int
    coded_width: int
    coded_height: int
    rotation: int
    codec: str
    container: str
    has_audio: bool
    n_frames: int | None
    start_time: float


def check_input_file(path: str | os.PathLike) -> Path:
    """Raise `InputError` for a missing, non-regular or empty file; return it as a Path."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file; check the path")
    if not p.is_file():
        raise InputError(f"{p}: not a regular file; give a video file")
    if p.stat().st_size == 0:
        raise InputError(f"{p}: the file is empty; give a video file")
    return p


def open_container(path: str | os.PathLike) -> av.container.InputContainer:
    """Open `path` for reading with PyAV, turning PyAV's errors into `InputError`."""
    p = check_input_file(path)
    try:
        return av.open(str(p), mode="r")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{p}: not a media file that can be read ({_reason(exc)}); give an mp4, mov, mkv or webm video") from None


def _reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.strip().rstrip(".").splitlines()[0] if text else type(exc).__name__


def video_stream(container: av.container.InputContainer, path: str | os.PathLike) -> av.video.stream.VideoStream:
    """The first video stream that is not a cover picture, or `InputError`."""
    for stream in container.streams.video:
        if stream.disposition & av.stream.Disposition.attached_pic:
            continue
        return stream
    kinds = sorted({s.type for s in container.streams})
    what = "audio only" if kinds == ["audio"] else ("no streams" if not kinds else "no video stream")
    raise InputError(f"{path}: has {what}; give a file with a video track")


def probe(path: str | os.PathLike) -> VideoInfo:
    """Read the facts of a video and check that its first frame decodes.

    Raises `InputError` for a missing, empty, unreadable, audio-only or frameless file.
    """
    with open_container(path) as container:
        stream = video_stream(container, path)
        if _is_still_image(container):
            raise InputError(f"{path}: is a still image ({stream.codec_context.name}), not a video; give a video file")
        first = _first_frame(container, stream, path)
        rotation = int(first.rotation or 0) % 360
        coded_w, coded_h = first.width, first.height
        sar = stream.sample_aspect_ratio
        display_w = int(round(coded_w * float(sar))) if sar and float(sar) > 0 else coded_w
        width, height = (coded_h, display_w) if rotation in (90, 270) else (display_w, coded_h)
        stream_start = _stream_start(stream, container)
        start = float(first.time) if first.time is not None else stream_start
        duration = max(0.0, _end_time(path, stream, stream_start) - start)
        fps = float(stream.average_rate or stream.guessed_rate or stream.base_rate or 0.0)
        n_frames = int(stream.frames) if stream.frames else None
        if n_frames and duration > 0 and not 0 < fps <= 2 * n_frames / duration:
            fps = n_frames / duration  # missing, or absurd as irregular VFR Matroska can report
        return VideoInfo(
            path=str(path),
            duration=duration,
            fps=fps,
            width=int(width),
            height=int(height),
            coded_width=int(coded_w),
            coded_height=int(coded_h),
            rotation=rotation,
            codec=stream.codec_context.name,
            container=container.format.name,
            has_audio=bool(container.streams.audio),
            n_frames=n_frames,
            start_time=start,
        )


def _is_still_image(container) -> bool:
    """FFmpeg opens PNG/JPEG/... files as one-frame "videos" through its image demuxers."""
    name = container.format.name
    return name.endswith("_pipe") or name in ("image2", "png")


def _first_frame(container, stream, path) -> av.VideoFrame:
    try:
        for frame in container.decode(stream):
            return frame
    except av.error.FFmpegError as exc:
        raise InputError(f"{path}: the video track cannot be decoded ({_reason(exc)}); the file may be damaged") from None
    raise InputError(f"{path}: the video track has no decodable frames; the file may be truncated or damaged")


def _stream_start(stream, container) -> float:
    if stream.start_time is not None and stream.time_base is not None:
        return float(stream.start_time * stream.time_base)
    if container.start_time is not None:
        return container.start_time / av.time_base
    return 0.0


def _end_time(path, stream, start: float) -> float:
    """End of the video stream in seconds: from its duration, Matroska's DURATION tag, or by
    demuxing its packets (a fresh read, so unseekable input works)."""
    if stream.duration and stream.time_base:
        return start + float(stream.duration * stream.time_base)
    tag = stream.metadata.get("DURATION") or stream.metadata.get("duration")
    if tag:
        try:
            h, m, sec = tag.split(":")
            return start + int(h) * 3600 + int(m) * 60 + float(sec)
        except ValueError:
            pass
    end = start
    with open_container(path) as container:
        try:
            for packet in container.demux(video_stream(container, path)):
                if packet.pts is not None and packet.time_base is not None:
                    end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
        except av.error.FFmpegError:
            pass
    return end
