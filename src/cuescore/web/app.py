"""The gradio page of `cuescore serve`: upload (or the demo clip), generated settings, Generate,
side-by-side candidates with their timeline figures, downloads, and "Regenerate range" of one
candidate beside them.

It calls the library only (`web.jobs` → `score_video`, `regenerate_range`, `plot_timeline`); a
`CuescoreError` is shown as its one-line message (`gr.Error`), never a traceback, and the server
keeps serving.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import gradio as gr

from cuescore.controls import CONTROLS, GROUP_TITLES
from cuescore.engines.catalog import DEFAULT_ENGINE
from cuescore.errors import CuescoreError, InputError, OptionError
from cuescore.web.form import SettingsForm, available_engines
from cuescore.web.jobs import (MAX_CANDIDATES, ServerSettings, check_upload, generate_candidates, keep_upload,
                              regenerate_candidate)
from cuescore.web.workspace import Workspace

log = logging.getLogger(__name__)


class WebApp:
    """The page and what its events do; `blocks` is the gradio app, `workspace` its temporary files."""

    def __init__(self, settings: ServerSettings, workspace: Workspace) -> None:
        self.settings = settings
        self.workspace = workspace
        self.engines = available_engines(settings.engine_options)
        self.form = SettingsForm(self.engines, settings.engine_options)
        self._demo_lock = threading.Lock()
        keep = max(1, round(settings.keep_minutes * 60))
        with gr.Blocks(title="cuescore", analytics_enabled=False, delete_cache=(max(1, keep // 4), keep)) as blocks:
            self._layout()
            blocks.unload(self.end_session)
        self.blocks = blocks
        self.url = ""

    def _layout(self) -> None:
        results = gr.State([])  # this session's result JSONs, candidate by candidate (kept on the server)
        gr.Markdown("# cuescore — music for a video\nUpload a video (or use the demo clip), choose an engine and "
                    "the controls, press **Generate**. The timeline under each player shows the video features "
                    "(top) and the music they shaped (bottom).")
        with gr.Row():
            with gr.Column(scale=1):
                video = gr.Video(label="video", sources=["upload"], elem_id="video-input")
                demo = gr.Button("Use the demo clip", size="sm", elem_id="demo-clip")
                first = DEFAULT_ENGINE if DEFAULT_ENGINE in self.engines else next(iter(self.engines))
                engine = gr.Dropdown([(f"{n} — {i.description}", n) for n, i in self.engines.items()], value=first,
                                     label="engine", elem_id="engine")
                count = gr.Slider(1, MAX_CANDIDATES, value=1, step=1, label="candidates",
                                  info="soundtracks to write at once (seeds seed, seed+1, ...) from one analysis",
                                  elem_id="candidates")
                stems = gr.Checkbox(False, label="stems", info="also write each part (pad, keys, bass, lead, "
                                    "drums) as its own WAV; engines that write a score only")
                for group, title in GROUP_TITLES.items():
                    with gr.Accordion(title, open=False):
                        self.form.render_controls([n for n, s in CONTROLS.items() if s.group == group])
                with gr.Accordion("engine options", open=False):
                    self.form.render_options(first)
                button = gr.Button("Generate", variant="primary", elem_id="generate")
            with gr.Column(scale=2):
                status = gr.Markdown(elem_id="status")
                with gr.Row():
                    columns, players, timelines = [], [], []
                    for i in range(MAX_CANDIDATES):
                        with gr.Column(min_width=240, visible=i == 0) as column:
                            columns.append(column)
                            players.append(gr.Video(label=f"candidate {i + 1}", interactive=False,
                                                    elem_id=f"player{i}"))
                            timelines.append(gr.Image(label="timeline: video features above the music",
                                                      type="filepath", interactive=False, elem_id=f"timeline{i}"))
                    regenerated = self._regenerated_column()
                downloads = gr.File(label="downloads: MP4, MIDI, WAV, JSON, timeline PNG (and stems)",
                                    file_count="multiple",
                                    interactive=False, elem_id="downloads")
                self._regenerate_controls(results, regenerated)
        demo.click(self._demo_clip, outputs=video, api_name="demo_clip")
        engine.change(lambda name: [gr.Group(visible=n == name) for n in self.form.groups],
                      inputs=engine, outputs=list(self.form.groups.values()), api_name=False)
        button.click(self._generate, inputs=[video, count, engine, stems, *self.form.inputs],
                     outputs=[status, *players, *timelines, downloads, *columns, regenerated[0], results],
                     api_name="generate")

    def _demo_clip(self) -> str:
        """The built-in demo clip, rendered once into the workspace."""
        from cuescore.media import render_demo_clip

        path = self.workspace.root / "demo" / "democlip.mp4"
        with self._demo_lock:
            if not path.is_file():
                path.parent.mkdir(exist_ok=True)
                render_demo_clip(path, with_audio=True)
        return str(path)

    def _generate(self, request: gr.Request, progress=gr.Progress(), *values: Any) -> list[Any]:  # noqa: B008
        video, count, engine, stems, *rest = values
        with self._shown_errors("generate", video):
            controls, options = self.form.read(engine, rest)
            info = check_upload(video, self.settings)
            with self.workspace.job(request.session_hash or "anonymous") as folder:
                found = generate_candidates(keep_upload(video, folder), folder, controls, engine, options, int(count),
                                            bool(stems), info, lambda done, what: progress(done, desc=what))
        hidden = [None] * (MAX_CANDIDATES - len(found))
        players = [str(c.outputs["video"]) for c in found] + hidden
        timelines = [str(c.timeline) for c in found] + hidden
        files = [str(p) for c in found for p in (*c.outputs.values(), c.timeline)]
        status = "\n".join(f"- **seed {c.seed}**: {c.summary}" for c in found)
        shown = [gr.Column(visible=i < len(found)) for i in range(MAX_CANDIDATES)]
        jsons = [str(c.outputs["json"]) for c in found]  # what "Regenerate range" may rewrite from now on
        return [status, *players, *timelines, files, *shown, gr.Column(visible=False), jsons]

    def _regenerated_column(self) -> list[Any]:
        """The column beside the candidates that shows a regenerated range: [column, player, timeline, downloads]."""
        with gr.Column(min_width=240, visible=False) as column:
            player = gr.Video(label="regenerated range", interactive=False, elem_id="regen-player")
            timeline = gr.Image(label="timeline of the regenerated version", type="filepath", interactive=False,
                                elem_id="regen-timeline")
            files = gr.File(label="downloads of the regenerated version", file_count="multiple", interactive=False,
                            elem_id="regen-downloads")
        return [column, player, timeline, files]

    def _regenerate_controls(self, results: gr.State, regenerated: list[Any]) -> None:
        """'Regenerate range': rewrite seconds from..to of one candidate, keeping the rest of its notes."""
        with gr.Accordion("regenerate a range", open=True):
            gr.Markdown("Rewrite only part of a candidate: its notes outside the range stay as they are; the range "
                        "is widened to the bar lines around it.")
            with gr.Row():
                which = gr.Slider(1, MAX_CANDIDATES, value=1, step=1, label="candidate", elem_id="regen-candidate")
                start = gr.Number(None, label="from (s)", elem_id="regen-from")
                end = gr.Number(None, label="to (s)", elem_id="regen-to")
                seed = gr.Textbox("", label="seed", placeholder="the candidate's seed + 1", elem_id="regen-seed")
            button = gr.Button("Regenerate range", elem_id="regenerate")
            status = gr.Markdown(elem_id="regen-status")
        column, *shown = regenerated
        button.click(self._regenerate, inputs=[results, which, start, end, seed], outputs=[status, *shown, column],
                     api_name="regenerate")

    def _regenerate(self, results: list[str], which: float, start: float | None, end: float | None,
                    seed: str | None, request: gr.Request, progress=gr.Progress()) -> list[Any]:  # noqa: B008
        with self._shown_errors("regenerate", None):
            session = request.session_hash or "anonymous"
            with self.workspace.job(session) as folder:
                source = self._session_result(session, results, which)
                found, (a, b) = regenerate_candidate(source, folder, start, end, seed,
                                                     lambda done, what: progress(done, desc=what))
        status = (f"candidate {int(which)}: regenerated **{a:.2f}-{b:.2f} s** (asked {start:g}-{end:g} s, widened to "
                  f"bar lines) with seed {found.seed}; {found.summary}")
        files = [str(p) for p in (*found.outputs.values(), found.timeline)]
        return [status, str(found.outputs["video"]), str(found.timeline), files, gr.Column(visible=True)]

    def _session_result(self, session: str, results: list[str], which: float) -> Path:
        """The result JSON of candidate `which` of this session's last Generate; only files in the
        session's own folder."""
        if not results:
            raise InputError("nothing to regenerate yet: press Generate first")
        if not 1 <= int(which) <= len(results):
            raise OptionError(f"candidate {int(which)} is out of range; allowed: 1..{len(results)}")
        path = Path(results[int(which) - 1]).resolve()
        if not path.is_relative_to(self.workspace.session_dir(session).resolve()):
            raise InputError("that result belongs to another session; press Generate")
        if not path.is_file():
            raise InputError(f"this result was removed after {self.settings.keep_minutes:g} min without use; "
                             "press Generate again")
        return path

    @contextlib.contextmanager
    def _shown_errors(self, what: str, video: str | None) -> Iterator[None]:
        """A `CuescoreError` shown as its one line (`gr.Error`); anything else logged, shown as one line."""
        try:
            yield
        except CuescoreError as exc:
            raise gr.Error(self._public(str(exc), video), duration=None, print_exception=False) from None
        except Exception as exc:  # noqa: BLE001 - logged here; the page shows one line and keeps serving
            log.exception("%s failed", what)
            raise gr.Error(self._public(f"internal error: {type(exc).__name__}: {exc}", video), duration=None,
                           print_exception=False) from None

    def _public(self, message: str, video: str | None) -> str:
        """`message` without the server's folders: the upload is named as the user named it."""
        if video:
            message = message.replace(str(video), Path(video).name)
        return message.replace(f"{self.workspace.root}/", "")

    def end_session(self, request: gr.Request) -> None:
        """The browser tab closed: remove that session's folder."""
        if request is not None and request.session_hash:
            self.workspace.end_session(request.session_hash)

    def start(self) -> str:
        """Start serving in background threads (queue with `settings.jobs` workers); return the URL."""
        settings = self.settings
        self.blocks.queue(default_concurrency_limit=settings.jobs)
        _, self.url, _ = self.blocks.launch(
            server_name=settings.host, server_port=settings.port, prevent_thread_lock=True, quiet=True,
            max_file_size=int(settings.max_upload_mb * 1024 * 1024), allowed_paths=[], ssr_mode=False,
            mcp_server=False, footer_links=[], share=False)
        self.workspace.start_sweeper()
        return self.url

    def close(self) -> None:
        """Stop serving and remove every temporary file."""
        self.blocks.close()
        self.workspace.close()


def create_app(settings: ServerSettings) -> WebApp:
    """The app with a fresh workspace; gradio's own temporary files go into it (GRADIO_TEMP_DIR)."""
    workspace = Workspace(settings.keep_minutes * 60)
    os.environ["GRADIO_TEMP_DIR"] = str(workspace.gradio_dir)
    try:
        return WebApp(settings, workspace)
    except BaseException:
        workspace.close()
        raise


def serve(settings: ServerSettings) -> None:
    """Serve until interrupted (Ctrl-C or SIGTERM), then remove every temporary file."""
    app = create_app(settings)
    if threading.current_thread() is threading.main_thread():  # Ctrl-C and SIGTERM stop it cleanly, even when
        for signum in (signal.SIGINT, signal.SIGTERM):          # started in the background (SIGINT ignored)
            signal.signal(signum, _interrupt)
    try:
        url = app.start()
        if not settings.loopback:
            print(f"cuescore serve: warning: listening on {settings.host}, reachable from other machines; "
                  "anyone who can reach it can use this server (use --host 127.0.0.1 to keep it local)",
                  file=sys.stderr, flush=True)
        print(f"cuescore serve: {url} (engines: {', '.join(app.engines)}; temporary files in {app.workspace.root}, "
              "removed on exit; Ctrl-C stops)", flush=True)
        while True:  # not gradio's block_thread: it closes the server itself, and closing twice waits twice
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("cuescore serve: stopping", flush=True)
    finally:
        app.close()


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
