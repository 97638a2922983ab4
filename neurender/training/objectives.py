"""Objectives: the terms of G's and D's losses, one class each, out of the training loop (as stylegan2-ada's
training/loss.py keeps them), registered in ``training.registry.OBJECTIVES``.

The contract (``Objective``): a class that says which network's loss it adds to (``network``: "g" or "d") and in
which phases (``phases``, names from ``schedule.PHASE_NAMES``), built with its options read from its constructor's
signature (``build``), and called with what that network's step judges: for G, ``views.Rendered`` (G's frames,
pixels or crops and their references), for D, ``views.Pairs``. It returns a ``Term`` (its weighted loss and the
values it logs), or None where the step's view lacks what it judges (a whole-frame L1 on sampled pixels). The
loop sums the terms of a step in the order they were built and steps the network once.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from neurender.errors import NeurenderError
from neurender.training import losses
from neurender.training.config import LossConfig, check_options
from neurender.training.gan import GanLoss
from neurender.training.registry import OBJECTIVES
from neurender.training.schedule import PHASE_NAMES, Phase
from neurender.training.views import Pairs, Rendered


@dataclass
class Term:
    loss: torch.Tensor  # the weighted loss (a scalar)
    logged: dict[str, float] = field(default_factory=dict)  # {log key: unweighted value}, into the tick's means
    accuracy: tuple[float | None, float | None] | None = None  # D's on (real, fake) where the term measured it


class Objective:
    """One term of a network's loss. Subclasses set ``network`` and ``phases`` and implement ``__call__``; every
    constructor parameter is an option (see ``build`` for where its value comes from)."""

    network = "g"  # "g": added to G's loss, called with views.Rendered; "d": to D's, called with views.Pairs
    phases: tuple[str, ...] = PHASE_NAMES  # the phases it counts in

    def __call__(self, step, phase: Phase) -> Term | None:
        raise NotImplementedError


class MaskedL1(Objective):
    """Whole frames: L1 against the reference, object and background pixels weighted apart (l1_object,
    l1_background; both x the phase's L1 factor). Rendered.fake, real (B, 3, R, R), mask (B, 1, R, R)."""

    def __init__(self, l1_object: float, l1_background: float):
        self.object_weight, self.background_weight = l1_object, l1_background

    def __call__(self, step: Rendered, phase: Phase) -> Term | None:
        if step.mask is None:
            return None
        factor = phase.l1_factor
        l1 = losses.masked_l1(step.fake, step.real, step.mask, self.object_weight * factor,
                              self.background_weight * factor)
        return Term(l1, {"g_l1": l1.item()})


class PixelL1(Objective):
    """Sampled pixels or crops: the coverage logits' cross-entropy against the mask (coverage_weight) plus the L1
    of the colour over object pixels (l1_object x the phase's L1 factor). Rendered.colour (B, P, 3), logit (B, P),
    target (B, P, 4)."""

    def __init__(self, coverage_weight: float, l1_object: float):
        self.coverage_weight, self.object_weight = coverage_weight, l1_object

    def __call__(self, step: Rendered, phase: Phase) -> Term | None:
        if step.colour is None:
            return None
        coverage, l1 = losses.pixel_losses(step.colour, step.logit, step.target)
        loss = self.coverage_weight * coverage + self.object_weight * phase.l1_factor * l1
        return Term(loss, {"g_l1": l1.item(), "g_coverage": coverage.item()})


class Adversarial(Objective):
    """D's verdict on G's images or crops: the GAN loss x gan_weight, and D's accuracy on them. D passes gradients
    to G only: its own weight gradients (and their all-reduce) are skipped. Rendered.fake, real (N, 3, S, S),
    params (N, 10), coords (N, 2, S, S) or None."""

    phases = ("adversarial", "finetune")

    def __init__(self, gan_weight: float, gan_loss: GanLoss, discriminator: nn.Module):
        self.weight, self.gan, self.d = gan_weight, gan_loss, discriminator

    def __call__(self, step: Rendered, phase: Phase) -> Term | None:
        if step.fake is None:
            return None
        self.d.requires_grad_(False)
        logits = self.d(step.fake, step.params, step.coords)
        real_logits = self.d(step.real, step.params, step.coords).detach() if self.gan.paired else None
        self.d.requires_grad_(True)
        accuracy = self.gan.fake_accuracy(logits.detach(), real_logits)
        gan = self.gan.g_loss(logits, real_logits)
        return Term(self.weight * gan, {"g_gan": gan.item()}, (None, accuracy))


class Perceptual(Objective):
    """LPIPS between G's images (or crops) and the references, x lpips_weight. Rendered.fake, real (N, 3, S, S)."""

    def __init__(self, lpips_weight: float, lpips: nn.Module):
        self.weight, self.net = lpips_weight, lpips

    def __call__(self, step: Rendered, phase: Phase) -> Term | None:
        if step.fake is None:
            return None
        perceptual = self.net(step.fake.float(), step.real).mean()
        return Term(self.weight * perceptual, {"g_lpips": perceptual.item()})


class DiscriminatorLoss(Objective):
    """D's GAN loss on real and G's images (or crops) with label smoothing, and its accuracy on both."""

    network = "d"
    phases = ("adversarial", "finetune")

    def __init__(self, gan_loss: GanLoss, label_smoothing: float, discriminator: nn.Module):
        self.gan, self.smoothing, self.d = gan_loss, label_smoothing, discriminator

    def __call__(self, step: Pairs, phase: Phase) -> Term:
        real, fake = self.d(step.real, step.params, step.coords), self.d(step.fake, step.params, step.coords)
        loss = self.gan.d_loss(real, fake, self.smoothing)
        return Term(loss, {"d": loss.item()}, self.gan.accuracy(real.detach(), fake.detach()))


def objective_names(loss: LossConfig, adversarial: bool) -> list[str]:
    """The objectives a run builds, in the order their terms are summed: the L1 terms, D's verdict (with a D),
    LPIPS (lpips_weight > 0), then ``[loss.objectives]``, then D's loss (with a D)."""
    return ["masked_l1", "pixel_l1", *(["adversarial"] if adversarial else []),
            *(["perceptual"] if loss.lpips_weight > 0 else []), *loss.objectives,
            *(["discriminator"] if adversarial else [])]


def options(cls: type, given: dict, loss: LossConfig, run: dict[str, Callable[[], object]], name: str) -> dict:
    """The keyword arguments `cls` is built with, one per constructor parameter: from its ``[loss.objectives]``
    table (`given`), else the [loss] setting of that name, else the run's object of that name (`run`:
    ``discriminator``, ``gan_loss``, ``lpips``, ``device``; made when first asked for), else its default. A given option
    it does not take, or a parameter none of these fills, is a NeurenderError."""
    check_options(cls, given, f"loss.objectives.{name}", set())
    parameters = inspect.signature(cls).parameters
    kwargs = {}
    for key, parameter in parameters.items():
        if key in given:
            kwargs[key] = given[key]
        elif key in LossConfig.__dataclass_fields__:
            kwargs[key] = getattr(loss, key)
        elif key in run:
            kwargs[key] = run[key]()
        elif parameter.default is inspect.Parameter.empty:
            raise NeurenderError(f"objective {name} needs {key}: set it in [loss.objectives.\"{name}\"]")
    return kwargs


def build(loss: LossConfig, adversarial: bool, run: dict[str, Callable[[], object]]) -> list[Objective]:
    """The run's objectives (``objective_names``), each built with ``options``; a plug-in's phases must be names
    of phases and its network g or d."""
    built = []
    for name in objective_names(loss, adversarial):
        cls = OBJECTIVES.get(name)
        try:
            objective = cls(**options(cls, loss.objectives.get(name, {}), loss, run, name))
        except NeurenderError:
            raise
        except Exception as e:  # a plug-in's constructor: whatever it raises is one line
            raise NeurenderError(f"cannot build objective {name}: {type(e).__name__}: {e}") from None
        if objective.network not in ("g", "d") or not set(objective.phases) <= set(PHASE_NAMES):
            raise NeurenderError(f"objective {name}: network must be g or d and phases some of "
                                 f"{', '.join(PHASE_NAMES)}")
        built.append(objective)
    return built
