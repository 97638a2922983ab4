"""Devices and data-parallel training under torchrun (DDP): gloo on CPU, NCCL on GPUs. Without torchrun: one
process."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from neurender.errors import NeurenderError


def select_device(name: str) -> torch.device:
    """The device for "auto" (CUDA when present), "cpu" or "cuda" (an error where CUDA is missing)."""
    if name == "cuda" and not torch.cuda.is_available():
        raise NeurenderError("the run asks for device cuda (--device or run.device) but CUDA is not available here; "
                             "--device cpu runs on the CPU")
    return torch.device("cuda" if name in ("auto", "cuda") and torch.cuda.is_available() else "cpu")


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_world(device: torch.device) -> World:
    """Join the process group that torchrun describes in the environment, if any."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return World()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def mean_over_world(values: list[float], world: World, device: torch.device) -> list[float]:
    """Average a few floats over all processes (identical decisions everywhere); a no-op alone."""
    if world.size == 1:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return (t / world.size).tolist()


def close_world(world: World) -> None:
    if world.size > 1 and dist.is_initialized():
        dist.destroy_process_group()
