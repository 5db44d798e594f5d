"""`cuescore regenerate` and generate's --candidates, --stems and --from-plan: iterate on a result.

`regenerate OUT.json --from 20 --to 35` rewrites one range of a written result; on `generate`,
`--candidates N` writes N versions from one analysis, `--stems` one WAV per part beside the mix,
`--from-plan OUT.json` the recorded result again. Thin callers of `cuescore.candidates` and
`cuescore.regenerate`.
"""

from __future__ import annotations

import argparse
import sys

from cuescore.controls import CONTROLS, add_control_arguments
from cuescore.errors import OptionError


def add_generate_arguments(p: argparse.ArgumentParser) -> None:
    """generate's --candidates, --stems and --from-plan."""
    group = p.add_argument_group("candidates, stems, reproduction")
    group.add_argument("--candidates", type=int, metavar="N", default=None,
                       help="write N versions (2-16) with seeds SEED, SEED+1, ... from one analysis: "
                            "OUT_1.mp4 ... OUT_N.mp4 with their .mid, .wav and .json")
    group.add_argument("--stems", action="store_true",
                       help="also write each part (pad, keys, bass, lead, drums, as the score has them) as "
                            "OUT.<part>.wav, mastered like the mix so that the stems sum to OUT.wav")
    group.add_argument("--from-plan", metavar="OUT.json", default=None,
                       help="reproduce a result: the controls, engine, SoundFont and score recorded in OUT.json "
                            "(written by generate) for this same video; the WAV comes out bit for bit the same")


def given_controls(args: argparse.Namespace) -> dict:
    """The controls typed on the command line (the others are None)."""
    return {name: value for name, value in vars(args).items() if name in CONTROLS and value is not None}


def run_generate(args: argparse.Namespace) -> bool:
    """Run generate with --candidates or --from-plan and return True, or return False (plain generate)."""
    progress = args.verbose or sys.stderr.isatty()
    if args.from_plan is not None:
        given = [f"--{name.replace('_', '-')}" for name in given_controls(args)]
        if given or args.candidates is not None or args.features:
            others = given + [f for f, v in (("--candidates", args.candidates), ("--features", args.features)) if v]
            raise OptionError(f"--from-plan takes everything from {args.from_plan}; leave out {', '.join(others)} "
                              "(or use `cuescore regenerate` to change a range)")
        from cuescore.regenerate import reproduce_result

        result = reproduce_result(args.video, args.from_plan, args.output, stems=args.stems, progress=progress)
        print(result.summary())
        return True
    if args.candidates is None:
        return False
    from cuescore.candidates import candidate_summary, score_candidates
    from cuescore.controls import Controls
    from cuescore.engines.catalog import engine_options_from_namespace

    if args.features:
        raise OptionError("--candidates analyses the video once itself; leave out --features")
    controls = Controls.from_namespace(args)
    results = score_candidates(args.video, args.output, controls, args.candidates, engine=args.engine,
                               engine_options=engine_options_from_namespace(args), stems=args.stems,
                               progress=progress)
    for i, result in enumerate(results):
        print(candidate_summary(result, i + 1, controls.seed + i))
    return True


def _cmd_regenerate(args: argparse.Namespace) -> int:
    from cuescore.controls import Controls
    from cuescore.regenerate import regenerate_range, regeneration_seed, widened_range
    from cuescore.result_file import load_result

    recorded = load_result(args.result)
    a, b = widened_range(recorded, args.start, args.end)
    recorded.check_video(args.video)
    given = {k: v for k, v in given_controls(args).items() if k != "seed"}
    controls = Controls.from_options(**{**recorded.controls.to_dict(), **given}) if given else None
    progress = args.verbose or sys.stderr.isatty()
    if progress:  # with the stage progress: the final line says it again
        print(f"cuescore: regenerating {a:.2f}-{b:.2f} s (asked {args.start:g}-{args.end:g} s, widened to the bar "
              "lines)", file=sys.stderr)
    result = regenerate_range(recorded.path, args.start, args.end, args.output, args.seed, controls,
                              video=args.video, stems=args.stems, progress=progress)
    print(f"regenerated {a:.2f}-{b:.2f} s (asked {args.start:g}-{args.end:g} s, widened to bar lines) with seed "
          f"{regeneration_seed(recorded, args.seed)}; {result.summary()}")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register regenerate."""
    p = sub.add_parser("regenerate", help="rewrite a time range of a written result, keeping the rest",
                       description="Rewrite seconds FROM..TO of the result in OUT.json (written by generate) with "
                                   "another seed or controls. The range is widened to the bar lines around it "
                                   "(printed); every note outside it stays exactly as it was. Controls not given keep "
                                   "their recorded values. Writes new outputs "
                                   "(default OUT_regen.mp4 beside OUT.json, with .mid, .wav, .json); the "
                                   "originals are overwritten only when -o names them.")
    p.add_argument("result", metavar="OUT.json", help="a result written by `cuescore generate`")
    p.add_argument("--from", dest="start", type=float, required=True, metavar="SECONDS", help="start of the range")
    p.add_argument("--to", dest="end", type=float, required=True, metavar="SECONDS", help="end of the range")
    p.add_argument("-o", "--output", help="output video (default: OUT_regen.mp4 beside OUT.json)")
    p.add_argument("--video", help="the scored video, if it has moved since OUT.json was written")
    p.add_argument("--stems", action="store_true", help="also write each part's stem (OUT.<part>.wav)")
    add_control_arguments(p)
    for action in p._actions:  # the table's --seed help describes generate's default
        if action.dest == "seed":
            action.help = "seed of the new version of the range (default: the recorded seed + 1)"
    p.set_defaults(func=_cmd_regenerate)
