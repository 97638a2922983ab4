"""The schedule as pure functions of images seen: the phase, the learning-rate factor, D's input noise and the
EMA decay. Nothing here keeps state, so a resumed run continues the same curves exactly.

The phases are data (``Phase``): one table built from the [schedule] settings says each phase's length, whether
D trains in it and the factors on the learning rates and the L1 weights; the loop and the objectives read it."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from neurender.errors import NeurenderError
from neurender.training.config import ScheduleConfig

PHASE_NAMES = ("warmup", "adversarial", "finetune")
PHASES = tuple(f"{name}_images" for name in PHASE_NAMES)  # their lengths' settings, which a resumed run may change


@dataclass(frozen=True)
class Phase:
    name: str  # one of PHASE_NAMES
    images: int  # its length
    adversarial: bool  # D trains, and G's objectives of this phase include D's verdict
    lr_factor: float  # on the configured learning rates (before any decay over the schedule)
    l1_factor: float  # on the L1 weights


def phases(s: ScheduleConfig) -> tuple[Phase, ...]:
    """The run's phases in order: G alone on L1 (warm-up), adversarial, fine-tuning at lower learning rates and
    heavier L1."""
    return (Phase("warmup", s.warmup_images, False, 1.0, 1.0),
            Phase("adversarial", s.adversarial_images, True, 1.0, 1.0),
            Phase("finetune", s.finetune_images, True, s.finetune_lr_factor, s.finetune_l1_factor))


def phase(s: ScheduleConfig, images: int) -> Phase:
    """The phase after `images` images seen (the last one once the schedule is over)."""
    end = 0
    for p in phases(s):
        end += p.images
        if images < end:
            return p
    return phases(s)[-1]


def lr_factor(s: ScheduleConfig, images: int) -> float:
    """What the configured learning rates are multiplied by: finetune_lr_factor in phase 3, times the half
    cosine from 1 to lr_final_factor over the whole schedule with lr_decay = "cosine"."""
    factor = phase(s, images).lr_factor
    if s.lr_decay == "cosine":
        done = min(1.0, images / max(1, s.total_images))
        factor *= s.lr_final_factor + (1 - s.lr_final_factor) * 0.5 * (1 + math.cos(math.pi * done))
    return factor


def d_noise(s: ScheduleConfig, images: int) -> float:
    """Std of the noise on D's inputs: d_noise_std when phase 2 starts, linearly to 0 over d_noise_images."""
    since = images - s.warmup_images
    return s.d_noise_std * (max(0.0, 1 - since / s.d_noise_images) if s.d_noise_images else 0.0)


def ema_beta(s: ScheduleConfig, images: int) -> float:
    """G_ema's decay per step. Ramp-up as in StyleGAN2-ADA: early on the half-life is at most 5% of the images
    seen, so G_ema does not stay close to the random initialisation for the first half-lives."""
    halflife = min(s.ema_halflife_images, 0.05 * images)
    return 0.5 ** (s.batch / halflife) if halflife > 0 else 0.0



def extended(s: ScheduleConfig, seen: int, lengths: dict[str, int]) -> ScheduleConfig:
    """The schedule with new phase lengths for a resumed run that has seen `seen` images.

    A phase may grow, or shrink to no less than what it has seen; a phase that is over (a later one has begun)
    keeps its length, since the images it covered are history. Raises NeurenderError otherwise.
    """
    lengths = {k: v for k, v in lengths.items() if v is not None}
    if set(lengths) - set(PHASES):
        others = ", ".join(sorted(set(lengths) - set(PHASES)))
        raise NeurenderError(f"only phase lengths can change on resume, not {others}")
    start, seen_in = 0, {}
    for name in PHASES:
        seen_in[name] = min(max(seen - start, 0), getattr(s, name))
        start += getattr(s, name)
    for k, name in enumerate(PHASES):
        new = lengths.get(name, getattr(s, name))
        later_begun = any(seen_in[later] > 0 for later in PHASES[k + 1:])
        option = "--" + name.replace("_", "-")
        if later_begun and new != getattr(s, name):
            raise NeurenderError(f"{option}: the {name.split('_')[0]} phase is over ({getattr(s, name)} images); "
                                 "only the phase in progress and later ones can change")
        if new < seen_in[name]:
            raise NeurenderError(f"{option} {new} is less than the {seen_in[name]} images this phase has seen")
    return replace(s, **lengths)
