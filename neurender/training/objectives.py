"""G's objectives, one class each and out of the training loop (as stylegan2-ada's training/loss.py keeps them):
built once from the [loss] settings, each is called with what it judges and returns its weighted loss and the
values it logs. The loop adds the terms of the step's phase and steps G once (``loop.Trainer``)."""

from __future__ import annotations

import torch
from torch import nn

from neurender.training import losses
from neurender.training.config import LossConfig

Term = tuple[torch.Tensor, dict[str, float]]  # (weighted loss, {log key: unweighted value})


class MaskedL1:
    """Whole frames: L1 against the reference, object and background pixels weighted apart (l1_object,
    l1_background; both x `factor`, the fine-tuning phase's L1 factor). fake, image (B, 3, R, R), mask (B, 1, R, R)."""

    def __init__(self, loss: LossConfig):
        self.object_weight, self.background_weight = loss.l1_object, loss.l1_background

    def __call__(self, fake: torch.Tensor, image: torch.Tensor, mask: torch.Tensor, factor: float = 1.0) -> Term:
        l1 = losses.masked_l1(fake, image, mask, self.object_weight * factor, self.background_weight * factor)
        return l1, {"g_l1": l1.item()}


class PixelL1:
    """Sampled pixels or crops: the coverage logits' cross-entropy against the mask (coverage_weight) plus the L1
    of the colour over object pixels (l1_object x `factor`). colour (B, P, 3), logit (B, P), target (B, P, 4)."""

    def __init__(self, loss: LossConfig):
        self.coverage_weight, self.object_weight = loss.coverage_weight, loss.l1_object

    def __call__(self, colour: torch.Tensor, logit: torch.Tensor, target: torch.Tensor, factor: float = 1.0) -> Term:
        coverage, l1 = losses.pixel_losses(colour, logit, target)
        loss = self.coverage_weight * coverage + self.object_weight * factor * l1
        return loss, {"g_l1": l1.item(), "g_coverage": coverage.item()}


class Adversarial:
    """D's verdict on G's images or crops: the GAN loss (gan: bce, lsgan, hinge, rpgan) x gan_weight, and D's
    accuracy on them. D passes gradients to G only: its own weight gradients (and their all-reduce) are skipped.
    fake, real (N, 3, S, S), params (N, 10), coords (N, 2, S, S) or None."""

    def __init__(self, loss: LossConfig, discriminator: nn.Module):
        self.kind, self.weight, self.d = loss.gan, loss.gan_weight, discriminator

    def __call__(self, fake: torch.Tensor, real: torch.Tensor, params: torch.Tensor,
                 coords: torch.Tensor | None) -> tuple[torch.Tensor, dict[str, float], float]:
        self.d.requires_grad_(False)
        logits = self.d(fake, params, coords)
        real_logits = self.d(real, params, coords).detach() if self.kind == "rpgan" else None
        self.d.requires_grad_(True)
        if self.kind == "rpgan":
            accuracy = losses.accuracy(real_logits, logits.detach(), self.kind)[1]
        else:
            accuracy = (logits.detach() < 0).float().mean().item()
        gan = losses.g_loss(logits, self.kind, real_logits)
        return self.weight * gan, {"g_gan": gan.item()}, accuracy


class Perceptual:
    """LPIPS between G's images and the references, x lpips_weight. fake, real (N, 3, S, S)."""

    def __init__(self, loss: LossConfig, net: nn.Module):
        self.weight, self.net = loss.lpips_weight, net

    def __call__(self, fake: torch.Tensor, real: torch.Tensor) -> Term:
        perceptual = self.net(fake.float(), real).mean()
        return self.weight * perceptual, {"g_lpips": perceptual.item()}
