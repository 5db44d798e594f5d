"""The `cuescore` command: a thin layer over the library.

Each command group lives in its own module with an `add_parsers(sub)`; this module builds the parser
from them and maps errors: problems with input or options print one line on stderr and exit 2;
internal failures exit 1 (with the traceback under --verbose). Ctrl-C (exit 130) and SIGTERM (exit
143) unwind the command, so that the temporary files of outputs being written are removed.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import traceback
import warnings

from cuescore import __version__
from cuescore.cli import convert, data, evaluate, plot, regenerate, score, serve, train
from cuescore.cli.common import Parser
from cuescore.errors import CuescoreError

COMMAND_MODULES = (score, regenerate, evaluate, plot, serve, train, data, convert)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="cuescore", description="Music for a video: a soundtrack that follows its mood, motion and cuts.")
    parser.add_argument("--version", action="version", version=f"cuescore {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details; show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    for module in COMMAND_MODULES:
        module.add_parsers(sub)
    return parser


class Terminated(BaseException):
    """SIGTERM, raised in the main thread like KeyboardInterrupt for Ctrl-C: the command unwinds and
    its `finally` blocks remove the temporary files of the outputs it was writing (the default
    action would end the process at once and leave them)."""


def _terminated(signum, frame) -> None:
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminated) if in_main_thread else None
    try:
        return _run(argv)
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _run(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not args.command:
        parser.print_help()
        return 2
    try:
        with warnings.catch_warnings():
            if not args.verbose:  # one line per warning, as for errors
                warnings.showwarning = lambda message, *_: sys.stderr.write(f"cuescore: warning: {message}\n")
            return int(args.func(args) or 0)
    except CuescoreError as exc:
        sys.stderr.write(f"cuescore: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("cuescore: interrupted\n")
        return 130
    except Terminated:
        sys.stderr.write("cuescore: terminated\n")
        return 143
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # noqa: BLE001 - the one place that turns crashes into exit 1
        if args.verbose:
            traceback.print_exc()
        sys.stderr.write(f"cuescore: internal error: {type(exc).__name__}: {exc} (run with --verbose for details)\n")
        return 1
