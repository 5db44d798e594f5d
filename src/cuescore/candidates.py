"""Several soundtracks for one video to choose from: `score_candidates(video, out, n=4)`.

The video is analysed once; each candidate is `score_video` of those features with the next seed
(seed, seed + 1, ...), written as OUT_1.*, OUT_2.*, ... (video, MIDI, WAV, JSON), each JSON
recording its own seed. Every output path is checked before any work.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cuescore.analysis import analyze
from cuescore.controls import CONTROLS, Controls
from cuescore.engines import DEFAULT_ENGINE, get_engine
from cuescore.errors import OptionError
from cuescore.media import probe
from cuescore.scoring import Progress, ScoreResult, _check_outputs, default_output, output_paths, score_video

MAX_CANDIDATES = 16


def candidate_output(video_out: str | os.PathLike, index: int) -> Path:
    """The output video of candidate `index` (1-based): c.mp4 → c_1.mp4."""
    out = Path(video_out)
    return out.with_name(f"{out.stem}_{index}{out.suffix}")


def score_candidates(
    video: str | os.PathLike,
    out_path: str | os.PathLike | None = None,
    controls: Controls = Controls(),
    n: int = 4,
    *,
    engine: str | None = None,
    engine_options: dict[str, Any] | None = None,
    stems: bool = False,
    progress: bool | Progress | None = None,
) -> list[ScoreResult]:
    """`n` candidates (2-16) for `video`, from one analysis, with seeds controls.seed + 0..n-1.

    out_path: the name they share (default `default_output(video)`): candidate i is written as
    `candidate_output(out_path, i)` and its .mid/.wav/.json (and stems) beside it.
    OptionError for a bad `n`, a seed range past the largest seed, or bad options; the errors of
    `score_video` otherwise (all raised before any work).
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= MAX_CANDIDATES:
        raise OptionError(f"--candidates {n!r} is not allowed; allowed: 2..{MAX_CANDIDATES}")
    if controls.seed + n - 1 > CONTROLS["seed"].high:
        raise OptionError(f"seeds {controls.seed}..{controls.seed + n - 1} pass the largest seed "
                          f"{int(CONTROLS['seed'].high)}; give a smaller --seed")
    video = Path(video)
    info = probe(video)
    controls.check_duration(info.duration)  # directed times inside the video, before the analysis
    name = engine or DEFAULT_ENGINE
    needs = get_engine(name, controls, **(engine_options or {})).analysis_needs()
    base = Path(out_path) if out_path is not None else default_output(video, info.codec)
    outs = [candidate_output(base, i + 1) for i in range(n)]
    for out in outs:
        _check_outputs(video, output_paths(out), info)
    features = analyze(video, progress=progress is True, info=info, **needs.analyze_kwargs())
    return [score_video(video, out, controls.replace(seed=controls.seed + i), features=features, engine=name,
                        engine_options=engine_options, progress=progress, stems=stems)
            for i, out in enumerate(outs)]


def candidate_summary(result: ScoreResult, index: int, seed: int) -> str:
    """One line to choose by: the candidate, its seed, key, tempo and energy range, its video."""
    plan = result.plan
    if plan is None:
        music = f"{result.composition.audio.duration:.1f} s of {result.engine} audio"
    else:
        energy = f"energy {min(plan.energy):.2f}-{max(plan.energy):.2f}" if plan.energy else "no energy levels"
        music = f"{plan.key.name}, {plan.mean_bpm:.0f} BPM, {energy}"
    return f"candidate {index} (seed {seed}): {music} -> {result.video_out}"
