"""The networks a run trains: G and D built from the config, G_ema's moving average, and their data-parallel
wrappers under torchrun."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from neurender.models.discriminator import Discriminator
from neurender.models.generators import build_generator, generator_options
from neurender.training.config import TrainConfig
from neurender.training.distributed import World


def build_models(config: TrainConfig, resolution: int) -> tuple[torch.nn.Module, torch.nn.Module | None]:
    """G, and D for whole frames or, when G trains on crops, for crops and their coordinates; no D for a schedule
    that is all warm-up."""
    m, crop = config.model, config.sampling.crop_size
    generator = build_generator(m.arch, resolution, generator_options(m.arch, m.width, m.norm, m.options))
    if not config.schedule.uses_discriminator:
        return generator, None
    discriminator = Discriminator(crop or resolution, m.d_width, m.d_conditioning, m.d_spectral, m.d_dropout,
                                  m.d_patch, coords=crop > 0)
    return generator, discriminator


@torch.no_grad()
def update_ema(g_ema: nn.Module, g: nn.Module, beta: float) -> None:
    """G_ema <- beta G_ema + (1 - beta) G for the weights; buffers (batch statistics, fitted norms) copied."""
    for p_ema, p in zip(g_ema.parameters(), g.parameters(), strict=True):
        p_ema.lerp_(p, 1 - beta)
    for b_ema, b in zip(g_ema.buffers(), g.buffers(), strict=True):
        b_ema.copy_(b)


def distributed(model: nn.Module | None, world: World, device: torch.device) -> nn.Module | None:
    """What a step calls: `model` itself in one process, its DistributedDataParallel wrapper under torchrun."""
    if model is None or world.size == 1:
        return model
    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
