"""Batch scoring: many videos → `DIR/<id>_scored.*`, resumable, on several workers or on Ray.

`score_batch` runs `score_video` once per video with the machinery of `cuescore.jobs` (the same
as `cuescore dataset build`): inputs are files, folders and list files, sorted by name; each
video's id is its file stem (made unique with `-2`, `-3`, ... in that order), its outputs are
`DIR/<id>_scored.mp4` (`.mkv` when MP4 cannot hold its video codec) with `.wav`, `.json` and,
when the engine writes a score, `.mid` beside it, all flat in DIR. `DIR/manifest.json` records
each video (kind "batch"); a rerun skips the complete ones (`force` redoes all), a video that
fails is recorded with its reason and the others go on. The engine, its options and the
controls must stay the same between runs into one folder (else `OptionError`, unless `force`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from cuescore.controls import Controls
from cuescore.errors import OptionError
from cuescore.jobs import (
    Manifest,
    collect_videos,
    file_record,
    folder_lock,
    run_jobs,
    run_log,
    stem_ids,
    write_worker_log,
)
from cuescore.media import probe
from cuescore.engines import DEFAULT_ENGINE
from cuescore.scoring import default_output, score_video

KIND = "batch"


@dataclass(frozen=True)
class ScoreJob:
    """One video to score (picklable): where it is, the output stem in DIR and the settings."""

    video: str
    out_stem: str
    controls: Controls
    engine: str | None
    engine_options: dict


def score_job(job: ScoreJob) -> dict[str, Any]:
    """The per-video task: `score_video` into `<out_stem><suffix>`; the files written, the video's
    duration (s) and the stage timings (s)."""
    suffix = default_output(job.video, probe(job.video).codec).suffix
    result = score_video(job.video, f"{job.out_stem}{suffix}", job.controls, engine=job.engine,
                         engine_options=job.engine_options, progress=False)
    return {"files": [str(p) for p in result.outputs.values() if p is not None], "video": result.video_out.name,
            "duration": float(result.features.duration), "timings": dict(result.timings)}


@dataclass
class BatchRow:
    """One line of the summary: id, source, "ok" / "failed" / "done before", video seconds, seconds
    taken (this run), and the output video or the failure's reason."""

    vid: str
    source: str
    status: str
    duration: float = 0.0
    seconds: float = 0.0
    detail: str = ""


@dataclass
class BatchReport:
    """What `score_batch` did, one row per input video (in input order)."""

    out_dir: Path
    rows: list[BatchRow] = field(default_factory=list)

    @property
    def succeeded(self) -> list[BatchRow]:
        return [r for r in self.rows if r.status != "failed"]

    def table(self) -> str:
        """The summary table for people, then a count line."""
        head = ("id", "status", "video s", "took s", "output / reason")
        body = [(r.vid, r.status, f"{r.duration:.1f}", f"{r.seconds:.1f}" if r.seconds else "-", r.detail)
                for r in self.rows]
        widths = [max(len(row[i]) for row in [head, *body]) for i in range(4)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row[:4], widths)) + "  " + row[4] for row in [head, *body]]
        failed = len(self.rows) - len(self.succeeded)
        lines.append(f"{self.out_dir}: {len(self.succeeded)} of {len(self.rows)} videos scored, {failed} failed")
        return "\n".join(lines)


def score_batch(
    videos: str | os.PathLike | Iterable[str | os.PathLike],
    out_dir: str | os.PathLike,
    controls: Controls = Controls(),
    *,
    engine: str | None = None,
    engine_options: dict[str, Any] | None = None,
    workers: int = 1,
    backend: str = "local",
    address: str | None = None,
    progress: bool = True,
    force: bool = False,
) -> BatchReport:
    """Score every video into `out_dir` (see the module docstring); workers / backend / address as
    in `cuescore.jobs.run_jobs`. KeyboardInterrupt is re-raised after the manifest is saved."""
    if not isinstance(controls, Controls):
        raise OptionError(f"controls must be a Controls, got {type(controls).__name__}; use Controls.from_options")
    paths = collect_videos(videos)
    engine = engine or DEFAULT_ENGINE
    options = {k: v for k, v in (engine_options or {}).items() if v is not None}
    settings = {"engine": engine, "engine_options": {k: str(v) for k, v in sorted(options.items())},
                "controls": {k: str(v) for k, v in sorted(controls.to_dict().items())}}
    with folder_lock(out_dir) as out, run_log(out, "batch") as log_run:
        manifest = Manifest.load(out, KIND)
        manifest.use_settings(settings, fixed=tuple(settings), force=force)
        plan = list(zip(stem_ids(paths), paths))
        todo = [(vid, ScoreJob(str(path), str(out / f"{vid}_scored"), controls, engine, options))
                for vid, path in plan if force or not manifest.complete(vid)]
        log_run.info("batch of %d videos into %s (%d to do; %s, %d worker(s))", len(plan), out, len(todo),
                     backend, workers)
        taken: dict[str, float] = {}
        try:
            for outcome in run_jobs(score_job, todo, workers=workers, backend=backend, address=address,
                                    progress=progress, desc="generate"):
                source, taken[outcome.key] = str(dict(plan)[outcome.key].absolute()), outcome.seconds
                if outcome.ok:
                    files = [Path(p) for p in outcome.value["files"]]
                    entry = {"source": source, "status": "ok", "duration": outcome.value["duration"],
                             "outputs": file_record(out, files), "video": outcome.value["video"]}
                else:
                    entry = {"source": source, "status": "failed", "reason": outcome.reason}
                manifest.record(outcome.key, entry)
                write_worker_log(out, outcome)
                log_run.info("%s %s: %s", outcome.key, entry["status"], entry.get("video") or entry.get("reason"))
        finally:
            manifest.save()
    return _report(out, manifest, plan, taken)


def _report(out: Path, manifest: Manifest, plan: list[tuple[str, Path]], taken: dict[str, float]) -> BatchReport:
    report = BatchReport(out)
    for vid, path in plan:
        e = manifest.items.get(vid, {})
        status = e.get("status", "failed")
        if status == "ok" and vid not in taken:
            status = "done before"
        detail = e.get("video", "") if e.get("status") == "ok" else e.get("reason", "not run")
        report.rows.append(BatchRow(vid, str(path), status, float(e.get("duration", 0.0)), taken.get(vid, 0.0), detail))
    return report


__all__ = ["BatchReport", "BatchRow", "ScoreJob", "score_batch", "score_job"]
