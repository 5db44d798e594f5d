"""Atomic output: write to a temporary name beside the target, rename on success."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

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
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds.

    The temporary name keeps the suffix so that writers that pick a format from it work.
    """
    target = check_output_path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".part{target.suffix}", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


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
