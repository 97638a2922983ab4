"""The schedule as pure functions of images seen: the phase, the learning-rate factor, D's input noise and the
EMA decay. Nothing here keeps state, so a resumed run continues the same curves exactly."""

from __future__ import annotations

import math
from dataclasses import replace

from neurender.errors import NeurenderError
from neurender.training.config import ScheduleConfig


def phase(s: ScheduleConfig, images: int) -> str:
    """"warmup", "adversarial" or "finetune" after `images` images seen."""
    if images < s.warmup_images:
        return "warmup"
    return "adversarial" if images < s.warmup_images + s.adversarial_images else "finetune"


def lr_factor(s: ScheduleConfig, images: int) -> float:
    """What the configured learning rates are multiplied by: finetune_lr_factor in phase 3, times the half
    cosine from 1 to lr_final_factor over the whole schedule with lr_decay = "cosine"."""
    factor = s.finetune_lr_factor if phase(s, images) == "finetune" else 1.0
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


PHASES = ("warmup_images", "adversarial_images", "finetune_images")


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
