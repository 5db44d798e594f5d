"""Put a new soundtrack on a video: the video stream is copied packet for packet, never re-encoded."""

from __future__ import annotations

import io
import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from cuescore.errors import OutputError
from cuescore.fileio import atomic_path, check_output_path
from cuescore.media.audio import Audio, audio_track_stream
from cuescore.media.decode import readable_packets
from cuescore.media.probe import VideoInfo, _reason, open_container, probe, video_stream
from cuescore.media.track import BLOCK, ArrayTrack, Mixed, Track, resampled, scaled, with_channels

# Audio codec per output container; Opus only runs at 48 kHz.
_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm"}
_AUDIO_CODEC = {".mp4": "aac", ".m4v": "aac", ".mov": "aac", ".mkv": "aac", ".webm": "libopus"}
_CODEC_RATE = {"libopus": 48000}
_FRAME_SAMPLES = 1024


def audio_codec_for(path: str | os.PathLike) -> str:
    """The audio codec used for an output file, chosen by its extension."""
    suffix = Path(path).suffix.lower()
    if suffix not in _AUDIO_CODEC:
        raise OutputError(f"{path}: unsupported output type '{suffix}'; use one of {', '.join(sorted(_AUDIO_CODEC))}")
    return _AUDIO_CODEC[suffix]


def mix_original(track: Track, video_path: str | os.PathLike, gain: float, start_time: float = 0.0) -> Track:
    """`track` (starting at the video's first frame, `start_time` s) with the video's own audio
    track mixed under it, time-aligned, at linear `gain`; scaled down if its peak passes 0.999
    (a first pass measures the peak; both passes decode the original a block at a time)."""
    original = audio_track_stream(video_path, track.n, track.sample_rate, track.channels, align_to=start_time)
    mixed = Mixed(track, original, gain)
    peak = max((float(np.max(np.abs(block))) for _, block in mixed.blocks() if block.size), default=0.0)
    return scaled(mixed, 0.999 / peak) if peak > 0.999 else mixed


def mux(
    video_path: str | os.PathLike,
    audio: Audio | Track,
    out_path: str | os.PathLike,
    *,
    original_gain: float = 0.0,
    bitrate: int = 192_000,
    info: VideoInfo | None = None,
) -> Path:
    """Write `out_path`: the video stream of `video_path` copied unchanged plus `audio` as the only
    audio track, trimmed or padded to exactly the video's duration.

    audio: held in memory or a `Track`, which is read a block at a time as the video's packets
        are copied; converting it to stereo at the codec's rate and mixing the original sound
        under it stream too, so memory does not grow with the duration.
    original_gain: if > 0 and the video has sound, its audio is mixed under the new track at
        this linear gain. Written to a temporary file and renamed, so a failure leaves nothing.
    """
    codec = audio_codec_for(out_path)
    check_output_path(out_path)
    info = info or probe(video_path)
    track = audio if isinstance(audio, Track) else ArrayTrack(audio.samples, audio.sample_rate)
    track = resampled(with_channels(track, 2), _CODEC_RATE.get(codec, track.sample_rate))
    if original_gain > 0 and info.has_audio:
        track = mix_original(track, video_path, original_gain, info.start_time)
    check_muxable(video_path, out_path, info)
    with atomic_path(out_path) as tmp:
        _write(video_path, track, int(round(info.duration * track.sample_rate)), tmp, codec, bitrate, info)
    return Path(out_path)


def check_muxable(video_path: str | os.PathLike, out_path: str | os.PathLike, info: VideoInfo | None = None) -> None:
    """`OutputError` now, before any long work, if `out_path`'s container cannot hold the video
    stream of `video_path` with cuescore's audio track (e.g. h264 in .webm, VP8 in .mov)."""
    codec = audio_codec_for(out_path)
    info = info or probe(video_path)
    with open_container(video_path) as src:
        in_v = video_stream(src, video_path)
        try:
            with av.open(io.BytesIO(), mode="w", format=_FORMATS[Path(out_path).suffix.lower()]) as dst:
                dst.add_stream_from_template(in_v)
                dst.add_stream(codec, rate=_CODEC_RATE.get(codec, 44100), layout="stereo")
                dst.start_encoding()
        except (av.error.FFmpegError, ValueError) as exc:
            raise OutputError(f"{out_path}: a '{Path(out_path).suffix}' file cannot hold {info.codec} video "
                              f"({_reason(exc)}); try an .mkv output") from None


def _write(video_path, track: Track, n: int, tmp: Path, codec: str, bitrate: int, info: VideoInfo) -> None:
    """Copy the video packets and encode samples 0..n-1 of `track` (zeros past its end) alongside,
    about a second ahead of the video."""
    frames = _Frames(track, n, 960 if codec == "libopus" else _FRAME_SAMPLES)
    with open_container(video_path) as src, av.open(str(tmp), mode="w") as dst:
        in_v = video_stream(src, video_path)
        out_v = dst.add_stream_from_template(in_v)
        out_a = dst.add_stream(codec, rate=track.sample_rate, layout="stereo")
        out_a.bit_rate = bitrate
        if codec == "aac":
            out_a.options = {"aac_coder": "fast"}  # twice as fast as the default coder at 192 kb/s, same error
        out_a.time_base = Fraction(1, track.sample_rate)
        first_pts = round(info.start_time * track.sample_rate)
        for packet in readable_packets(src, in_v):  # a file that breaks off is copied up to there
            if packet is None or packet.size == 0:  # the demuxer's end-of-stream marker; every real packet is copied
                continue
            t = float(packet.pts * packet.time_base) - info.start_time if packet.pts is not None else 0.0
            frames.encode_until(dst, out_a, int((t + 1.0) * track.sample_rate), first_pts)
            packet.stream = out_v
            dst.mux(packet)
        frames.encode_until(dst, out_a, n, first_pts)
        dst.mux(out_a.encode(None))


class _Frames:
    """Fixed-size audio frames of samples 0..n-1 of a track, read a block at a time."""

    def __init__(self, track: Track, n: int, frame_len: int) -> None:
        self.track, self.n, self.frame_len = track, n, frame_len
        self.cursor = 0
        self.block, self.block_start = np.zeros((2, 0), np.float32), 0

    def _take(self, k: int) -> np.ndarray:
        offset = self.cursor - self.block_start
        if offset + k > self.block.shape[1]:  # the rest of this block and the next: every read starts where one ended
            end = self.block_start + self.block.shape[1]
            fresh = self.track.read(end, min(self.n, end + max(k, BLOCK)))
            self.block, self.block_start, offset = np.concatenate([self.block[:, offset:], fresh], axis=1), self.cursor, 0
        return self.block[:, offset: offset + k]

    def encode_until(self, dst, stream, stop: int, first_pts: int) -> None:
        """Encode frames until the cursor reaches `stop` (at most n)."""
        stop = min(stop, self.n)
        while self.cursor < stop:
            chunk = self._take(min(self.frame_len, self.n - self.cursor))
            chunk = np.ascontiguousarray(np.clip(chunk, -1.0, 1.0), np.float32)
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
            frame.sample_rate = stream.rate
            frame.pts = first_pts + self.cursor
            frame.time_base = Fraction(1, stream.rate)
            dst.mux(stream.encode(frame))
            self.cursor += chunk.shape[1]
