"""What one press of Generate does, with the library only (no gradio here).

The upload is checked against the server's limits, analysed once, and scored as several
candidates (seeds seed, seed+1, ...) that share that analysis (`score_video(features=...)`);
each candidate gets its timeline figure. Errors are the library's `CuescoreError`s, whose one-line
messages the page shows as they are.
"""

from __future__ import annotations

import ipaddress
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


def generate_candidates(
    video: str | Path,
    folder: Path,
    controls: Controls,
    engine: str,
    options: dict[str, Any],
    count: int,
    info: VideoInfo,
    progress: Callable[[float, str], None],
) -> list[Candidate]:
    """Score `video` `count` times (seeds controls.seed + i) into `folder`, analysing it once.
    progress(share done 0-1, what is happening) is called at every stage."""
    from cuescore.analysis import analyze
    from cuescore.engines import get_engine
    from cuescore.evaluation.timeline_plot import plot_timeline
    from cuescore.scoring import default_output, score_video

    if not 1 <= int(count) <= MAX_CANDIDATES:
        raise OptionError(f"candidates {count} is out of range; allowed: 1..{MAX_CANDIDATES}")
    count = int(count)
    seeds = [(controls.seed + i) % 2**32 for i in range(count)]
    share = 1.0 / (count + 1)
    progress(0.0, "analysis")
    needs = get_engine(engine, controls, **options).analysis_needs()
    features = analyze(video, info=info, **needs.analyze_kwargs())
    suffix = default_output(video, info.codec).suffix
    candidates = []
    for i, seed in enumerate(seeds):
        def report(stage: str, done: float, i: int = i, seed: int = seed) -> None:
            progress(share * (1 + i + done), f"candidate {i + 1}/{count} (seed {seed}): {stage}")

        out = folder / f"{Path(video).stem}_seed{seed}{suffix}"
        result = score_video(video, out, controls.replace(seed=seed), features=features, engine=engine,
                             engine_options=options, progress=report)
        timeline = plot_timeline(result.json, out.with_name(out.stem + "_timeline.png"))
        candidates.append(Candidate(seed, result.outputs, timeline, result.summary().replace(str(folder) + "/", "")))
    progress(1.0, "done")
    return candidates
