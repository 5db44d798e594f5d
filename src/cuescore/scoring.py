"""The main job as one library function: `score_video(video) -> ScoreResult`.

probe → analyse (what the engine needs) → engine.compose → synthesize the score (unless the
engine wrote audio) → master → mux OUT.mp4, write OUT.wav, OUT.json and (with a score) OUT.mid.
The soundtrack streams from synthesis to the files through temporary spool files
(`media.track`), so memory does not grow with the video's length.
Every option, the engine name, the input and every output path are checked before the long
work starts, and the outputs are written under temporary names and renamed together at the very
end, so a failure at any stage leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from cuescore.analysis import VideoFeatures, analyze
from cuescore.controls import Controls
from cuescore.engines import DEFAULT_ENGINE, Composition, engine_class, get_engine
from cuescore.errors import OptionError, OutputError
from cuescore.fileio import atomic_path, check_output_path, write_json
from cuescore.media import VideoInfo, mux, probe, write_wav
from cuescore.media.mux import check_muxable
from cuescore.media.decode import TRUNCATED_SECONDS, last_frame_time
from cuescore.media.track import ArrayTrack, Track
from cuescore.music.plan import MusicPlan
from cuescore.music.score import Score
from cuescore.render import SoundFontChoice, find_soundfont, synthesize_track
from cuescore.render.blend import Blend
from cuescore.render.master import Mastering, master_with_curve
from cuescore.result_file import reproduction_record

ROOM_REVERB = 0.25
"""Reverb (wet level) mastering gives a dry SoundFont render; an engine's own audio gets none."""
STAGES = ("analysis", "composition", "synthesis", "mastering", "mux")
"""The stages timed in `ScoreResult.timings` (plus "writing" and "total")."""

_MP4_VIDEO_CODECS = frozenset({"h264", "hevc", "av1", "vp9", "mpeg4", "mjpeg"})

Progress = Callable[[str, float], None]
"""Called with the stage about to start and the share of stages done (0-1); ("done", 1.0) last."""


@dataclass
class ScoreResult:
    """What `score_video` made: output paths (`midi` None when the engine wrote no score), the
    engine's composition, the features and seconds per stage."""

    video: Path
    engine: str
    video_out: Path
    midi: Path | None
    wav: Path
    json: Path
    composition: Composition
    features: VideoFeatures
    timings: dict[str, float] = field(default_factory=dict)
    stems: dict[str, Path] = field(default_factory=dict)
    """Part name → its mastered stem WAV (with `stems=True`)."""

    @property
    def plan(self) -> MusicPlan | None:
        return self.composition.plan

    @property
    def outputs(self) -> dict[str, Path]:
        """The files written, by kind ("video", "midi", "wav", "json", "stem:<part>")."""
        paths = {"video": self.video_out, "midi": self.midi, "wav": self.wav, "json": self.json,
                 **{f"stem:{part}": path for part, path in self.stems.items()}}
        return {name: path for name, path in paths.items() if path is not None}

    def summary(self) -> str:
        """One line for the user: what was written and, with a plan, its key and tempo."""
        plan = self.plan
        music = (f"{plan.key.name}, {plan.mean_bpm:.0f} BPM, {len(plan.chords)} chords, {len(plan.cuts)} cuts"
                 if plan is not None else f"{self.composition.audio.duration:.1f} s of {self.engine} audio")
        others = ", ".join(p.name for k, p in self.outputs.items() if k != "video")
        return f"{self.video_out}: {music}; also {others} ({self.timings.get('total', 0):.1f} s)"


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
    if abs(features.duration - info.duration) > _tolerance(info):
        raise OptionError(f"the features describe a {features.duration:.2f} s video ({features.source or 'unknown'}), "
                          f"this one lasts {info.duration:.2f} s; analyse this video or pass its own features")


def _tolerance(info: VideoInfo) -> float:
    """Seconds by which features' duration may differ from the video's: a frame, at least 50 ms."""
    return max(1.0 / max(info.fps, 1.0), 0.05)


def _truncated_info(video: Path, info: VideoInfo, features: VideoFeatures) -> VideoInfo:
    """`info` cut to `features`' length when they are shorter than the video's header says and
    the file breaks off within `TRUNCATED_SECONDS` after their end (`analyze` cuts a truncated
    file's features to what it decoded; a threaded decode can miss a few frames before the cut).
    Only the stretch around the features' end is decoded, and only for such features."""
    if features.duration >= info.duration - _tolerance(info):
        return info
    reach = features.duration + TRUNCATED_SECONDS
    end = last_frame_time(video, info.start_time, reach) + 1.0 / max(info.fps, 1.0)
    fits = features.duration - _tolerance(info) <= end <= reach + 1.0 / max(info.fps, 1.0)
    return dataclasses.replace(info, duration=features.duration) if fits else info


def _scored_info(info: VideoInfo, features: VideoFeatures) -> VideoInfo:
    """`info` cut to the analysed length when the video stream broke off before the end its
    header promises (a truncated file is scored, and muxed, up to its last frame)."""
    return dataclasses.replace(info, duration=features.duration) if features.duration < info.duration else info


def _reporter(progress: bool | Progress | None) -> Progress:
    if callable(progress):
        return progress
    if progress:
        return lambda stage, done: print(f"cuescore: {stage} ({done:.0%} done)", file=sys.stderr, flush=True)
    return lambda stage, done: None


class _StageClock:
    """Times stages into `timings` and reports each start to `report`."""

    def __init__(self, report: Progress) -> None:
        self.report = report
        self.timings: dict[str, float] = {}
        self.started = time.perf_counter()

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        if name in STAGES:
            self.report(name, STAGES.index(name) / len(STAGES))
        t0 = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - t0, 4)

    def total(self) -> None:
        self.timings["total"] = round(time.perf_counter() - self.started, 4)


def _feature_curves(features: VideoFeatures) -> dict[str, list]:
    """The per-second video features OUT.json carries: emotion [T, 6] probabilities, motion,
    valence and arousal [T] (-1..1)."""
    return {name: getattr(features, name).round(4).tolist() for name in ("emotion", "motion", "valence", "arousal")}


def _result_json(name: str, composition: Composition, features: VideoFeatures, controls: Controls,
                 bank: SoundFontChoice | None) -> dict:
    """OUT.json: the plan's fields (or, without a plan, the duration and the cuts), the per-second
    video features, the engine's name and record, the controls and the SoundFont that rendered the
    score (path and source; None when the engine wrote audio)."""
    plan = composition.plan
    data = plan.to_dict() if plan is not None else {
        "duration": float(features.duration), "cuts": list(features.hard_cuts), "engine": name, "seed": controls.seed}
    data.update(_feature_curves(features))
    data.update({
        "engine_record": composition.record.to_dict(),
        "controls": controls.to_dict(),
        "soundfont": None if bank is None else bank.to_dict(),
    })
    return data


def _soundtrack(composition: Composition, bank: SoundFontChoice) -> tuple[Track, float]:
    """The unmastered soundtrack and its reverb: the engine's audio as it is (no reverb), the
    score's SoundFont render (dry, so the room reverb), or both blended at `composition.mix`
    (the reverb in the render's share)."""
    own = composition.audio
    if own is not None and composition.mix == 1.0:
        return ArrayTrack(own.samples, own.sample_rate), 0.0
    render = synthesize_track(composition.score, soundfont=bank.path)
    if own is None:
        return render, ROOM_REVERB
    return Blend(render, own, composition.mix), ROOM_REVERB * (1.0 - composition.mix)


def stem_paths(video_out: str | os.PathLike, parts: list[str]) -> dict[str, Path]:
    """Kind "stem:<part>" → `OUT.<part>.wav` beside the output video, one per part."""
    out = Path(video_out)
    return {f"stem:{part}": out.with_name(f"{out.stem}.{part}.wav") for part in parts}


def _check_stems(name: str, writes_score: bool) -> None:
    """OptionError when stems are asked of an engine (or a composition) without a score to split."""
    if not writes_score:
        raise OptionError(f"engine {name} writes the audio itself, with no score of parts to split into stems; "
                          "leave out --stems or use a score engine (affective, amt)")


def _add_stem_paths(name: str, composition: Composition, paths: dict[str, Path], video: Path, info: VideoInfo) -> None:
    """Add the stems of `composition`'s parts to `paths`, checked like the other outputs."""
    _check_stems(name, composition.audio is None)
    paths.update(stem_paths(paths["video"], [track.name for track in composition.score.tracks]))
    _check_outputs(video, paths, info)


def _write_stems(score: Score, bank: SoundFontChoice, mastering: Mastering, tmp: dict[str, Path]) -> None:
    """Each part of `score` rendered alone (with the whole score's synthesizer calls) and given
    the mix's mastering gains, so the stems sum to the mixed WAV; written to `tmp["stem:<part>"]`."""
    for track in score.tracks:
        write_wav(mastering.apply(synthesize_track(score, soundfont=bank.path, part=track.name)),
                  tmp[f"stem:{track.name}"])


def score_video(
    video: str | os.PathLike,
    out_path: str | os.PathLike | None = None,
    controls: Controls = Controls(),
    *,
    features: VideoFeatures | None = None,
    engine: str | None = None,
    engine_options: dict[str, Any] | None = None,
    progress: bool | Progress | None = None,
    stems: bool = False,
    composition: Composition | None = None,
    extra_record: dict[str, Any] | None = None,
) -> ScoreResult:
    """Write music for `video`: OUT (the video with the new soundtrack), OUT.wav, OUT.json (the
    plan, per-second emotion, motion, valence and arousal, the engine's record, the controls, the SoundFont
    used and stage timings) and, when the engine writes a score, OUT.mid.

    out_path: the output video (default `default_output(video)`); the others share its name.
    features: skip the analysis and use these (e.g. loaded with `VideoFeatures.load`).
    engine: registry name (default "affective"); engine_options: its declared options.
    progress: True prints each stage on stderr (with the analysis's progress bar); a callable
        gets (stage, share done).
    stems: also write each part's stem, `OUT.<part>.wav` (`stem_paths`), rendered alone and
        mastered with the mix's gain curves so that the stems sum to OUT.wav; OptionError for an
        engine that writes audio instead of a score.
    composition: use this composition (e.g. a recorded or edited score, `result_file`) instead
        of composing; the engine is still built, to validate its options and record them.
    extra_record: more top-level fields for OUT.json.
    Raises InputError / OptionError / OutputError (before any work) for bad input or options.
    """
    if not isinstance(controls, Controls):
        raise OptionError(f"controls must be a Controls, got {type(controls).__name__}; use Controls.from_options")
    video = Path(video)
    info = probe(video)
    controls.check_duration(info.duration)  # directed times inside the video, before any analysis
    name = engine or DEFAULT_ENGINE
    if stems:  # before the engine is built: a learned engine loads its models then
        _check_stems(name, engine_class(name).WRITES_SCORE if composition is None else composition.audio is None)
    composer = get_engine(name, controls, **(engine_options or {}))
    needs = composer.analysis_needs() if features is None else None
    paths = output_paths(out_path if out_path is not None else default_output(video, info.codec))
    _check_outputs(video, paths, info)
    if features is not None:
        _check_features(features, _truncated_info(video, info, features))
        info = _scored_info(info, features)
        features = dataclasses.replace(features, source=str(video))  # engines that read frames find them here
    bank = find_soundfont(controls.soundfont)
    stage = _StageClock(_reporter(progress))
    with stage("analysis"):
        if features is None:
            features = analyze(video, progress=progress is True, info=info, **needs.analyze_kwargs())
            info = _scored_info(info, features)
    with stage("composition"):
        composition = composer.compose(features) if composition is None else composition
    with stage("synthesis"):  # a score's render, unless the engine's own audio is the whole soundtrack
        dry, reverb = _soundtrack(composition, bank)
    rendered = composition.audio is None or composition.mix < 1.0
    with stage("mastering"):
        audio, mastering = master_with_curve(dry, controls.loudness, reverb=reverb)
    if composition.score is None:
        paths.pop("midi")
    if stems:
        _add_stem_paths(name, composition, paths, video, info)
    with contextlib.ExitStack() as outputs:
        tmp = {kind: outputs.enter_context(atomic_path(path)) for kind, path in paths.items()}
        with stage("mux"):
            mux(video, audio, tmp["video"], original_gain=controls.original_gain, info=info)
        with stage("writing"):
            if composition.score is not None:
                composition.score.write_midi(tmp["midi"])
            write_wav(audio, tmp["wav"])
        if stems:
            with stage("stems"):
                _write_stems(composition.score, bank, mastering, tmp)
        stage.total()
        data = _result_json(name, composition, features, controls, bank if rendered else None)
        data.update(video=str(video), outputs={kind: str(path) for kind, path in paths.items()},
                    timings=stage.timings, **reproduction_record(name, composer.options, video, info.duration,
                                                                 composition.score), **(extra_record or {}))
        write_json(tmp["json"], data)
    stage.report("done", 1.0)
    return ScoreResult(video, name, paths["video"], paths.get("midi"), paths["wav"], paths["json"], composition, features,
                       stage.timings, {kind[5:]: path for kind, path in paths.items() if kind.startswith("stem:")})
