"""The conditional discriminator: does this image belong to these scene parameters?"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from neurender.layout import N_PARAMS
from neurender.models.blocks import ParamNorm


class Discriminator(nn.Module):
    """(image (B, 3, R, R) in [0, 1], params (B, 10)) -> logits: (B,) or, with a PatchGAN head, (B, h, w).

    conditioning: "projection" (inner product of pooled features with an embedding of the parameters, Miyato &
    Koyama 2018) or "concat" (the parameters broadcast as 10 constant input maps). Strided 4x4 convolutions
    halve the resolution down to 8x8 (PatchGAN: the logits are that 8x8 map) or 4x4 (global head).
    coords: two more input maps, the NDC coordinates of the pixels it sees (crops: where in the frame they lie).
    noise_std: Gaussian noise added to its input images (set by the trainer, annealed to 0).
    """

    def __init__(self, resolution: int, width: int = 32, conditioning: str = "projection",
                 spectral: bool = True, dropout: float = 0.0, patch: bool = False, max_channels: int = 256,
                 coords: bool = False):
        super().__init__()
        if conditioning not in ("projection", "concat"):
            raise ValueError(f"conditioning must be 'projection' or 'concat', got {conditioning!r}")
        self.conditioning, self.patch = conditioning, patch
        self.noise_std = 0.0
        self.param_norm = ParamNorm()
        wrap = spectral_norm if spectral else (lambda m: m)
        self.coords = coords
        c_in = 3 + (N_PARAMS if conditioning == "concat" else 0) + (2 if coords else 0)
        layers, c, size = [], width, resolution
        end = 8 if patch else 4
        while size > end:
            layers += [wrap(nn.Conv2d(c_in, c, 4, stride=2, padding=1)), nn.LeakyReLU(0.2, inplace=True)]
            if dropout:
                layers.append(nn.Dropout2d(dropout))
            c_in, c, size = c, min(2 * c, max_channels), size // 2
        self.features = nn.Sequential(*layers)
        self.head = wrap(nn.Conv2d(c_in, 1, 3 if patch else 4, padding=1 if patch else 0))
        self.embed = wrap(nn.Linear(N_PARAMS, c_in)) if conditioning == "projection" else None

    def forward(self, image: torch.Tensor, params: torch.Tensor, coords: torch.Tensor | None = None) -> torch.Tensor:
        """image (B, 3, H, W), params (B, 10), coords (B, 2, H, W) NDC where built with ``coords``."""
        if self.coords != (coords is not None):
            raise ValueError("this discriminator takes coordinate maps" if self.coords else "no coordinate maps here")
        params = self.param_norm(params)
        x = image * 2 - 1
        if self.training and self.noise_std > 0:
            x = x + self.noise_std * torch.randn(x.shape, dtype=x.dtype, device=x.device)  # 8x faster than
            # randn_like on channels-last input
        if self.conditioning == "concat":
            x = torch.cat([x, params[:, :, None, None].expand(-1, -1, *x.shape[2:])], dim=1)
        if coords is not None:
            x = torch.cat([x, coords.to(x.dtype)], dim=1)
        h = self.features(x)
        logits = self.head(h)
        if self.embed is not None:  # projection: <embed(params), features> at every position of the head
            logits = logits + (self.embed(params)[:, :, None, None] * h).sum(1, keepdim=True) / h.shape[1] ** 0.5 \
                if self.patch else logits + (self.embed(params) * h.mean((2, 3))).sum(1, keepdim=True)[:, :, None, None]
        return logits[:, 0] if self.patch else logits.flatten()
