"""`analyze(path) -> VideoFeatures`: one streaming decode pass feeds every feature extractor.

Each decoded frame is converted once to the analysis size (long side `ANALYSIS_SIDE`) and
given to the cut detector, the motion and the colour analyzers. The frame at each whole
second is also converted at the semantic encoder's size and encoded in batches, so memory
stays bounded however long the video is.

The work is spread over threads: decoding (FFmpeg's own frame threads) and conversion run ahead
in a prefetch thread, a bounded queue away; the optical flow (the costliest feature) runs in the
motion analyzer's workers (one per core beyond two, at least one), everything else in the
caller's thread. On a 60 s 720p h264 clip the decode and conversion take about 1.25, the flow 0.8
and the rest 0.35 times the CPU time of a plain decode of the clip (measured one by one,
benchmarks/RESULTS.md), so `analyze` is about 2.4 plain decodes of work spread over the cores; on a
busy machine its time tends to that CPU ratio.
Nothing here imports SciPy (`analysis.series`): its import alone costs a third of a plain decode
of a minute of 720p video.
"""

from __future__ import annotations

import dataclasses
import os
from contextlib import contextmanager
from typing import Callable, Iterator

import cv2
import numpy as np
from tqdm import tqdm

from cuescore.analysis.base import ANALYSIS_SIDE
from cuescore.analysis.colour import ColourAnalyzer
from cuescore.analysis.cuts import CutDetector, scene_offset
from cuescore.analysis.emotion import cut_rate, emotion_probabilities, valence_arousal
from cuescore.analysis.motion import MotionAnalyzer
from cuescore.analysis.regions import RegionAnalyzer
from cuescore.analysis.encoders import SemanticEncoder, get_encoder
from cuescore.analysis.features import VideoFeatures, fill_forward, timeline_length
from cuescore.errors import OptionError
from cuescore.media.decode import DamageLog, Sampling, iter_sampled, prefetch
from cuescore.media.probe import VideoInfo, probe


class SecondFrames:
    """Collects the frame at each whole second and encodes them in batches of the encoder's size."""

    def __init__(self, encoder: SemanticEncoder, T: int) -> None:
        self.encoder = encoder
        self.pending: list[tuple[int, np.ndarray]] = []
        self.semantic = np.full((T, encoder.dim), np.nan, np.float32)
        self.emotion: np.ndarray | None = None

    def add(self, second: int, image: np.ndarray) -> None:
        if second >= len(self.semantic):
            return
        self.pending.append((second, image))
        if len(self.pending) >= self.encoder.batch_size:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        rows = [s for s, _ in self.pending]
        images = [img for _, img in self.pending]
        self.semantic[rows], emo = self.encoder.encode_with_emotion(images)
        if emo is not None:
            if self.emotion is None:
                self.emotion = np.full((len(self.semantic), emo.shape[1]), np.nan, np.float32)
            self.emotion[rows] = emo
        self.pending.clear()

    def results(self, T: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """(semantic [T, D], encoder emotion [T, 6] or None) for the first T seconds (all when
        None), seconds without a frame filled forward."""
        self.flush()
        filled = [None if rows is None else fill_forward(rows[:T], np.isnan(rows[:T]).any(axis=1), lead="first")
                  for rows in (self.semantic, self.emotion)]
        return filled[0], filled[1]


def analyze(
    path: str | os.PathLike,
    *,
    encoder: str | SemanticEncoder = "handcrafted",
    fps: float | None = None,
    device: str = "auto",
    progress: bool | Callable[[float], None] = False,
    info: VideoInfo | None = None,
) -> VideoFeatures:
    """Analyse the video at `path` into its per-second timeline, cuts and visual beats.

    encoder: a spec such as "handcrafted" or "clip:<folder or hub id>", or an encoder object.
    fps: analyse only this many frames per second (cuts are then exact to 1/fps s); None = all.
    device: for learned encoders: "auto", "cpu" or "cuda".
    progress: True for a progress bar on stderr, or a callback taking seconds decoded.
    """
    if fps is not None and not (0 < fps <= 240):
        raise OptionError(f"--fps must be between 0 and 240, got {fps}")
    info = info or probe(path)
    enc = encoder if isinstance(encoder, SemanticEncoder) else get_encoder(encoder, device=device)
    T = timeline_length(info.duration)
    native_fps = info.fps or 30.0
    video_fps = min(fps, native_fps) if fps else native_fps
    cuts = CutDetector(video_fps)
    motion = MotionAnalyzer(background=True, native_fps=native_fps if fps else None)
    colour = ColourAnalyzer()
    regions = RegionAnalyzer()
    seconds = SecondFrames(enc, T)
    bar = tqdm(total=T, unit="s", desc="analyse", disable=None if progress is True else True, leave=False)
    damage = DamageLog(path)
    try:
        with _opencv_threads(1):
            streams = [Sampling(fps, max_side=ANALYSIS_SIDE), Sampling(1.0, short_side=enc.frame_short_side)]
            for t, (image, second_image) in prefetch(iter_sampled(path, streams, damage=damage)):
                if second_image is not None:
                    seconds.add(int(t + 1e-6), second_image)
                if image is None:
                    continue
                cuts.update(t, image)
                motion.update(t, image)
                colour.update(t, image)
                regions.update(t, image)
                if callable(progress):
                    progress(t)
                if int(t) > bar.n:
                    bar.update(int(t) - bar.n)
            info = decoded_info(info, damage)
            for analyzer in (cuts, motion, colour, regions):
                analyzer.finish(info.duration)
    finally:
        motion.close()
        bar.close()
    features = _assemble(info, cuts, motion, colour, seconds, enc)
    features.regions = regions.shot_regions(features.cuts, info.duration)
    return features


def decoded_info(info: VideoInfo, damage: DamageLog) -> VideoInfo:
    """`info` with the duration cut to where the video stream broke off, if it did (a truncated
    file is scored up to its last frame, not to the length its header promises)."""
    if damage.ended_at is None:
        return info
    end = damage.ended_at + 1.0 / (info.fps or 30.0)
    return dataclasses.replace(info, duration=min(info.duration, end)) if end < info.duration else info


@contextmanager
def _opencv_threads(n: int) -> Iterator[None]:
    """OpenCV's own thread pool set to `n` threads for the block, then restored.

    `analyze` already keeps both cores busy with its three threads; OpenCV splitting each resize
    across its pool as well only adds hand-offs and spin-waiting (5 % more CPU, the same results).
    """
    before = cv2.getNumThreads()
    cv2.setNumThreads(n)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


def _assemble(info: VideoInfo, cuts, motion, colour, seconds: SecondFrames, enc: SemanticEncoder) -> VideoFeatures:
    T = timeline_length(info.duration)
    transitions = cuts.transitions
    cut_times = sorted(tr.time for tr in transitions)
    motion_s, flow_s = motion.per_second(info.duration)
    col = colour.per_second(info.duration)
    valence, arousal = valence_arousal(col["brightness"], col["saturation"], motion_s, flow_s, cut_rate(cut_times, T))
    semantic, encoder_emotion = seconds.results(T)
    emotion = encoder_emotion if encoder_emotion is not None else emotion_probabilities(valence, arousal)
    beat_times, beat_strengths = motion.visual_beats(cut_times)
    return VideoFeatures(
        duration=info.duration,
        fps=info.fps,
        width=info.width,
        height=info.height,
        transitions=transitions,
        scene_offset=scene_offset(cut_times, T),
        motion=motion_s,
        flow=flow_s,
        valence=valence,
        arousal=arousal,
        emotion=emotion,
        semantic=semantic,
        beat_times=beat_times,
        beat_strengths=beat_strengths,
        encoder=enc.describe(),
        source=str(info.path),
        **col,
    )
