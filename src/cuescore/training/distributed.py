"""What a training run needs from its surroundings: processes, devices, precision, schedule.

Multi-GPU and multi-node runs are launched by `torchrun`, which sets RANK, WORLD_SIZE and
LOCAL_RANK; with WORLD_SIZE > 1 the process group is started here (NCCL on GPUs, gloo on CPUs).
Rank 0 alone writes files and shows progress.
"""

from __future__ import annotations

import contextlib
import math
import os
from dataclasses import dataclass
from typing import Callable, Iterator

import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from cuescore.errors import OptionError
from cuescore.models.device import resolve_device

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
ADAM_BETAS, ADAM_EPS = (0.9, 0.98), 1e-9
"""Video2Music's Adam settings for the transformers."""


@dataclass
class DistContext:
    """This process's place in the run."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    owns_group: bool

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def all_sum(self, values: list[float]) -> list[float]:
        """Element-wise sum of `values` over all processes."""
        if not self.distributed:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return t.tolist()

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def close(self) -> None:
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()


def setup_distributed(device: str | torch.device = "auto") -> DistContext:
    """Read torchrun's environment, pick the device and join the process group if there is one."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    owns = False
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo", rank=rank, world_size=world)
        owns = True
    return DistContext(rank, world, local, dev, owns)


def resolve_precision(precision: str, device: torch.device) -> str:
    """"auto" -> bf16 on GPUs that have it, fp16 on other GPUs, fp32 on CPU."""
    if precision not in PRECISIONS:
        raise OptionError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if device.type != "cuda":
        if precision in ("bf16", "fp16"):
            raise OptionError(f"mixed precision ({precision}) runs on GPUs only; use precision='fp32' on {device}")
        return "fp32"
    if precision == "auto":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return precision


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """Autocast for bf16/fp16 on GPU; a no-op for fp32."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def noam_schedule(d_model: int, warmup_steps: int, peak_lr: float | None = None) -> Callable[[int], float]:
    """Learning rate at optimizer step s >= 1 (Vaswani et al., Video2Music's `LrStepTracker`):
    d_model^-0.5 * min(s^-0.5, s * warmup^-1.5) -- linear warm-up, then inverse square root.
    With `peak_lr`, the same shape is rescaled so that it peaks at `peak_lr` when s = warmup."""
    warmup = max(1, warmup_steps)
    scale = 1.0 if peak_lr is None else peak_lr * math.sqrt(d_model * warmup)

    def lr(step: int) -> float:
        s = max(1, step)
        return scale * d_model**-0.5 * min(s**-0.5, s * warmup**-1.5)

    return lr


class ShardSampler(Sampler[int]):
    """Indices rank, rank + world, ... of a dataset: each item on exactly one process (evaluation)."""

    def __init__(self, length: int, rank: int, world_size: int) -> None:
        self.indices = list(range(rank, length, world_size))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)
