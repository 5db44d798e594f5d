"""What one press of Generate does, with the library only (no gradio here).

The upload is checked against the server's limits, kept in the job's folder and scored once
(`score_video`) or as several candidates (seeds seed, seed+1, ...) that share one analysis
(`score_candidates`); each candidate gets its timeline figure. A range of a candidate can then be rewritten
(`regenerate_candidate`). Errors are the library's `CuescoreError`s, whose one-line
messages the page shows as they are.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from cuescore.controls import Controls
from cuescore.errors import InputError, OptionError
from cuescore.media import probe
from cuescore.media.probe import VideoInfo

MAX_CANDIDATES = 4


@dataclass(frozen=True)
class ServerSettings:
    """`cuescore serve`'s settings: address, limits (upload MB, video minutes, concurrent jobs,
    minutes an idle session's files are kept) and the operator's engine path options."""

    host: str = "127.0.0.1"
    port: int = 7860
    max_upload_mb: float = 500.0
    max_minutes: float = 20.0
    jobs: int = 1
    keep_minutes: float = 60.0
    engine_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        checks = {"port": (self.port, 0, 65535), "max_upload_mb": (self.max_upload_mb, 0.001, 1e6),
                  "max_minutes": (self.max_minutes, 0.001, 1e4), "jobs": (self.jobs, 1, 64),
                  "keep_minutes": (self.keep_minutes, 0.001, 1e5)}
        for name, (value, low, high) in checks.items():
            if not low <= value <= high:
                raise OptionError(f"--{name.replace('_', '-')} {value} is out of range; allowed: {low:g}..{high:g}")

    @property
    def loopback(self) -> bool:
        """True when the server binds a loopback address only (reachable from this machine alone)."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


@dataclass
class Candidate:
    """One generated soundtrack: its seed, output files (video, midi, wav, json) and timeline PNG."""

    seed: int
    outputs: dict[str, Path]
    timeline: Path
    summary: str


def check_upload(video: str | Path | None, settings: ServerSettings) -> VideoInfo:
    """The upload's `VideoInfo`; InputError when there is none, it is no video, or it is longer
    than the server takes."""
    if not video:
        raise InputError("no video: upload one or press 'Use the demo clip'")
    info = probe(video)
    if info.duration > settings.max_minutes * 60:
        raise InputError(f"the video lasts {info.duration / 60:.2f} min; this server takes videos up to "
                         f"{settings.max_minutes:g} min (cuescore serve --max-minutes); cut it shorter")
    return info


def keep_upload(video: str | Path, folder: Path) -> Path:
    """`video` linked (or copied) into the job `folder`, so the result's recorded video lives as
    long as the result, whatever gradio does with its own copy of the upload."""
    kept = folder / Path(video).name
    try:
        os.link(video, kept)
    except OSError:
        shutil.copy2(video, kept)
    return kept


def generate_candidates(
    video: str | Path,
    folder: Path,
    controls: Controls,
    engine: str,
    options: dict[str, Any],
    count: int,
    stems: bool,
    info: VideoInfo,
    progress: Callable[[float, str], None],
) -> list[Candidate]:
    """Score `video` `count` times (seeds controls.seed + i) into `folder`: one `score_video`, or
    `score_candidates` (one analysis for all); each with its timeline PNG and, with `stems`, each
    part's WAV. info: the video's `check_upload`. progress(share done 0-1, what is happening) is called at every stage."""
    from cuescore.candidates import score_candidates
    from cuescore.evaluation.timeline_plot import plot_timeline
    from cuescore.scoring import default_output, score_video

    if not 1 <= int(count) <= MAX_CANDIDATES:
        raise OptionError(f"candidates {count} is out of range; allowed: 1..{MAX_CANDIDATES}")
    count = int(count)
    out = folder / f"{Path(video).stem}_scored{default_output(video, info.codec).suffix}"
    report = _CandidateProgress(count, controls.seed, progress)
    if count == 1:
        results = [score_video(video, out, controls, engine=engine, engine_options=options, progress=report,
                               stems=stems)]
    else:
        results = score_candidates(video, out, controls, count, engine=engine, engine_options=options,
                                   progress=report, stems=stems)
    progress(1.0, "timelines")
    return [Candidate(controls.seed + i, r.outputs, plot_timeline(r.json, r.json.with_suffix(".png")),
                      r.summary().replace(str(folder) + "/", "")) for i, r in enumerate(results)]


class _CandidateProgress:
    """`score_video`'s progress(stage, share) of candidate after candidate as one share of the
    whole job; a candidate's "done" moves on to the next."""

    def __init__(self, count: int, seed: int, progress: Callable[[float, str], None]) -> None:
        self.count, self.seed, self.progress = count, seed, progress
        self.index = 0

    def __call__(self, stage: str, done: float) -> None:
        what = f"candidate {self.index + 1}/{self.count} (seed {self.seed + self.index}): {stage}"
        self.progress(min((self.index + done) / self.count, 0.99), what)
        if stage == "done":
            self.index += 1


def regenerate_candidate(
    result_json: Path,
    folder: Path,
    start: float | None,
    end: float | None,
    seed: str | int | None,
    progress: Callable[[float, str], None],
) -> tuple[Candidate, tuple[float, float]]:
    """Rewrite seconds [start, end) of the result `result_json` (`regenerate_range`, seed
    default (None or blank): its seed + 1) into `folder`, with its timeline PNG; the new candidate and the
    range actually rewritten (widened to bar lines), in seconds. Errors: the library's one-line
    `CuescoreError`s, before any work."""
    from cuescore.evaluation.timeline_plot import plot_timeline
    from cuescore.regenerate import regenerate_range, regenerated_output
    from cuescore.result_file import load_result

    out = folder / regenerated_output(load_result(result_json)).name
    result = regenerate_range(result_json, _seconds(start), _seconds(end), out, _seed(seed),
                              progress=lambda stage, done: progress(min(done, 0.99), f"regenerate: {stage}"))
    progress(1.0, "timeline")
    record = json.loads(result.json.read_text())["regenerated"]
    candidate = Candidate(record["seed"], result.outputs, plot_timeline(result.json, result.json.with_suffix(".png")),
                          result.summary().replace(str(folder) + "/", ""))
    return candidate, (record["start"], record["end"])


def _seconds(value: float | None) -> float:
    """A number box's value as seconds (an empty box is NaN: `regenerate_range` names it)."""
    return float("nan") if value is None else float(value)


def _seed(value: str | int | None) -> int | None:
    """The seed box's value: None when blank (the library's default), else a whole number."""
    text = str(value if value is not None else "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise OptionError(f"--seed {text!r} is not a whole number; leave it empty for the candidate's "
                          "seed + 1") from None
