"""Batch scoring for `cuescore generate`: several videos, a folder or a list file into --out-dir."""

from __future__ import annotations

import argparse

from cuescore.cli.common import add_job_arguments
from cuescore.errors import CuescoreError, OptionError


def add_batch_arguments(p: argparse.ArgumentParser) -> None:
    """--out-dir and the job options (`add_job_arguments`) of `generate`."""
    p.add_argument("--out-dir", metavar="DIR",
                   help="score every VIDEO (files, folders, .txt lists) into DIR/<stem>_scored.*; a rerun "
                        "skips the videos already scored (DIR/manifest.json)")
    add_job_arguments(p)


def is_batch(args: argparse.Namespace) -> bool:
    """Whether `generate` scores a batch; `OptionError` for batch options without one."""
    if args.out_dir is not None or len(args.video) > 1:
        return True
    given = [name for name, on in (("--workers", args.workers != 1), ("--backend", args.backend != "local"),
                                   ("--address", args.address), ("--force", args.force)) if on]
    if given:
        raise OptionError(f"{given[0]} applies to batch scoring: give --out-dir DIR")
    return False


def generate_batch(args: argparse.Namespace) -> int:
    """Run `score_batch` for `generate` with --out-dir; print the summary table; exit 2 if none succeeded."""
    from cuescore.batch import score_batch
    from cuescore.controls import Controls
    from cuescore.engines.catalog import engine_options_from_namespace

    if args.out_dir is None:
        raise OptionError("several videos need --out-dir DIR (each is written to DIR/<stem>_scored.*)")
    single = [name for name, on in (("-o", args.output), ("--features", args.features),
                                    ("--candidates", args.candidates), ("--from-plan", args.from_plan)) if on]
    if single:
        raise OptionError(f"{single[0]} applies to one video; with --out-dir each video is written to "
                          "DIR/<stem>_scored.* and analysed on its own")
    report = score_batch(args.video, args.out_dir, Controls.from_namespace(args), engine=args.engine,
                         engine_options=engine_options_from_namespace(args), workers=args.workers,
                         backend=args.backend, address=args.address, force=args.force, progress=True)
    print(report.table())
    if not report.succeeded:
        raise CuescoreError(f"no video was scored into {args.out_dir} (reasons above)")
    return 0
