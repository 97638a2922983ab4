"""The generators, by name. Input: (B, 10) normalised relative parameters (``scene.encode_params``); output:
(B, 3, R, R) RGB in [0, 1] (a linear output clamped, see ``blocks.clamp_unit``). Widths halve at each doubling
of resolution, from `width` channels at 4x4."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from neurender.models.blocks import N_PARAMS, CSPUp, FiLM, ParamNorm, ParamsToMap, clamp_unit, conv_block, norm_layer
from neurender.models.conv_field import conv_field
from neurender.models.field import field, phong_field
from neurender.scene import DEFAULT_CAMERA, ray_directions


def stage_channels(resolution: int, width: int, minimum: int = 16) -> list[int]:
    """Channels at 4x4, 8x8, ..., resolution: width, width/2, ..., never below `minimum`."""
    stages = int(math.log2(resolution // 4))
    if resolution < 8 or 4 * 2 ** stages != resolution:
        raise ValueError(f"resolution must be a power of two >= 8, got {resolution}")
    return [max(minimum, width >> i) for i in range(stages + 1)]


class _Upsampling(nn.Module):
    """MLP to a 4x4 map, a list of x2 stages, then a 3x3 convolution to RGB, clamped to [0, 1]."""

    def __init__(self, channels: list[int], stages: list[nn.Module]):
        super().__init__()
        self.param_norm = ParamNorm()
        self.start = ParamsToMap(channels[0])
        self.stages = nn.Sequential(*stages)
        self.to_rgb = nn.Conv2d(channels[-1], 3, 3, padding=1)

    def forward(self, params: torch.Tensor) -> torch.Tensor:
        return clamp_unit(self.to_rgb(self.stages(self.start(self.param_norm(params)))))


def upsample(resolution: int, width: int = 256, norm: str = "batch") -> nn.Module:
    """The report's baseline: nearest-neighbour upsampling + one 3x3 convolution per stage."""
    ch = stage_channels(resolution, width)
    return _Upsampling(ch, [nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), conv_block(a, b, norm))
                            for a, b in zip(ch, ch[1:])])


def deconv(resolution: int, width: int = 256, norm: str = "batch") -> nn.Module:
    """The report's model 2: transposed convolutions (kernel 4, stride 2) with normalisation."""
    ch = stage_channels(resolution, width)
    return _Upsampling(ch, [nn.Sequential(nn.ConvTranspose2d(a, b, 4, stride=2, padding=1, bias=norm == "none"),
                                          norm_layer(norm, b), nn.LeakyReLU(0.2, inplace=True))
                            for a, b in zip(ch, ch[1:])])


def hybrid(resolution: int, width: int = 256, norm: str = "batch") -> nn.Module:
    """The report's best: bilinear upsampling + two 3x3 convolutions per stage."""
    ch = stage_channels(resolution, width)
    return _Upsampling(ch, [nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                                          conv_block(a, b, norm), conv_block(b, b, norm))
                            for a, b in zip(ch, ch[1:])])


def cspup(resolution: int, width: int = 256, norm: str = "batch") -> nn.Module:
    """A stack of CSPup blocks (two other reports' generator)."""
    ch = stage_channels(resolution, width)
    return _Upsampling(ch, [CSPUp(a, b, norm) for a, b in zip(ch, ch[1:])])


class CoordGenerator(nn.Module):
    """Every pixel sees its own camera-ray direction and the scene: a per-pixel network (1x1 convolutions with
    FiLM from a parameter embedding) followed by two 3x3 convolutions that smooth across neighbours.

    The ray directions are the camera's (``scene.ray_directions``) in the same view space as the encoded
    sphere and light positions, so where the sphere lands is a function the network can represent directly.
    """

    def __init__(self, resolution: int, width: int = 32, depth: int = 3, embedding: int = 128,
                 frequencies: int = 4):
        super().__init__()
        self.param_norm = ParamNorm()
        rays = ray_directions(DEFAULT_CAMERA, resolution).view(3, resolution, resolution)
        bands = [rays] + [f(rays * math.pi * 2 ** k) for k in range(frequencies) for f in (torch.sin, torch.cos)]
        self.register_buffer("coords", torch.cat(bands)[None], persistent=False)
        self.embed = nn.Sequential(nn.Linear(N_PARAMS, embedding), nn.LeakyReLU(0.2, inplace=True),
                                   nn.Linear(embedding, embedding), nn.LeakyReLU(0.2, inplace=True))
        c_in = self.coords.shape[1] + N_PARAMS
        self.layers = nn.ModuleList(nn.Conv2d(c_in if i == 0 else width, width, 1) for i in range(depth))
        self.films = nn.ModuleList(FiLM(embedding, width) for _ in range(depth))
        self.smooth = nn.Sequential(nn.Conv2d(width, 16, 3, padding=1), nn.LeakyReLU(0.2, inplace=True),
                                    nn.Conv2d(16, 3, 3, padding=1))


    def forward(self, params: torch.Tensor) -> torch.Tensor:
        params = self.param_norm(params)
        b = params.shape[0]
        _, _, h, w = self.coords.shape
        x = torch.cat([self.coords.expand(b, -1, -1, -1), params[:, :, None, None].expand(-1, -1, h, w)], dim=1)
        e = self.embed(params)
        for layer, film in zip(self.layers, self.films):
            x = nn.functional.leaky_relu(film(layer(x), e), 0.2)
        return clamp_unit(self.smooth(x))


def coord(resolution: int, width: int = 32, norm: str = "none") -> nn.Module:
    """Coordinate-conditioned generator (norm is not used: FiLM carries the scene)."""
    return CoordGenerator(resolution, width)


GENERATORS = {"upsample": upsample, "deconv": deconv, "hybrid": hybrid, "cspup": cspup, "coord": coord, "field": field,
              "phong_field": phong_field, "conv_field": conv_field}
PIXEL_GENERATORS = ("field", "phong_field")  # those that can render a sample of pixels per scene (training on them)
CROP_GENERATORS = ("conv_field",)  # those that can render a window of the frame (training on crops)
# architectures with the same trunk and other output layers: init_from may start one from the other (the shared
# tensors load, the rest starts fresh)
SHARED_TRUNKS = ({"field", "phong_field", "conv_field"},)
DEFAULT_WIDTH = {"upsample": 256, "deconv": 256, "hybrid": 256, "cspup": 256, "coord": 32, "field": 64,
                 "phong_field": 64, "conv_field": 64}


@torch.no_grad()
def predict_images(generator: nn.Module, encoded: torch.Tensor, resolution: int, batch: int = 64,
                   device: str | torch.device = "cpu") -> np.ndarray:
    """A generator's images of encoded scenes in batches, without gradients: (N, 10) -> (N, R, R, 3) float32 in
    [0, 1] on the CPU, R = resolution."""
    out = [generator(encoded[s:s + batch].to(device)).float().permute(0, 2, 3, 1).cpu().numpy()
           for s in range(0, len(encoded), batch)]
    return np.concatenate(out) if out else np.zeros((0, resolution, resolution, 3), np.float32)


def build_generator(arch: str, resolution: int, width: int | None = None, norm: str = "batch") -> nn.Module:
    """A generator by registry name; width None takes the architecture's default."""
    if arch not in GENERATORS:
        raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(GENERATORS)}")
    return GENERATORS[arch](resolution, width or DEFAULT_WIDTH[arch], norm)
