"""Atomic output: write to a temporary name beside the target, rename on success."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any, Callable, Iterator

from cuescore.errors import OutputError


def ensure_writable_dir(directory: str | os.PathLike) -> Path:
    """Create `directory` if needed and check that files can be written in it."""
    path = Path(directory)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path} is a file, not a folder; choose another output path")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {path}: {exc.strerror}; choose another path") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise OutputError(f"output folder {path} is not writable; choose another path")
    return path


def check_output_path(path: str | os.PathLike) -> Path:
    """Fail early, before any work, when `path` cannot be written."""
    target = Path(path)
    if target.is_dir():
        raise OutputError(f"output {target} is a folder; give a file name")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.exists():
        raise OutputError(f"output folder {parent} does not exist; create it or choose another path")
    if not parent.is_dir():
        raise OutputError(f"{parent} is a file, not a folder; choose another output path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"output folder {parent} is not writable; choose another path")
    return target


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def _scratch(path: Path, make: Callable[[Path], None], remove: Callable[[Path], None]) -> Iterator[Path]:
    """`path` made by `make` inside the block that removes it again (`remove`) unless it has been
    renamed away: the name is chosen before anything exists, so an interrupt (Ctrl-C, SIGTERM) at
    any moment leaves nothing behind. A name already taken (astronomically unlikely) is an
    OutputError and that file is left alone."""
    ours = True
    try:
        try:
            make(path)
        except FileExistsError:
            ours = False
            raise OutputError(f"{path} exists already; run again") from None
        yield path
    finally:
        if ours and path.exists():
            remove(path)


def _scratch_name(folder: Path, stem: str, suffix: str = "") -> Path:
    """A hidden, fresh name in `folder` for the temporary copy of output `stem` + `suffix`."""
    return folder / f".{stem}.{secrets.token_hex(6)}.part{suffix}"


def _new_file(path: Path) -> None:
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds.

    The temporary name keeps the suffix so that writers that pick a format from it work; an
    interrupt at any moment leaves no temporary file behind (`_scratch`).
    """
    target = check_output_path(path)
    with _scratch(_scratch_name(target.parent, target.stem, target.suffix), _new_file, Path.unlink) as tmp:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)


def _jsonable(value: Any) -> Any:
    """numpy arrays and scalars as plain JSON values (json.dumps's `default`)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in JSON")


def write_json(path: str | os.PathLike, data: dict) -> Path:
    """Write `data` as indented JSON (numpy values as lists and numbers), atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, default=_jsonable))
    return Path(path)


@contextlib.contextmanager
def atomic_dir(directory: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside `directory`; it becomes `directory` only if the block succeeds.

    `directory` must not exist or be empty (it is never merged into); its parents are created.
    """
    target = Path(directory)
    check_new_dir(target)
    parent = ensure_writable_dir(target.parent if str(target.parent) else Path("."))
    with _scratch(_scratch_name(parent, target.name), lambda p: os.mkdir(p, 0o700), shutil.rmtree) as tmp:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        check_new_dir(target)
        if target.exists():
            target.rmdir()
        os.replace(tmp, target)


def check_new_dir(directory: str | os.PathLike) -> Path:
    """Fail early unless `directory` is absent or an empty folder (an output that overwrites nothing)."""
    target = Path(directory)
    if target.exists() and not target.is_dir():
        raise OutputError(f"{target} is a file, not a folder; choose another output folder")
    if target.is_dir() and any(target.iterdir()):
        raise OutputError(f"{target} is not empty; choose a new output folder (nothing is overwritten)")
    return target
