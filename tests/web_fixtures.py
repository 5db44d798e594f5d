"""A real `cuescore serve` in a subprocess on a free loopback port, for the web and browser tests."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
KEEP_MINUTES = 0.2
"""The test server removes idle session folders (and gradio its copies of uploads) after 12 s: long
enough for an upload to wait for its job on a busy machine."""
MAX_MINUTES = 0.05
"""It takes videos up to 3 s: a 2 s clip is accepted, a 4 s clip is too long."""
MAX_UPLOAD_MB = 1
SERVER_ARGS = ("--max-minutes", str(MAX_MINUTES), "--jobs", "2", "--keep-minutes", str(KEEP_MINUTES),
               "--max-upload-mb", str(MAX_UPLOAD_MB))


@dataclass
class Server:
    """A running server: its URL, its temporary root folder, the process and its output."""

    url: str
    root: Path
    process: subprocess.Popen
    log: Path

    def stop(self, timeout: float = 20) -> int:
        """Ctrl-C the server and wait for it to exit; its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(cwd: Path, *args: str, timeout: float = 90) -> Server:
    """Start `cuescore serve --port <free> ARGS` and wait until it prints its URL."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
           "GRADIO_ANALYTICS_ENABLED": "False", "OMP_NUM_THREADS": "1"}
    log = cwd / "serve.log"
    with open(log, "w") as sink:  # a file, not a pipe: a chatty server never blocks on a full pipe
        process = subprocess.Popen([sys.executable, "-m", "cuescore", "serve", "--port", str(free_port()), *args],
                                   cwd=cwd, env=env, stdout=sink, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        found = re.search(r"cuescore serve: (http://\S+) .*temporary files in (\S+),", log.read_text())
        if found:
            return Server(found.group(1), Path(found.group(2)), process, log)
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("cuescore serve did not start:\n" + log.read_text())
