"""A training run's memory, estimated before its first step: the weights with their gradients, G_ema and Adam's two
moments, and a step's activations measured on one scene. A run that cannot fit the machine is one error line with
the estimate and the limit, instead of an allocator traceback minutes in."""

from __future__ import annotations

import os

import torch
from torch import nn

from neurender.errors import NeurenderError
from neurender.models.generators import probing

STATE_COPIES = {"g": 5, "d": 4}  # weights, gradients, Adam's two moments; and G_ema for G
ACTIVATION_COPIES = 3  # a step keeps each layer's output for the backward pass, and its gradient, and D sees it


def machine_bytes(device: torch.device) -> int:
    """The memory the device has: a GPU's own, else the machine's physical memory."""
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def output_bytes(model: nn.Module, params: torch.Tensor) -> int:
    """Bytes of every leaf module's outputs for ``model(params)``, in eval mode without gradients (the model's mode
    and the random generators' states restored)."""
    total = [0]

    def count(module, inputs, output):
        for value in output if isinstance(output, tuple) else (output,):
            if isinstance(value, torch.Tensor):
                total[0] += value.numel() * value.element_size()

    leaves = [m for m in model.modules() if not any(True for _ in m.children())]
    hooks = [m.register_forward_hook(count) for m in leaves]
    try:
        with probing(model, params.device):
            model(params)
    finally:
        for hook in hooks:
            hook.remove()
    return total[0]


def check_memory(g: nn.Module, d: nn.Module | None, params: torch.Tensor, batch: int, whole_frames: bool,
                 device: torch.device) -> int:
    """The estimate in bytes for training `g` (and `d`) at `batch` scenes a step, one NeurenderError if it exceeds
    ``machine_bytes``. params: (1, 10) one encoded scene. A step's activations are counted only where G draws whole
    frames (pixel and crop sampling are bounded by the config's checks)."""
    state = sum(STATE_COPIES[name] * 4 * sum(p.numel() for p in model.parameters())
                for name, model in (("g", g), ("d", d)) if model is not None)
    step = ACTIVATION_COPIES * batch * output_bytes(g, params[:1]) if whole_frames else 0
    limit = machine_bytes(device)
    if state + step > limit:
        raise NeurenderError(
            f"this run needs about {(state + step) / 1e9:.1f} GB ({state / 1e9:.1f} GB of weights, gradients, "
            f"G_ema and Adam's moments; {step / 1e9:.1f} GB of a step's activations at batch {batch}), and the "
            f"{device.type.upper()} has {limit / 1e9:.1f} GB: lower schedule.batch or model.width")
    return state + step
