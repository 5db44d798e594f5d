"""`cuescore plot`: the timeline figure of a scored result (video features above the music)."""

from __future__ import annotations

import argparse
from pathlib import Path


def _cmd_plot(args: argparse.Namespace) -> int:
    from cuescore.evaluation.timeline_plot import plot_timeline

    out = Path(args.output) if args.output else Path(args.result).with_suffix(".png")
    print(plot_timeline(args.result, out, dpi=args.dpi))
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register plot."""
    p = sub.add_parser("plot", help="draw the timeline of a result: video features above the music, one time axis",
                       description="Draw RESULT (OUT.json of `cuescore generate`) as a PNG: emotion, valence and "
                                   "arousal, motion and cuts above tempo, beats, chords, density, energy and "
                                   "loudness (read from OUT.wav when it is beside the JSON).")
    p.add_argument("result", help="OUT.json written by `cuescore generate`")
    p.add_argument("-o", "--output", help="output PNG (default: RESULT with .png)")
    p.add_argument("--dpi", type=int, default=100, help="resolution of the PNG (default: 100)")
    p.set_defaults(func=_cmd_plot)
