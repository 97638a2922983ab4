"""A generator defined outside neurender: the walked-through example of docs/generators.md.

With this folder on PYTHONPATH and the module listed in NEURENDER_PLUGINS (neurender imports no plug-in module
unasked: importing one runs its code):

    export PYTHONPATH=examples NEURENDER_PLUGINS=custom_generator
    neurender train --preset easy --arch custom_generator:TinyGenerator --warmup-images 256 \
        --adversarial-images 0 --out checkpoints/runs/tiny
    neurender render --checkpoint checkpoints/runs/tiny/renderer.pt --params-csv params.csv --out renders

The contract (docs/generators.md): built as ``TinyGenerator(resolution, **options)``, every option a keyword with
a default (``[model] options`` in a config sets them; the checkpoint stores them); ``forward(params)`` takes
(B, 10) encoded scenes (``neurender.scene.encode_params``) and returns (B, 3, R, R) RGB in [0, 1]. An optional
``param_norm`` (``neurender.models.blocks.ParamNorm``) is fitted by the trainer on the training scenes.
"""

from __future__ import annotations

import torch
from torch import nn

from neurender.models.blocks import ParamNorm, clamp_unit
from neurender.scene import pixel_centres_ndc


class TinyGenerator(nn.Module):
    """A per-pixel MLP: each pixel sees its own coordinates and the scene. (B, 10) -> (B, 3, R, R)."""

    def __init__(self, resolution: int, width: int = 32):
        super().__init__()
        self.resolution = resolution
        self.param_norm = ParamNorm()
        axis = pixel_centres_ndc(resolution).float()
        rows, columns = torch.meshgrid(-axis, axis, indexing="ij")  # NDC y up, x right
        self.register_buffer("coords", torch.stack([columns, rows], -1).view(-1, 2), persistent=False)  # (R*R, 2)
        self.mlp = nn.Sequential(nn.Linear(12, width), nn.SiLU(), nn.Linear(width, width), nn.SiLU(),
                                 nn.Linear(width, 3))

    def forward(self, params: torch.Tensor) -> torch.Tensor:
        b, pixels = params.shape[0], self.coords.shape[0]
        scene = self.param_norm(params)[:, None].expand(-1, pixels, -1)
        x = torch.cat([scene, self.coords[None].expand(b, -1, -1).to(scene.dtype)], dim=-1)
        rgb = self.mlp(x).transpose(1, 2).reshape(b, 3, self.resolution, self.resolution)
        return clamp_unit(rgb)
