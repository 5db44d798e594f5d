"""The server's temporary files: one root folder, one folder per browser session under it.

Each session's jobs write into `sessions/<session>/<job>/`; a session folder is removed when the
session ends, when nothing in it has changed for `keep_seconds` (checked by a sweeper thread;
folders with a job running are kept) and, with everything else, when the server shuts down.
Gradio's own uploads and served copies live in `gradio/` under the same root.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

_SAFE = re.compile(r"[^A-Za-z0-9_-]")


class Workspace:
    """A root temporary folder with per-session folders that expire after `keep_seconds`."""

    def __init__(self, keep_seconds: float, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="cuescore-web-"))
        self.keep_seconds = float(keep_seconds)
        (self.root / "sessions").mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._running: dict[str, int] = {}
        self._jobs = 0
        self._stop = threading.Event()
        self._sweeper: threading.Thread | None = None

    @property
    def gradio_dir(self) -> Path:
        """Where gradio keeps uploads and the copies it serves (its GRADIO_TEMP_DIR)."""
        return self.root / "gradio"

    def session_dir(self, session: str) -> Path:
        """The folder of one browser session (its name is the session id with only safe characters)."""
        return self.root / "sessions" / _key(session)

    @contextlib.contextmanager
    def job(self, session: str) -> Iterator[Path]:
        """A fresh folder for one job of `session`; the session is not swept while the job runs."""
        with self._lock:
            self._jobs += 1
            folder = self.session_dir(session) / f"job{self._jobs}"
            key = _key(session)
            self._running[key] = self._running.get(key, 0) + 1
        folder.mkdir(parents=True)
        try:
            yield folder
        finally:
            with self._lock:
                self._running[key] -= 1
                if not self._running[key]:
                    del self._running[key]

    def end_session(self, session: str) -> None:
        """Remove a session's folder (when its browser tab closes), unless a job of it still runs."""
        with self._lock:
            if _key(session) not in self._running:
                shutil.rmtree(self.session_dir(session), ignore_errors=True)

    def sweep(self) -> list[Path]:
        """Remove the session folders idle for longer than `keep_seconds`; return them."""
        removed = []
        now = time.time()
        for folder in sorted((self.root / "sessions").glob("*")):
            with self._lock:
                idle = folder.is_dir() and now - _last_change(folder) > self.keep_seconds  # a closed tab's may be gone
                if folder.name in self._running or not idle:
                    continue
                shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
        return removed

    def start_sweeper(self) -> None:
        """Sweep in a daemon thread every few seconds until `close`."""
        interval = min(max(self.keep_seconds / 4, 0.5), 60.0)

        def loop() -> None:
            while not self._stop.wait(interval):
                self.sweep()

        self._sweeper = threading.Thread(target=loop, name="cuescore-web-sweeper", daemon=True)
        self._sweeper.start()

    def close(self) -> None:
        """Stop sweeping and remove the whole root folder."""
        self._stop.set()
        if self._sweeper is not None:
            self._sweeper.join(timeout=5)
        shutil.rmtree(self.root, ignore_errors=True)


def _key(session: str) -> str:
    """The session id with only safe characters: its folder name."""
    return _SAFE.sub("_", session) or "anonymous"


def _last_change(folder: Path) -> float:
    """The newest modification time of `folder` and everything in it (seconds since the epoch)."""
    times = [folder.stat().st_mtime]
    for path in folder.rglob("*"):
        with contextlib.suppress(FileNotFoundError):
            times.append(path.stat().st_mtime)
    return max(times)
