"""The training registries, readable without torch (``neurender.registry``): GAN losses (``loss.gan``), objectives
(the built-ins that [loss] turns on, and ``[loss.objectives]`` entries) and balancing rules (``balance.rule``)."""

from __future__ import annotations

from neurender.registry import Registry

GAN_LOSSES = Registry("GAN loss", "loss.gan", "neurender.training.gan:GanLoss", "docs/gan.md", {
    "bce": "neurender.training.gan:NonSaturating",
    "lsgan": "neurender.training.gan:LeastSquares",
    "hinge": "neurender.training.gan:Hinge",
    "rpgan": "neurender.training.gan:PairedRelativistic",
})
OBJECTIVES = Registry("objective", "loss.objectives", "neurender.training.objectives:Objective", "docs/training.md", {
    "masked_l1": "neurender.training.objectives:MaskedL1",
    "pixel_l1": "neurender.training.objectives:PixelL1",
    "adversarial": "neurender.training.objectives:Adversarial",
    "perceptual": "neurender.training.objectives:Perceptual",
    "discriminator": "neurender.training.objectives:DiscriminatorLoss",
})
BALANCE_RULES = Registry("balancing rule", "balance.rule", "neurender.training.balance:BalanceRule", "docs/gan.md", {
    "adaptive": "neurender.training.balance:BalanceController",
})
