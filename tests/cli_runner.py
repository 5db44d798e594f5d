"""Run the command line in-process and capture what it prints."""

from __future__ import annotations

import contextlib
import io

from cuescore.cli import main


def cli(*args) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `cuescore ARGS` run in-process (usable in module fixtures)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()
