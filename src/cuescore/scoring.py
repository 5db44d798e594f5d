"""The main job as one library function: `score_video(video) -> ScoreResult`.

probe → analyse → engine.plan → arrange → synthesize → master → write OUT.mid, OUT.wav,
OUT.json → mux OUT.mp4. Every option, the engine name, the input and every output path are
checked before the long work starts, and the four outputs are written under temporary names and
renamed together at the very end, so a failure at any stage leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from cuescore.analysis import VideoFeatures, analyze
from cuescore.controls import Controls
from cuescore.engines import DEFAULT_ENGINE, get_engine
from cuescore.errors import OptionError, OutputError
from cuescore.fileio import atomic_path, check_output_path
from cuescore.media import VideoInfo, mux, probe, write_wav
from cuescore.media.mux import check_muxable
from cuescore.music.arrange import arrange
from cuescore.music.plan import MusicPlan
from cuescore.render import master, synthesize

STAGES = ("analysis", "composition", "synthesis", "mastering", "mux")
"""The stages timed in `ScoreResult.timings` (plus "writing" and "total")."""

_MP4_VIDEO_CODECS = frozenset({"h264", "hevc", "av1", "vp9", "mpeg4", "mjpeg"})

Progress = Callable[[str, float], None]
"""Called with the stage about to start and the share of stages done (0-1); ("done", 1.0) last."""


@dataclass
class ScoreResult:
    """What `score_video` made: output paths, the plan, the features and seconds per stage."""

    video: Path
    video_out: Path
    midi: Path
    wav: Path
    json: Path
    plan: MusicPlan
    features: VideoFeatures
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def outputs(self) -> dict[str, Path]:
        return {"video": self.video_out, "midi": self.midi, "wav": self.wav, "json": self.json}


def default_output(video: str | os.PathLike, codec: str | None = None) -> Path:
    """`<stem>_scored.mp4` in the working directory (`.mkv` for a video codec MP4 cannot hold)."""
    suffix = ".mp4" if codec is None or codec in _MP4_VIDEO_CODECS else ".mkv"
    return Path.cwd() / f"{Path(video).stem}_scored{suffix}"


def output_paths(video_out: str | os.PathLike) -> dict[str, Path]:
    """The four outputs that share `video_out`'s name: video, .mid, .wav and .json.
    OutputError when `video_out` names a folder (".", "..", an existing directory)."""
    out = Path(video_out)
    if out.name in ("", ".", "..") or out.is_dir():
        raise OutputError(f"output {out} is a folder; give a file name such as {out / 'scored.mp4'}")
    return {"video": out, "midi": out.with_suffix(".mid"), "wav": out.with_suffix(".wav"),
            "json": out.with_suffix(".json")}


def _check_outputs(video: Path, paths: dict[str, Path], info: VideoInfo) -> None:
    for path in paths.values():
        check_output_path(path)
        if path.resolve() == video.resolve():
            raise OutputError(f"output {path} would overwrite the input video; choose another name")
    check_muxable(video, paths["video"], info)


def _check_features(features: VideoFeatures, info: VideoInfo) -> None:
    """OptionError for features that are malformed or belong to a video of another length."""
    try:
        features.validate()
    except ValueError as exc:
        raise OptionError(f"the features are malformed ({exc}); run `cuescore analyze` again") from None
    if abs(features.duration - info.duration) > max(1.0 / max(info.fps, 1.0), 0.05):
        raise OptionError(f"the features describe a {features.duration:.2f} s video ({features.source or 'unknown'}), "
                          f"this one lasts {info.duration:.2f} s; analyse this video or pass its own features")


def _reporter(progress: bool | Progress | None) -> Progress:
    if callable(progress):
        return progress
    if progress:
        return lambda stage, done: print(f"cuescore: {stage} ({done:.0%} done)", file=sys.stderr, flush=True)
    return lambda stage, done: None


def score_video(
    video: str | os.PathLike,
    out_path: str | os.PathLike | None = None,
    controls: Controls = Controls(),
    *,
    features: VideoFeatures | None = None,
    engine: str | None = None,
    progress: bool | Progress | None = None,
) -> ScoreResult:
    """Write music for `video`: OUT (the video with the new soundtrack), OUT.mid, OUT.wav and
    OUT.json (the plan, per-second emotion, motion and arousal, the controls and stage timings).

    out_path: the output video (default `default_output(video)`); the other three share its name.
    features: skip the analysis and use these (e.g. loaded with `VideoFeatures.load`).
    engine: registry name (default "affective").
    progress: True prints each stage on stderr (with the analysis's progress bar); a callable
        gets (stage, share done).
    Raises InputError / OptionError / OutputError (before any work) for bad input or options.
    """
    if not isinstance(controls, Controls):
        raise OptionError(f"controls must be a Controls, got {type(controls).__name__}; use Controls.from_options")
    video = Path(video)
    info = probe(video)
    composer = get_engine(engine or DEFAULT_ENGINE, controls)
    encoder = composer.analysis_encoder() if features is None else None
    paths = output_paths(out_path if out_path is not None else default_output(video, info.codec))
    _check_outputs(video, paths, info)
    if features is not None:
        _check_features(features, info)
    report = _reporter(progress)
    timings: dict[str, float] = {}
    started = time.perf_counter()

    @contextlib.contextmanager
    def stage(name: str) -> Iterator[None]:
        if name in STAGES:
            report(name, STAGES.index(name) / len(STAGES))
        t0 = time.perf_counter()
        yield
        timings[name] = round(time.perf_counter() - t0, 4)

    with stage("analysis"):
        if features is None:
            features = analyze(video, progress=progress is True, info=info,
                               **({"encoder": encoder} if encoder else {}))
    with stage("composition"):
        plan = composer.plan(features)
        score = arrange(plan, controls.seed)
    with stage("synthesis"):
        audio = synthesize(score, soundfont=controls.soundfont)
    with stage("mastering"):
        audio = master(audio, controls.loudness)
    with contextlib.ExitStack() as outputs:
        tmp = {name: outputs.enter_context(atomic_path(path)) for name, path in paths.items()}
        with stage("mux"):
            mux(video, audio, tmp["video"], original_gain=controls.original_gain, info=info)
        with stage("writing"):
            score.write_midi(tmp["midi"])
            write_wav(audio, tmp["wav"])
        timings["total"] = round(time.perf_counter() - started, 4)
        extra = {k: v for k, v in plan.extra.items() if k != "emotion"}
        plan.save_json(tmp["json"], extra={
            "extra": extra,
            "emotion": plan.extra.get("emotion", features.emotion.round(4).tolist()),
            "motion": features.motion.round(4).tolist(),
            "arousal": features.arousal.round(4).tolist(),
            "video": str(video),
            "outputs": {name: str(path) for name, path in paths.items()},
            "controls": controls.to_dict(),
            "timings": timings,
        })
    report("done", 1.0)
    return ScoreResult(video, paths["video"], paths["midi"], paths["wav"], paths["json"], plan, features, timings)
