"""Work over many videos: the input list, a resumable manifest and one runner for every backend.

`cuescore dataset build` (`cuescore.data.builder`) and batch scoring (`cuescore.batch`) both turn
a list of videos into one output folder. What they share lives here:

- `collect_videos`: files, folders (their videos, sorted) and list files (one path per line),
  sorted by name, so a video's position, and the id made from it, is the same in every run,
  worker count and shard.
- `Manifest`: `manifest.json` in the output folder records the settings and, per item id, its
  source, status (`ok` / `failed` with the reason) and output files (bytes, SHA-256). Each finished
  item is appended at once to `manifest.journal.jsonl` (one JSON line), so a crash loses at most
  the items in flight; `save` folds the journal into `manifest.json`. An item is complete when
  it is `ok` and its outputs are all there with their recorded size.
- `run_jobs`: calls one picklable function per item, in this process (workers=1), in a
  `concurrent.futures.ProcessPoolExecutor` (workers>1) or as Ray tasks (backend "ray": a local
  Ray of `workers` CPUs, or the cluster at `address`), and yields each `Outcome` as it finishes,
  under one tqdm bar (items per second and ETA). A failure of one item (any exception) becomes a
  failed outcome with its reason; the log records each task emitted come back with it.
- `folder_lock`: one run per output folder at a time (and the stale temporary files of a killed
  run are removed under it).
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import logging
import multiprocessing
import os
import re
import socket
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from tqdm import tqdm

from cuescore.errors import CuescoreError, InputError, OptionError
from cuescore.fileio import atomic_path, ensure_writable_dir

log = logging.getLogger(__name__)

MANIFEST_FILE = "manifest.json"
JOURNAL_FILE = "manifest.journal.jsonl"
LOCK_FILE = ".manifest.lock"
LOG_DIR = "logs"
BACKENDS = ("local", "ray")
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".flv",
                            ".wmv"})
"""File endings taken from a folder (case-insensitive); files named explicitly are always tried."""
LIST_SUFFIXES = frozenset({".txt", ".list", ".lst"})
"""A file with one of these endings lists videos, one path per line (relative to the list's folder)."""


# ---------------------------------------------------------------- inputs


def _expand(path: Path) -> list[Path]:
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
        if not found:
            log.warning("%s: no video files (%s) in this folder", path, ", ".join(sorted(VIDEO_SUFFIXES)))
        return found
    if path.suffix.lower() in LIST_SUFFIXES and path.is_file():
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        return [p if p.is_absolute() else path.parent / p for p in map(Path, lines) if str(p) and not str(p).startswith("#")]
    return [path]


def collect_videos(videos: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    """Expand folders (their videos, not recursive) and list files; drop duplicates; sort by file
    name, then path. `InputError` when nothing is left."""
    items = [videos] if isinstance(videos, (str, os.PathLike)) else list(videos)
    out: dict[Path, Path] = {}
    for item in items:
        for p in _expand(Path(item)):
            out.setdefault(p.resolve(), p)
    if not out:
        raise InputError("no videos given; give video files, folders that hold them, or a list file")
    return sorted(out.values(), key=lambda p: (p.name, str(p)))


def stem_id(path: Path) -> str:
    """An id from a file name: its stem with characters outside [A-Za-z0-9._-] replaced by `_`."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", path.stem).lstrip("._-")
    return name or "video"


def stem_ids(paths: Sequence[Path]) -> list[str]:
    """`stem_id` of each path, a repeated one made unique with `-2`, `-3`, ... in list order."""
    used: set[str] = set()
    out = []
    for path in paths:
        base, k = stem_id(path), 1
        vid = base
        while vid in used:
            k += 1
            vid = f"{base}-{k}"
        used.add(vid)
        out.append(vid)
    return out


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """"K/N" → (K, N) with 1 <= K <= N (the K-th of N shards takes every N-th video from the K-th)."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise OptionError(f"shard must be K/N with 1 <= K <= N (e.g. 2/8), got {text!r}")
    return int(match[1]), int(match[2])


# ---------------------------------------------------------------- manifest


def file_record(root: Path, paths: Iterable[Path]) -> dict[str, dict]:
    """{path relative to root: {"bytes": size, "sha256": hex digest}} for the given files."""
    out = {}
    for path in sorted(set(paths)):
        data = path.read_bytes()
        out[path.relative_to(root).as_posix()] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    return out


class Manifest:
    """The record of an output folder (see the module docstring). `items`: id → entry dict."""

    def __init__(self, root: Path, kind: str, settings: dict | None = None, items: dict | None = None) -> None:
        self.root, self.kind = Path(root), kind
        self.settings: dict = settings or {}
        self.items: dict[str, dict] = items or {}

    @classmethod
    def load(cls, root: str | os.PathLike, kind: str) -> "Manifest":
        """The folder's manifest with its journal applied (an empty one when there is none)."""
        root = Path(root)
        path, journal = root / MANIFEST_FILE, root / JOURNAL_FILE
        data: dict = {}
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise InputError(f"{path}: not a readable manifest ({exc}); move it away to start over") from None
            if data.get("kind") != kind:
                raise InputError(f"{path}: a manifest of a {data.get('kind')!r} folder, not of a {kind!r} one")
        manifest = cls(root, kind, data.get("settings"), data.get("items"))
        if journal.is_file():
            for line in journal.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    vid, entry = json.loads(line)
                except (json.JSONDecodeError, ValueError):
                    continue  # the line a crash cut short
                manifest.items[vid] = entry
        return manifest

    def use_settings(self, settings: dict, fixed: Sequence[str] = (), force: bool = False) -> None:
        """Adopt `settings`; `OptionError` when the folder's `ok` items were made with other values
        of the `fixed` ones (the settings that shape the outputs), unless `force`."""
        changed = sorted(k for k in fixed if k in self.settings and self.settings[k] != settings.get(k))
        if changed and not force and any(e.get("status") == "ok" for e in self.items.values()):
            what = "; ".join(f"{k}: {self.settings[k]!r} there, {settings[k]!r} now" for k in changed)
            raise OptionError(f"{self.root} was made with other settings ({what}); use the same ones, "
                              "another output folder, or --force to redo everything")
        self.settings = dict(settings)

    def record(self, vid: str, entry: dict) -> None:
        """Set the entry of `vid` and append it to the journal at once."""
        self.items[vid] = entry
        ensure_writable_dir(self.root)
        with open(self.root / JOURNAL_FILE, "a", encoding="utf-8") as fh:
            fh.write(json.dumps([vid, entry], sort_keys=True) + "\n")
            fh.flush()

    def complete(self, vid: str) -> bool:
        """Whether `vid` is `ok` and each of its outputs is there with its recorded size."""
        entry = self.items.get(vid)
        if not entry or entry.get("status") != "ok":
            return False
        for rel, rec in entry.get("outputs", {}).items():
            path = self.root / rel
            if not path.is_file() or path.stat().st_size != rec["bytes"]:
                return False
        return True

    def save(self) -> Path:
        """Write `manifest.json` (items sorted by id) atomically and drop the journal."""
        path = self.root / MANIFEST_FILE
        data = {"kind": self.kind, "settings": self.settings, "items": dict(sorted(self.items.items()))}
        ensure_writable_dir(self.root)
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        (self.root / JOURNAL_FILE).unlink(missing_ok=True)
        return path


@contextmanager
def folder_lock(root: str | os.PathLike) -> Iterator[Path]:
    """Hold the folder's lock (`OptionError` if another run holds it); remove stale `.*.part*`
    temporary files that a killed run left behind."""
    root = ensure_writable_dir(root)
    with open(root / LOCK_FILE, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OptionError(f"{root} is in use by another cuescore run; wait for it or use another folder") from None
        for stale in root.rglob(".*.part*"):
            if stale.is_file():
                stale.unlink()
        try:
            yield root
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# ---------------------------------------------------------------- running


@dataclass
class Outcome:
    """One finished item: `value` (ok) or `reason` (failed), seconds it took, where, and its log."""

    key: str
    ok: bool
    value: Any = None
    reason: str = ""
    seconds: float = 0.0
    worker: str = ""
    log: str = ""


def _execute(fn: Callable[[Any], Any], key: str, arg: Any) -> Outcome:
    """Run `fn(arg)` capturing cuescore's log records; any exception becomes a failed `Outcome`."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("cuescore")
    logger.addHandler(handler)
    worker = f"{socket.gethostname()}-{os.getpid()}"
    started = time.perf_counter()
    try:
        value = fn(arg)
        outcome = Outcome(key, True, value=value)
    except Exception as exc:  # noqa: BLE001 - one broken video must not stop the others
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if isinstance(exc, CuescoreError):  # a reason for people (broken file, no audio track, ...)
            reason = first
        else:
            reason = f"{type(exc).__name__}: {first}"
            logger.error("%s failed:\n%s", key, traceback.format_exc())
        outcome = Outcome(key, False, reason=reason)
    finally:
        logger.removeHandler(handler)
    outcome.seconds, outcome.worker, outcome.log = time.perf_counter() - started, worker, stream.getvalue()
    return outcome


def _in_process(fn, jobs) -> Iterator[Outcome]:
    for key, arg in jobs:
        yield _execute(fn, key, arg)


def _process_pool(fn, jobs, workers: int) -> Iterator[Outcome]:
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        pending = {pool.submit(_execute, fn, key, arg) for key, arg in jobs}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _ray(fn, jobs, workers: int, address: str | None) -> Iterator[Outcome]:
    try:
        import ray
    except ImportError:
        raise OptionError("--backend ray needs the ray package: pip install 'cuescore[scale]'") from None
    started = not ray.is_initialized()
    if started:
        opts = {"address": address} if address else {"num_cpus": workers, "include_dashboard": False}
        ray.init(log_to_driver=False, **opts)
    try:
        task = ray.remote(num_cpus=1)(_execute)  # a task lost with its node is retried (Ray's default)
        keys = {task.remote(fn, key, arg): key for key, arg in jobs}
        pending = list(keys)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            try:
                yield ray.get(done[0])
            except ray.exceptions.RayError as exc:  # its worker or node died every time it ran
                yield Outcome(keys[done[0]], False, reason=f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
    finally:
        if started:
            ray.shutdown()


def run_jobs(fn: Callable[[Any], Any], jobs: Sequence[tuple[str, Any]], *, workers: int = 1,
             backend: str = "local", address: str | None = None, progress: bool = True,
             desc: str = "videos", unit: str = "video") -> Iterator[Outcome]:
    """Yield an `Outcome` for each (key, arg) in `jobs` as `fn(arg)` finishes (see the module
    docstring for the backends). `fn` must be a module-level function; its args and results pickle."""
    if backend not in BACKENDS:
        raise OptionError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if workers < 1:
        raise OptionError(f"workers must be at least 1, got {workers}")
    if address and backend != "ray":
        raise OptionError("--address applies to --backend ray")
    if backend == "ray":
        outcomes = _ray(fn, jobs, workers, address)
    elif workers == 1 or len(jobs) <= 1:
        outcomes = _in_process(fn, jobs)
    else:
        outcomes = _process_pool(fn, jobs, min(workers, len(jobs)))
    failed = 0
    with tqdm(total=len(jobs), desc=desc, unit=unit, disable=None if progress else True, smoothing=0.1) as bar:
        for outcome in outcomes:
            failed += not outcome.ok
            bar.set_postfix_str(f"{outcome.key}{'' if outcome.ok else ' failed'}; {failed} failed", refresh=False)
            bar.update(1)
            yield outcome


def write_worker_log(root: Path, outcome: Outcome) -> None:
    """Append the task's log records to `logs/worker-<host>-<pid>.log` under `root`."""
    folder = ensure_writable_dir(root / LOG_DIR)
    status = "done" if outcome.ok else f"FAILED ({outcome.reason})"
    with open(folder / f"worker-{outcome.worker}.log", "a", encoding="utf-8") as fh:
        fh.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {outcome.key}: {status} in {outcome.seconds:.2f} s\n")
        fh.write(outcome.log)


@contextmanager
def run_log(root: Path, name: str) -> Iterator[logging.Logger]:
    """A logger whose records (INFO and up) go to `logs/<name>.log` under `root` only."""
    handler = logging.FileHandler(ensure_writable_dir(root / LOG_DIR) / f"{name}.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s: %(message)s"))
    logger = logging.getLogger(f"cuescore.run.{name}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield logger
    finally:
        logger.removeHandler(handler)
        handler.close()


__all__ = ["BACKENDS", "MANIFEST_FILE", "Manifest", "Outcome", "collect_videos", "file_record", "folder_lock",
           "parse_shard", "run_jobs", "run_log", "stem_id", "stem_ids", "write_worker_log"]
