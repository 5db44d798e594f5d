"""The one place that turns a device name ("auto", "cpu", "cuda", "cuda:N") into a torch device."""

from __future__ import annotations

import torch

from cuescore.errors import OptionError

DEVICES = ("auto", "cpu", "cuda")
"""Device names every command accepts (plus "cuda:N")."""


def resolve_device(name: str | torch.device, local_rank: int = 0) -> torch.device:
    """"auto" → this process's GPU when torch sees one, else the CPU; "cuda" → cuda:`local_rank`
    (torchrun's LOCAL_RANK). `OptionError` for another name, or a GPU asked for that is not there."""
    if isinstance(name, torch.device):
        dev = name
    elif name == "auto":
        dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    elif name in DEVICES or (name.startswith("cuda:") and name[5:].isdigit()):
        dev = torch.device(name)
    else:
        raise OptionError(f"device must be one of {', '.join(DEVICES)} (or cuda:N); got {name!r}")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise OptionError(f"device {str(name)!r} asked for, but torch sees no CUDA GPU; use 'cpu' or 'auto'")
        if dev.index is None:
            dev = torch.device("cuda", local_rank)
    return dev
