"""Views: what G and D train on, asked for by the loop. A view turns a batch (params (B, 10), images
(B, 3, R, R), masks (B, 1, R, R)) into what G's objectives judge (``Rendered``: whole frames, sampled pixels or
crops, drawn by G) and into what D compares (``Pairs``: real and G's images, or crops of both). ``choose``
picks them from the [sampling] settings: crops in every phase (``crop_size``), sampled pixels in phases without
D (``pixels_per_image``), whole frames otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from neurender.models.blocks import window_points
from neurender.models.field import gated_image
from neurender.training import losses
from neurender.training.config import SamplingConfig
from neurender.training.schedule import Phase

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # params (B, 10), image (B, 3, R, R), mask (B, 1, R, R)


@dataclass
class Rendered:
    """What G drew on one batch and what it is judged against; absent parts are None."""

    params: torch.Tensor  # (N, 10) the scenes (repeated per crop)
    fake: torch.Tensor | None = None  # (N, 3, S, S) G's images, or its gated crops
    real: torch.Tensor | None = None  # (N, 3, S, S) the references
    mask: torch.Tensor | None = None  # (N, 1, S, S) object masks of whole frames
    coords: torch.Tensor | None = None  # (N, 2, S, S) NDC of the crops' pixels (D's coordinate maps)
    colour: torch.Tensor | None = None  # (N, P, 3) G's colour at sampled pixels or crop pixels, row by row
    logit: torch.Tensor | None = None  # (N, P) G's coverage logits there
    target: torch.Tensor | None = None  # (N, P, 4) the references' RGBA there


@dataclass
class Pairs:
    """What D compares: real images and G's (None when only D's verdict on the real ones is wanted)."""

    real: torch.Tensor  # (N, 3, S, S)
    fake: torch.Tensor | None  # (N, 3, S, S)
    params: torch.Tensor  # (N, 10)
    coords: torch.Tensor | None  # (N, 2, S, S) for a crop discriminator, else None


def drawn_pixels(s: SamplingConfig, count: int, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """`count` pixels per scene drawn in the [sampling] shares (``losses.sample_pixels``): (B, count) int64."""
    return losses.sample_pixels(mask, count, s.silhouette_share, s.object_share, s.detail_share, image)


class View:
    def rendered(self, g: nn.Module, batch: Batch) -> Rendered:
        """G's output on the batch, with gradients, and its references."""
        raise NotImplementedError

    def pairs(self, g: nn.Module, batch: Batch, with_fake: bool = True) -> Pairs:
        """Real and G's images (without gradients) for D."""
        raise NotImplementedError


class Frames(View):
    def rendered(self, g, batch):
        params, image, mask = batch
        return Rendered(params, fake=g(params), real=image, mask=mask)

    def pairs(self, g, batch, with_fake=True):
        params, image, _ = batch
        fake = None
        if with_fake:
            with torch.no_grad():
                fake = g(params)
        return Pairs(image, fake, params, None)


class Pixels(View):
    """Sampled pixels of each scene (silhouette, object, detail and uniform pixels in the sampling shares, see
    ``losses.sample_pixels``); G's ``forward(params, pixels)``."""

    def __init__(self, s: SamplingConfig):
        self.s = s

    def rendered(self, g, batch):
        params, image, mask = batch
        pixels = drawn_pixels(self.s, self.s.pixels_per_image, image, mask)
        target = torch.cat([image, mask], 1).flatten(2).gather(2, pixels[:, None].expand(-1, 4, -1))
        colour, logit = g(params, pixels)
        return Rendered(params, colour=colour, logit=logit, target=target.transpose(1, 2))


class Crops(View):
    """Windows of ``crop_size`` pixels around pixels drawn per scene as the sampled-pixel shares say (silhouette,
    object, shading detail, anywhere), moved inside the frame, ``crops_per_image`` per scene; G's
    ``forward(params, origin, size)``, D's coordinate maps from the window's pixel centres."""

    def __init__(self, s: SamplingConfig, resolution: int):
        self.s, self.resolution = s, resolution

    def _windows(self, batch: Batch) -> tuple[Rendered, torch.Tensor]:
        """The crops' references and coordinates, and their top-left pixels (N, 2) int64."""
        params, image, mask = batch
        s, r, size = self.s, self.resolution, self.s.crop_size
        centre = drawn_pixels(s, s.crops_per_image, image, mask).flatten()
        scene = torch.arange(len(params), device=params.device).repeat_interleave(s.crops_per_image)
        origin = (torch.stack([centre // r, centre % r], 1) - size // 2).clamp(0, r - size)
        span = torch.arange(size, device=params.device)
        rows, cols = origin[:, :1] + span, origin[:, 1:] + span  # (N, S) each
        rgba = torch.cat([image, mask], 1)
        target = rgba[scene[:, None, None], :, rows[:, :, None], cols[:, None, :]].reshape(len(scene), size * size, 4)
        coords = window_points(origin, size, r).view(-1, size, size, 2).permute(0, 3, 1, 2)
        real = target[..., :3].transpose(1, 2).reshape(-1, 3, size, size)
        return Rendered(params[scene], real=real, coords=coords, target=target), origin

    def _draw(self, g: nn.Module, windows: Rendered, origin: torch.Tensor) -> Rendered:
        size = self.s.crop_size
        windows.colour, windows.logit = g(windows.params, origin, size)
        windows.fake = gated_image(windows.colour, windows.logit).transpose(1, 2).reshape(-1, 3, size, size)
        return windows

    def rendered(self, g, batch):
        return self._draw(g, *self._windows(batch))

    def pairs(self, g, batch, with_fake=True):
        windows, origin = self._windows(batch)
        if with_fake:
            with torch.no_grad():
                self._draw(g, windows, origin)
        return Pairs(windows.real, windows.fake, windows.params, windows.coords)


@dataclass(frozen=True)
class Views:
    """G's view in phases without D and with D, and D's."""

    warmup: View
    adversarial: View
    discriminator: View

    def for_g(self, phase: Phase) -> View:
        return self.adversarial if phase.adversarial else self.warmup


def choose(s: SamplingConfig, resolution: int) -> Views:
    if s.crop_size:
        crops = Crops(s, resolution)
        return Views(crops, crops, crops)
    frames = Frames()
    return Views(Pixels(s) if s.pixels_per_image else frames, frames, frames)
