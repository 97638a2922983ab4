"""A convolutional generator over the coordinate grid of a frame that follows the sphere.

The network is fully convolutional and its only inputs are the scene encoding and the pixels' fixed NDC
coordinates. Its first stage is the neural field's trunk (``field.FieldGenerator.trunk``): 1x1 convolutions over
the grid of frame coordinates ``q``, their squared length and Fourier features, FiLM-modulated by the scene
embedding, with a coverage logit and the Phong output layer. Its second stage is ``layers`` 3x3 convolutions
without padding over those features, each also seeing the coordinate channels (CoordConv) and modulated by FiLM,
whose last 1x1 convolution adds a correction to the coverage logit and to both Phong terms. It starts at 0, so
a fresh ``conv_field`` draws what the field with the same trunk draws.

The convolutions have no padding: an output pixel depends on the coordinates of the ``layers`` pixels around it,
which are defined outside the frame too. So the network renders any window of the image (``crop_outputs``) from
that window's coordinates plus a margin, and a window equals the same pixels of the whole frame: the trainer
trains it on crops around the silhouette and the highlights, and it renders whole frames at inference.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from neurender.models.blocks import FiLM, window_points
from neurender.models.field import INFERENCE_IMAGES, FieldGenerator, gated_image

# the correction's gain: Adam moves a weight by about the learning rate a step whatever its gradient, so x10 here
# lets the zero-started correction learn ten times as fast as the trunk it fine-tunes at a trunk's low rate
CORRECTION_GAIN = 10.0


class ConvFieldGenerator(FieldGenerator):
    """(B, 10) encoded scenes -> (B, 3, R, R) images; with ``origin`` (B, 2) and ``size`` S: colours (B, S*S, 3)
    and coverage logits (B, S*S) of the S x S windows whose top-left pixels (row, column) are ``origin``."""

    samples_pixels = False  # it renders windows, not single pixels
    renders_crops = True  # the trainer may train it on crops
    any_resolution = False  # its 3x3 convolutions read neighbours one pixel of the trained grid apart

    def __init__(self, resolution: int, width: int = 64, refine_width: int = 32, layers: int = 2,
                 embedding: int = 128, coverage_cap: float | None = None, freeze_trunk: bool = False):
        super().__init__(resolution, width, embedding=embedding, shading="phong", cut=True, coverage_cap=coverage_cap)
        self.requires_grad_(not freeze_trunk)  # the trunk's weights (those of the field) stay as loaded
        self.margin = layers  # pixels each 3x3 convolution without padding takes from a window's border
        coords = 3  # q and its squared length, beside the features at every layer
        self.refine = nn.ModuleList(nn.Conv2d((width if i == 0 else refine_width) + coords, refine_width, 3)
                                    for i in range(layers))
        self.refine_films = nn.ModuleList(FiLM(embedding, refine_width) for _ in range(layers))
        self.correction = nn.Conv2d(refine_width, 3, 1)  # coverage logit, diffuse factor, specular term
        nn.init.zeros_(self.correction.weight)
        nn.init.zeros_(self.correction.bias)

    def crop_outputs(self, params: torch.Tensor, origin: torch.Tensor, size: int
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """params (B, 10), origin (B, 2) int64, size S -> colour (B, S*S, 3), coverage logit (B, S*S)."""
        m, n = self.margin, size + 2 * self.margin
        trunk = self.trunk(params, window_points(origin, size, self.resolution, m))
        grid = torch.cat([trunk.x, trunk.q, trunk.r2], -1).view(len(params), n, n, -1).permute(0, 3, 1, 2)
        coords, h = grid[:, -3:], grid[:, :-3]
        for i, (conv, film) in enumerate(zip(self.refine, self.refine_films, strict=True)):
            h = F.silu(film(conv(torch.cat([h, coords[..., i:n - i, i:n - i]], 1)), trunk.e))
        correction = CORRECTION_GAIN * self.correction(h).flatten(2).transpose(1, 2)  # (B, S*S, 3)

        def inner(t: torch.Tensor) -> torch.Tensor:  # (B, n * n, C) -> the window's inner (B, size * size, C)
            return t.view(len(params), n, n, -1)[:, m:n - m, m:n - m].reshape(len(params), size * size, -1)

        logit = inner(trunk.logit[..., None])[..., 0] + correction[..., 0]
        return self.compose(params, inner(trunk.out) + correction[..., 1:]), logit

    def forward(self, params: torch.Tensor, origin: torch.Tensor | None = None, size: int | None = None):
        """(B, 10) -> (B, 3, R, R): ``field.gated_image`` of the whole frame. With origin (B, 2) and size:
        ``crop_outputs`` (through forward, so DDP sees the call)."""
        if origin is not None:
            return self.crop_outputs(params, origin, size)
        if not torch.is_grad_enabled() and len(params) > INFERENCE_IMAGES:
            return torch.cat([self(chunk) for chunk in params.split(INFERENCE_IMAGES)])
        r = self.resolution
        colour, logit = self.crop_outputs(params, torch.zeros(len(params), 2, dtype=torch.long,
                                                              device=params.device), r)
        return gated_image(colour, logit).view(-1, r, r, 3).permute(0, 3, 1, 2)


def conv_field(resolution: int, width: int = 64, refine_width: int = 32, layers: int = 2,
               embedding: int = 128, coverage_cap: float | None = None, freeze_trunk: bool = False
               ) -> ConvFieldGenerator:
    """The convolutional generator over the sphere's frame (FiLM carries the scene). ``coverage_cap``: the trunk's
    (``field.FieldGenerator``), for a trunk that was trained with it; the correction is not capped, so whole frames
    still evaluate every pixel. ``freeze_trunk``: train only the 3x3 stage and its correction (the trunk, loaded
    with ``init_from``, keeps its weights)."""
    return ConvFieldGenerator(resolution, width, refine_width, layers, embedding, coverage_cap, freeze_trunk)
