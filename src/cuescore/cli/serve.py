"""`cuescore serve`: the web app (gradio) on this machine, loopback only unless told otherwise."""

from __future__ import annotations

import argparse

from cuescore.engines.catalog import shared_options


def _server_path_options() -> dict[str, str]:
    """Engine options naming files on the server (checkpoints, music models): set by the operator,
    never typed on the page. Option name → help."""
    return {name: option.help for name, (option, _) in shared_options().items() if option.kind == "path"}


def _cmd_serve(args: argparse.Namespace) -> int:
    from cuescore.web.app import serve
    from cuescore.web.jobs import ServerSettings

    engine_options = {name: getattr(args, name) for name in _server_path_options()}
    settings = ServerSettings(host=args.host, port=args.port, max_upload_mb=args.max_upload_mb,
                              max_minutes=args.max_minutes, jobs=args.jobs, keep_minutes=args.keep_minutes,
                              engine_options={k: v for k, v in engine_options.items() if v is not None})
    serve(settings)
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register serve."""
    p = sub.add_parser("serve", help="the web app: upload a video, set the controls, generate and download",
                       description="Serve the cuescore web page (gradio). It listens on 127.0.0.1 only unless "
                                   "--host says otherwise; temporary files live in one folder per browser session, "
                                   "removed when the session ends, after --keep-minutes idle, and on exit.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only; "
                   "0.0.0.0 = every interface, with a warning)")
    p.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    p.add_argument("--max-upload-mb", type=float, default=500.0, help="largest upload in MB (default: 500)")
    p.add_argument("--max-minutes", type=float, default=20.0, help="longest video in minutes (default: 20)")
    p.add_argument("--jobs", type=int, default=1, help="generations that run at once; others wait in the queue "
                   "(default: 1)")
    p.add_argument("--keep-minutes", type=float, default=60.0, help="minutes an idle session's files are kept "
                   "(default: 60)")
    for name, text in _server_path_options().items():
        p.add_argument(f"--{name.replace('_', '-')}", dest=name, metavar="PATH",
                       help=f"{text}; engines that need it are offered only when it loads")
    p.set_defaults(func=_cmd_serve)
