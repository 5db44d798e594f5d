"""What every `cuescore` command module shares: the argument parser class and the job options."""

from __future__ import annotations

import argparse
import sys


class Parser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors are one line and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        raise SystemExit(2)


def add_job_arguments(p: argparse.ArgumentParser) -> None:
    """--workers, --backend, --address and --force: how a job over many videos runs (`cuescore.jobs`)."""
    g = p.add_argument_group("running over many videos")
    g.add_argument("--workers", type=int, default=1, metavar="N",
                   help="videos processed at once: processes on this machine, or Ray CPUs (default: 1)")
    g.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="local: this machine; ray: Ray tasks (pip install 'cuescore[scale]') (default: local)")
    g.add_argument("--address", metavar="ADDR", help="Ray cluster to join (e.g. ray://head:10001; default: start a "
                                                   "local Ray with --workers CPUs)")
    g.add_argument("--force", action="store_true", help="redo videos that an earlier run completed")
