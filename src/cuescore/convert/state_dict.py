"""Safe reading of published PyTorch state dicts, for the importers in `cuescore.convert`.

`read_state_dict` loads a `torch.save(model.state_dict())` file with `weights_only=True`, so a
pickle that would run code is refused; `SourceWeights` hands its tensors out by key, checks each
shape and remembers which keys were used, so an importer can list the rest once.
"""

from __future__ import annotations

import os
import pickle
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor

from cuescore.errors import InputError


def read_state_dict(path: str | os.PathLike, what: str) -> dict[str, Tensor]:
    """The tensors of the state dict in `path` (on the CPU); `InputError` naming `what` (e.g.
    "Video2Music's AMT weights") when the file is missing, truncated, not a state dict, or a
    pickle that holds anything but tensors and plain containers."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"{file}: no such file; give {what}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # protocol notes of the safe unpickler; errors are reported below
            state = torch.load(file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise InputError(f"{file}: not a PyTorch state dict (a safe load refuses it: it is no torch.save file "
                         f"of tensors, or it holds Python objects that would run code); give {what}") from None
    except Exception as exc:  # noqa: BLE001 - whatever a damaged file makes the reader raise
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{file}: unreadable or truncated ({reason[:160]}); give {what}") from None
    if not isinstance(state, Mapping) or not state:
        raise InputError(f"{file}: holds a {type(state).__name__}, not a state dict of tensors; give {what}")
    bad = next((k for k, v in state.items() if not isinstance(k, str) or not isinstance(v, Tensor)), None)
    if bad is not None:
        raise InputError(f"{file}: entry {bad!r} is a {type(state[bad]).__name__}, not a tensor; "
                         f"this is not a state dict; give {what}")
    return dict(state)


def _shape(shape: tuple[int, ...] | torch.Size) -> str:
    return "[" + ", ".join(str(int(n)) for n in shape) + "]"


class SourceWeights:
    """A state dict read from `path` whose tensors are taken by key with their expected shape."""

    def __init__(self, path: str | os.PathLike, what: str) -> None:
        self.path, self.what = Path(path), what
        self.state = read_state_dict(path, what)
        self.used: set[str] = set()

    def missing(self, key: str) -> InputError:
        """The error for a key that the file lacks."""
        return InputError(f"{self.path}: key {key!r} is missing; is this {self.what}?")

    def shape(self, key: str, ndim: int) -> tuple[int, ...]:
        """The shape of `key` (which must have `ndim` dimensions), without marking it used."""
        if key not in self.state:
            raise self.missing(key)
        shape = tuple(self.state[key].shape)
        if len(shape) != ndim:
            raise InputError(f"{self.path}: key {key!r} has shape {_shape(shape)}, expected {ndim} dimensions")
        return shape

    def take(self, key: str, shape: tuple[int, ...]) -> Tensor:
        """The float32 tensor under `key`; `InputError` naming the key and both shapes if its shape differs."""
        if key not in self.state:
            raise self.missing(key)
        tensor = self.state[key]
        if tuple(tensor.shape) != tuple(shape):
            raise InputError(f"{self.path}: key {key!r} has shape {_shape(tensor.shape)}, expected {_shape(shape)}")
        if not tensor.is_floating_point():
            raise InputError(f"{self.path}: key {key!r} holds {tensor.dtype} values, expected floating point")
        self.used.add(key)
        return tensor.detach().to(torch.float32).contiguous()

    def count(self, prefix: str) -> int:
        """How many numbered children `prefix.0.`, `prefix.1.`, ... (e.g. layers) the keys hold."""
        n = 0
        while any(k.startswith(f"{prefix}.{n}.") for k in self.state):
            n += 1
        return n

    def unused(self) -> list[str]:
        """Keys that no `take` asked for, in file order."""
        return [k for k in self.state if k not in self.used]
