"""Work from a written result: reproduce it (`reproduce_result`) or rewrite one range of it
(`regenerate_range`), both from the OUT.json that `score_video` wrote (`result_file`).

Reproducing renders the recorded score again with the recorded controls and SoundFont, so the
WAV is the same bit for bit; an engine that wrote audio (no score is stored) composes again with
the recorded controls, seed and options. Regenerating recomposes the video with another seed (and
any changed controls) on the same beat grid, keeps the key unless told otherwise, and takes only
the bars of the asked range from the new version (`music.splice`): everything outside stays as
it was. Both write a complete new result (video, MIDI, WAV, JSON) through `score_video`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from cuescore.analysis import analyze
from cuescore.controls import CONTROLS, Controls
from cuescore.engines import Composition, get_engine
from cuescore.errors import OptionError
from cuescore.media import probe
from cuescore.music.arrange import arrange
from cuescore.music.splice import same_grid, splice_plan, splice_score, widen_to_bars
from cuescore.result_file import ResultFile, load_result, stored_composition
from cuescore.scoring import Progress, ScoreResult, default_output, score_video


def reproduce_result(
    video: str | os.PathLike,
    result_json: str | os.PathLike,
    out_path: str | os.PathLike | None = None,
    *,
    stems: bool = False,
    progress: bool | Progress | None = None,
) -> ScoreResult:
    """`score_video` of `video` with everything `result_json` recorded: its controls, engine,
    options, SoundFont and score, so the audio is the same bit for bit (out_path: default
    `default_output(video)`). InputError when the JSON is not a cuescore result or `video` is
    not the video it belongs to."""
    result = load_result(result_json)
    info = probe(video)
    result.check_video(video, info.duration)
    return score_video(video, out_path if out_path is not None else default_output(video, info.codec),
                       result.reproducing_controls(), engine=result.engine, engine_options=result.engine_options,
                       composition=stored_composition(result), progress=progress, stems=stems)


def regenerated_output(result: ResultFile) -> Path:
    """The default output of a regeneration: OUT_regen.<video suffix> beside OUT.json."""
    suffix = Path(result.data.get("outputs", {}).get("video", "x.mp4")).suffix or ".mp4"
    return result.path.with_name(f"{result.path.stem}_regen{suffix}")


def regenerate_range(
    result_json: str | os.PathLike,
    start: float,
    end: float,
    out: str | os.PathLike | None = None,
    seed: int | None = None,
    controls: Controls | None = None,
    *,
    video: str | os.PathLike | None = None,
    stems: bool = False,
    progress: bool | Progress | None = None,
) -> ScoreResult:
    """Rewrite seconds [start, end) of the result in `result_json`, widened to the bar lines
    around them (`ScoreResult.composition.record` and OUT.json's "regenerated" say where), with
    `seed` (default: the recorded seed + 1) and `controls` (default: the recorded ones; the key
    stays the recorded one unless `controls` sets a key or another mode). Every note outside the
    widened range is kept exactly. Writes `out` (default `regenerated_output`) and its .mid,
    .wav, .json; the original files are touched only when `out` names them.
    video: where the video is now (default: the recorded path).
    OptionError for start >= end, a range outside the video, a result without a plan, other
    instruments, or controls that change the beat grid; InputError for a JSON that is not a cuescore result or
    a video that is missing or another one. All before any work.
    """
    result = load_result(result_json)
    a, b = widened_range(result, start, end)
    info = probe(result.check_video(video))
    path = result.check_video(video, info.duration)
    new_controls = _regeneration_controls(result, seed, controls)
    composer = get_engine(result.engine, new_controls, **result.engine_options)
    features = analyze(path, progress=progress is True, info=info, **composer.analysis_needs().analyze_kwargs())
    fresh = composer.compose(features)
    if fresh.plan is None or not same_grid(result.plan, fresh.plan):
        raise OptionError("these controls change the beat grid, so a range cannot be joined on its bar lines; "
                          "keep --tempo, --tempo-min, --tempo-max and --weight-cuts as they were")
    plan = splice_plan(result.plan, fresh.plan, a, b)
    score = splice_score(result.score, arrange(plan, new_controls.seed), a, b)
    record = {"from": str(result.path), "start": a, "end": b, "asked": [float(start), float(end)],
              "seed": new_controls.seed}
    return score_video(path, out if out is not None else regenerated_output(result), new_controls,
                       features=features, engine=result.engine, engine_options=result.engine_options,
                       composition=Composition(plan, score, None, fresh.record), progress=progress, stems=stems,
                       extra_record={"regenerated": record})


def widened_range(result: ResultFile, start: float, end: float) -> tuple[float, float]:
    """[start, end) seconds widened to the bar lines around it, (a, b); OptionError for a bad
    range or a result without a plan."""
    if not all(isinstance(x, (int, float)) and math.isfinite(x) for x in (start, end)):
        raise OptionError(f"--from {start!r} and --to {end!r} must be numbers of seconds")
    if start >= end:
        raise OptionError(f"--from {start:g} must be below --to {end:g}")
    if start < 0 or end > result.duration + 1e-6:
        raise OptionError(f"the range {start:g}..{end:g} s lies outside the video; allowed: 0..{result.duration:g} s")
    if result.plan is None or result.score is None:
        raise OptionError(f"{result.path.name} was written by engine {result.engine} as audio, with no plan "
                          "or score to edit; generate again instead")
    return widen_to_bars(result.plan.downbeats, start, end, result.plan.duration)


def regeneration_seed(result: ResultFile, seed: int | None = None) -> int:
    """`seed`, or by default the recorded seed + 1 (so that the range changes)."""
    return seed if seed is not None else (result.controls.seed + 1) % (int(CONTROLS["seed"].high) + 1)


def _regeneration_controls(result: ResultFile, seed: int | None, controls: Controls | None) -> Controls:
    """The controls of the new version: `controls` (default: the recorded ones, with the
    SoundFont that rendered them), `seed` (default: the recorded seed + 1), and the recorded key
    unless a key or a contradicting mode is given."""
    base = result.reproducing_controls() if controls is None else controls
    if base.instruments != result.controls.instruments:
        raise OptionError(f"--instruments {base.instruments}: a range keeps the recorded parts and their instruments "
                          f"({result.controls.instruments}); generate again to change them")
    if controls is not None and controls.soundfont == result.controls.soundfont:
        base = base.replace(soundfont=result.reproducing_controls().soundfont)
    base = base.replace(seed=regeneration_seed(result, seed))
    if base.key is None and base.mode in ("auto", result.plan.key.mode):
        base = base.replace(key=result.plan.key.name)
    return base
