"""Gradient-descent inversion: the scene parameters whose rendering best matches a target image.

Several starts per image, seeded: the sphere's position from the target's covered pixels (their centroid and
area through the known camera; jittered after the first start), colour, shininess and light drawn from a
preset (colour stays in [0, 1], the exponent within the preset's range). Every start of every image is
optimised in one batch with Adam on the L1 image error plus the L1 error of the coverage against the target's
covered pixels (a sphere lit only by the ambient term is too dark for the image error alone to place it); the
start with the lowest final loss (through the exact coverage) is kept.

Backends render (N, 10) world-space scenes to RGB (N, R, R, 3) and coverage (N, R, R), differentiably:
- ``analytic``: ``inversion.soft.render_soft``, its coverage temperature annealed from ``temperature_start``
  pixels to 0 over the run (the ground truth for the method);
- ``neural``: a trained generator; a pixel generator's coverage logit is divided by a factor annealed from
  ``temperature_start`` to 1 (its trained sigmoid), and a field with a coverage cap evaluates only the pixels
  whose coverage can be more than negligible (``neural_backend``); other generators' coverage is their
  brightness over the ambient term's (0.03), clipped to 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from neurender.inversion.soft import render_soft
from neurender.layout import DIFFUSE, LIGHT, N_PARAMS, POSITION_LIMIT, SHININESS, TRANSLATION
from neurender.models.blocks import clamp_unit
from neurender.presets import Preset
from neurender.sampling import sample_scenes
from neurender.scene import AMBIENT, Camera, encode_params, pixel_centres_ndc

BACKENDS = ("analytic", "neural")
COVERED = 4 / 255  # a target pixel counts as covered above this (the template's darkest lit value is 0.03)
COVERAGE_WEIGHT = 0.1  # of the coverage error beside the image error
JITTER = 0.15  # relative jitter of the estimated camera distance for starts after the first
NEGLIGIBLE_LOGIT = 16.0  # the neural backend leaves out pixels whose coverage is below sigmoid(-16) = 1.1e-7


@dataclass(frozen=True)
class InversionConfig:
    starts: int = 4  # per image; the best is kept
    steps: int = 200
    seed: int = 0
    lr: float = 0.05  # Adam step of the position (world units) and colour / shininess logits; light: 4x
    temperature_start: float = 2.0  # analytic: coverage width in pixels; neural: coverage logit divisor

    def temperature(self, step: int, backend: str) -> float:
        """The coverage softness at ``step``: geometric from temperature_start down to 0.01 px (analytic,
        exact step on the last 10% of steps) or to 1 (neural)."""
        t = min(1.0, step / max(1, int(0.9 * self.steps)))
        end = 0.01 if backend == "analytic" else 1.0
        if backend == "analytic" and t >= 1:
            return 0.0
        return self.temperature_start * (end / self.temperature_start) ** t


Render = Callable[[torch.Tensor, float], tuple[torch.Tensor, torch.Tensor]]  # scenes, temperature -> rgb, coverage


def analytic_backend(resolution: int, camera: Camera) -> Render:
    def render(params: torch.Tensor, temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
        rgba = render_soft(params, temperature, resolution, camera)
        return rgba[..., :3], rgba[..., 3]
    return render


def neural_backend(generator: torch.nn.Module, resolution: int, camera: Camera, every_pixel: bool = False) -> Render:
    """A trained generator as a differentiable renderer. A pixel generator's coverage is sigmoid(logit / T), T
    the temperature (at least 1). A field with a coverage cap (universal.pt) evaluates only the pixels where that
    can exceed sigmoid(-NEGLIGIBLE_LOGIT), its ``pixel_groups`` with a margin of T x NEGLIGIBLE_LOGIT, and
    leaves the rest at exactly 0, so images, loss and gradients differ from evaluating every pixel by under 1.2e-7
    a pixel. every_pixel: evaluate them all anyway (the reference the tests and benchmarks/studies/inversion.py
    compare)."""
    generator.requires_grad_(False)  # the descent moves the scene, never the weights
    pixels = getattr(generator, "samples_pixels", False)
    coverable = (pixels and not every_pixel and hasattr(generator, "pixel_groups")  # a field, or a subclass
                 and getattr(generator, "coverage_cap", None) is not None)
    n = resolution * resolution

    def render(params: torch.Tensor, temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
        encoded = encode_params(params, camera)
        if not pixels:
            image = generator(encoded).permute(0, 2, 3, 1)
            return image, (image.amax(-1) / AMBIENT).clamp(max=1)
        t = max(temperature, 1.0)
        if not coverable:
            colour, logit = generator.pixel_outputs(encoded)
            coverage = torch.sigmoid(logit / t).view(-1, resolution, resolution)
            return clamp_unit(colour).view(-1, resolution, resolution, 3) * coverage[..., None], coverage
        frame = torch.zeros(len(params), n + 1, 4, device=encoded.device)  # the last slot: padding (pixel_groups)
        for scenes, chosen, slots in generator.pixel_groups(encoded, t * NEGLIGIBLE_LOGIT):
            colour, logit = generator.pixel_outputs(encoded[scenes], chosen)
            coverage = torch.sigmoid(logit / t)[..., None]
            frame[scenes[:, None], slots] = torch.cat([clamp_unit(colour) * coverage, coverage], -1)
        frame = frame[:, :n].view(-1, resolution, resolution, 4)
        return frame[..., :3], frame[..., 3]
    return render


def estimate_positions(targets: np.ndarray, camera: Camera) -> tuple[np.ndarray, np.ndarray]:
    """Sphere centres (world units) from the covered pixels of target images.

    targets (N, R, R, 3) float in [0, 1] -> centres (N, 3) float64 and whether each image shows a sphere (N,)
    bool. The centroid of the covered pixels gives the direction; their area the solid angle of the sphere,
    2 pi (1 - cos a) = area cos^3(theta) (area on the focal plane at distance 1, theta the direction's angle
    from the axis), hence its distance 1 / sin a.
    """
    n, r = targets.shape[:2]
    covered = targets.max(-1) > COVERED
    tan = camera.tan_half_fov
    ndc = pixel_centres_ndc(r).numpy()
    area = covered.sum((1, 2))
    safe = np.maximum(area, 1)
    x = (covered * ndc[None, None, :]).sum((1, 2)) / safe
    y = (covered * -ndc[None, :, None]).sum((1, 2)) / safe
    ray = np.stack([x * tan, y * tan, -np.ones(n)], 1)
    cos_theta = 1 / np.linalg.norm(ray, axis=1)
    solid_angle = safe * (2 * tan / r) ** 2 * cos_theta ** 3
    cos_a = np.clip(1 - solid_angle / (2 * math.pi), -1, 1 - 1e-9)
    distance = 1 / np.sqrt(1 - cos_a ** 2)
    view = ray * cos_theta[:, None] * distance[:, None]
    return view @ camera.rotation().numpy() + np.array(camera.position), area > 0


def starting_scenes(targets: np.ndarray, preset: Preset, config: InversionConfig, camera: Camera) -> np.ndarray:
    """(N, R, R, 3) targets -> (N, starts, 10) world-space starting scenes (see the module's docstring)."""
    n, s = len(targets), config.starts
    drawn = sample_scenes(preset, config.seed, np.arange(n * s), targets.shape[1]).reshape(n, s, N_PARAMS)
    centres, shown = estimate_positions(targets, camera)
    eye = np.array(camera.position)
    rng = np.random.default_rng(config.seed)
    scale = 1 + JITTER * rng.standard_normal((n, s, 1))
    scale[:, 0] = 1
    estimated = eye + (centres[:, None] - eye) * scale
    drawn[..., TRANSLATION] = np.where(shown[:, None, None], estimated, drawn[..., TRANSLATION])
    return drawn


def _logit(x: torch.Tensor) -> torch.Tensor:
    x = x.clamp(0.02, 0.98)
    return torch.log(x / (1 - x))


def _to_free(params: torch.Tensor, shininess: tuple[float, float]) -> list[torch.Tensor]:
    """(N, 10) scenes -> the unconstrained variables Adam moves: position, colour logits, shininess logit
    within the preset's range, light position."""
    lo, hi = shininess
    return [params[:, TRANSLATION].clone(), _logit(params[:, DIFFUSE]),
            _logit((params[:, SHININESS:SHININESS + 1] - lo) / (hi - lo)), params[:, LIGHT].clone()]


def _from_free(free: list[torch.Tensor], shininess: tuple[float, float]) -> torch.Tensor:
    """The scenes of the free variables, always renderable: positions clamped to +-POSITION_LIMIT (a step too
    large must not leave what the camera and ``render`` accept)."""
    position, colour, exponent, light = free
    lo, hi = shininess
    return torch.cat([position.clamp(-POSITION_LIMIT, POSITION_LIMIT), torch.sigmoid(colour),
                      lo + (hi - lo) * torch.sigmoid(exponent), light.clamp(-POSITION_LIMIT, POSITION_LIMIT)], 1)


def invert(targets: np.ndarray, render: Render, backend: str, preset: Preset, camera: Camera,
           config: InversionConfig, batch: int = 4, progress: Callable[[int], None] | None = None
           ) -> tuple[np.ndarray, np.ndarray]:
    """Recover scenes from target images.

    targets (N, R, R, 3) float in [0, 1] -> best scenes (N, 10) float64 world space and their final loss (N,)
    (image + weighted coverage L1), rendered through ``render`` at temperature 0 / 1. batch: images optimised
    together (each with all its starts). progress: called with the number of images finished.
    """
    starts = starting_scenes(targets, preset, config, camera)
    shininess = tuple(preset.shininess)  # the exponent stays within the preset's range
    best, errors = np.empty((len(targets), N_PARAMS)), np.empty(len(targets))
    for lo in range(0, len(targets), batch):
        hi = min(lo + batch, len(targets))
        target = torch.from_numpy(np.repeat(targets[lo:hi], config.starts, 0)).to(torch.float32)
        covered = (target.amax(-1) > COVERED).float()
        free = [t.float().requires_grad_(True)
                for t in _to_free(torch.from_numpy(starts[lo:hi].reshape(-1, N_PARAMS)), shininess)]
        optimiser = torch.optim.Adam([{"params": free[:3], "lr": config.lr},  # position, colour, shininess
                                      {"params": free[3:], "lr": 4 * config.lr}])  # light
        decay = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, config.steps, eta_min=0.1 * config.lr)
        for step in range(config.steps):
            image, coverage = render(_from_free(free, shininess), config.temperature(step, backend))
            loss = descent_loss(image, coverage, target, covered)
            optimiser.zero_grad()
            loss.sum().backward()
            optimiser.step()
            decay.step()
        with torch.no_grad():
            scenes = _from_free(free, shininess)
            final = descent_loss(*render(scenes, 0.0), target, covered).view(hi - lo, -1)
        pick = final.argmin(1)
        best[lo:hi] = scenes.view(hi - lo, config.starts, N_PARAMS)[torch.arange(hi - lo), pick].double().numpy()
        errors[lo:hi] = final[torch.arange(hi - lo), pick].numpy()
        if progress:
            progress(hi - lo)
    return best, errors


def descent_loss(image: torch.Tensor, coverage: torch.Tensor, target: torch.Tensor, covered: torch.Tensor
                 ) -> torch.Tensor:
    """image, target (N, R, R, 3); coverage, covered (N, R, R) -> (N,) L1 image error + COVERAGE_WEIGHT x L1
    coverage error."""
    return (image - target).abs().mean((1, 2, 3)) + COVERAGE_WEIGHT * (coverage - covered).abs().mean((1, 2))
