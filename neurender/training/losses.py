"""Losses: masked L1 and the GAN objectives (non-saturating BCE, least squares, hinge)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def masked_l1(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
              object_weight: float = 1.0, background_weight: float = 1.0) -> torch.Tensor:
    """Weighted mean absolute error. prediction, target: (B, 3, H, W); mask: (B, 1, H, W) in [0, 1] (object).

    Each pixel's |error| (mean over RGB) is weighted by object_weight on the object and background_weight
    elsewhere, then averaged over all pixels. Returns a scalar.
    """
    error = (prediction - target).abs().mean(1, keepdim=True)
    weights = background_weight + (object_weight - background_weight) * mask
    return (weights * error).mean()


def d_loss(real: torch.Tensor, fake: torch.Tensor, kind: str, smoothing: float = 0.0) -> torch.Tensor:
    """Discriminator loss from logits on real and generated images (any equal shapes).

    smoothing: one-sided label smoothing, the real target becomes 1 - smoothing (bce and lsgan; hinge ignores it).
    """
    if kind == "bce":
        return (F.binary_cross_entropy_with_logits(real, torch.full_like(real, 1 - smoothing))
                + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
    if kind == "lsgan":
        return ((real - (1 - smoothing)) ** 2).mean() + (fake ** 2).mean()
    if kind == "hinge":
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    raise ValueError(f"unknown GAN loss {kind!r}")


def g_loss(fake: torch.Tensor, kind: str) -> torch.Tensor:
    """Generator's adversarial loss from D's logits on its images."""
    if kind == "bce":  # non-saturating
        return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))
    if kind == "lsgan":
        return ((fake - 1) ** 2).mean()
    if kind == "hinge":
        return -fake.mean()
    raise ValueError(f"unknown GAN loss {kind!r}")


def accuracy(real: torch.Tensor, fake: torch.Tensor) -> tuple[float, float]:
    """D's accuracy on real (logit > 0) and on generated images (logit < 0)."""
    return (real > 0).float().mean().item(), (fake < 0).float().mean().item()
