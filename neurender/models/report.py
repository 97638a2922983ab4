"""The course report's generators (upsample, deconv, hybrid, cspup, each also with coordinate channels) and the
per-pixel ``coord`` network. Input: (B, N_PARAMS) normalised relative parameters (``scene.encode_params``); output:
(B, 3, R, R) RGB in [0, 1] (a linear output clamped, see ``blocks.clamp_unit``). Widths halve at each doubling
of resolution, from `width` channels at 4x4. Registered by name in ``models.registry``."""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn

from neurender.layout import N_PARAMS
from neurender.models.blocks import (
    CSPUp,
    FiLM,
    ParamNorm,
    ParamsToMap,
    clamp_unit,
    conv_block,
    norm_layer,
    param_embedding,
)
from neurender.models.field import Q_LIMIT, R2_LIMIT
from neurender.models.projection import sphere_projection
from neurender.scene import AMBIENT, DEFAULT_CAMERA, encoded_diffuse, pixel_centres_ndc, ray_directions


def stage_channels(resolution: int, width: int, minimum: int = 16) -> list[int]:
    """Channels at 4x4, 8x8, ..., resolution: width, width/2, ..., never below `minimum`."""
    stages = int(math.log2(resolution // 4))
    if resolution < 8 or 4 * 2 ** stages != resolution:
        raise ValueError(f"resolution must be a power of two >= 8, got {resolution}")
    return [max(minimum, width >> i) for i in range(stages + 1)]


class AddCoords(nn.Module):
    """CoordConv's input: the pixel centres' coordinates as two more channels, (B, C, H, W) -> (B, C + 2, H, W),
    column and row each in (-1, 1), the same grid at every resolution (so a stage can place what it draws)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        rows = (torch.arange(h, device=x.device, dtype=x.dtype) + 0.5) * (2 / h) - 1
        cols = (torch.arange(w, device=x.device, dtype=x.dtype) + 0.5) * (2 / w) - 1
        grid = torch.stack(torch.meshgrid(cols, rows, indexing="xy"))  # (2, H, W): column, row
        return torch.cat([x, grid.expand(b, -1, -1, -1)], dim=1)


def add_sphere_frame(x: torch.Tensor, centre: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
    """A frame that follows the sphere, as three more channels: (B, C, H, W) -> (B, C + 3, H, W), each pixel
    centre's NDC coordinates p (x right, y up) relative to the projection of the sphere's centre in units of its
    apparent radius, ``q = (p - centre) / radius`` (clamped to +-Q_LIMIT), and ``|q|^2`` (clamped to R2_LIMIT).
    centre (B, 2) and radius (B, 1) are ``projection.sphere_projection``'s, fixed functions of the parameters: the
    field's frame before its learned corrections. The outline of a sphere near the optical axis is close to
    ``|q|^2 = 1``, the rest of the frame a perspective's stretch of it, which the convolutions learn."""
    b, _, h, w = x.shape
    cols = pixel_centres_ndc(w).to(x.device, x.dtype)
    rows = -pixel_centres_ndc(h).to(x.device, x.dtype)  # row 0 is the top: y up
    qx = ((cols[None, :] - centre[:, :1]) / radius)[:, None, None, :].expand(b, 1, h, w)  # (B, 1, H, W)
    qy = ((rows[None, :] - centre[:, 1:]) / radius)[:, None, :, None].expand(b, 1, h, w)
    r2 = (qx * qx + qy * qy).clamp(max=R2_LIMIT)
    return torch.cat([x, qx.clamp(-Q_LIMIT, Q_LIMIT), qy.clamp(-Q_LIMIT, Q_LIMIT), r2], dim=1)


def extra_channels(coords: bool, frame: bool) -> int:
    """Input channels a stage gets beyond the last one's output: 2 image coordinates, 3 of the sphere's frame."""
    return 2 * coords + 3 * frame


SHADINGS = ("free", "phong")  # what the last convolution's three channels are: RGB, or Phong's three terms
FILM_EMBEDDING = 128  # width of the parameter embedding that FiLM reads


class _Upsampling(nn.Module):
    """MLP to a 4x4 map, a list of x2 stages, then a 3x3 convolution to three channels, clamped to [0, 1]. With
    `coords`, every stage and the last convolution also see the pixel coordinates (``AddCoords``); with `frame`,
    the coordinates in a frame that follows the sphere (``add_sphere_frame``, before ``AddCoords``' two); the
    stages were built for those 2 and 3 more input channels.

    `shading`: "free" reads the three channels as RGB; "phong" reads them as an ambient weight w, a diffuse factor
    a and a specular term s and composes them the way the scene's shading does, ``AMBIENT w + kd a + s`` with kd
    the scene's diffuse colour (a decoding of the input), so the network draws one shading and the colour comes
    from the parameters. With `film`, each stage's output is modulated by an embedding of the parameters
    (``blocks.FiLM``, a no-op at the start), so a scene can scale what a stage draws where, coordinates included.
    Weights are kept channels-last (about 20% faster convolutions on the CPU)."""

    def __init__(self, channels: list[int], stages: list[nn.Module], coords: bool = False, shading: str = "free",
                 film: bool = False, frame: bool = False):
        super().__init__()
        if shading not in SHADINGS:
            raise ValueError(f"shading must be one of {', '.join(SHADINGS)}, got {shading!r}")
        extra = extra_channels(coords, frame)
        self.shading, self.film, self.frame = shading, film, frame
        self.param_norm = ParamNorm()
        self.start = ParamsToMap(channels[0])
        self.stages = nn.Sequential(*[nn.Sequential(AddCoords(), s) if coords else s for s in stages])
        self.to_rgb = nn.Sequential(AddCoords(), nn.Conv2d(channels[-1] + extra, 3, 3, padding=1)) if coords \
            else nn.Conv2d(channels[-1] + extra, 3, 3, padding=1)
        if film:
            self.embed = param_embedding(FILM_EMBEDDING)
            self.films = nn.ModuleList(FiLM(FILM_EMBEDDING, c) for c in channels[1:])
        self.to(memory_format=torch.channels_last)

    def forward(self, params: torch.Tensor) -> torch.Tensor:
        params_n = self.param_norm(params)
        x = self.start(params_n)
        sphere = sphere_projection(params, DEFAULT_CAMERA.tan_half_fov) if self.frame else None
        e = self.embed(params_n) if self.film else None
        for i, stage in enumerate(self.stages):
            x = stage(x if sphere is None else add_sphere_frame(x, *sphere))
            if e is not None:
                x = self.films[i](x, e)
        out = self.to_rgb(x if sphere is None else add_sphere_frame(x, *sphere))
        if self.shading == "phong":
            ambient, diffuse, specular = out.unsqueeze(2).unbind(1)  # each (B, 1, H, W)
            kd = encoded_diffuse(params)[:, :, None, None]  # (B, 3, 1, 1)
            out = AMBIENT * ambient + kd * diffuse + specular
        return clamp_unit(out)


def _upsample(resolution: int, width: int, norm: str, coords: bool, shading: str, film: bool,
             frame: bool) -> _Upsampling:
    """The report's baseline: nearest-neighbour upsampling + one 3x3 convolution per stage."""
    ch, extra = stage_channels(resolution, width), extra_channels(coords, frame)
    return _Upsampling(ch, [nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), conv_block(a + extra, b, norm))
                            for a, b in itertools.pairwise(ch)], coords, shading, film, frame)


def _deconv(resolution: int, width: int, norm: str, coords: bool, shading: str, film: bool,
           frame: bool) -> _Upsampling:
    """The report's model 2: transposed convolutions (kernel 4, stride 2) with normalisation."""
    ch, extra = stage_channels(resolution, width), extra_channels(coords, frame)
    return _Upsampling(ch, [nn.Sequential(nn.ConvTranspose2d(a + extra, b, 4, stride=2, padding=1, bias=norm == "none"),
                                          norm_layer(norm, b), nn.LeakyReLU(0.2, inplace=True))
                            for a, b in itertools.pairwise(ch)], coords, shading, film, frame)


def _hybrid(resolution: int, width: int, norm: str, coords: bool, shading: str, film: bool,
           frame: bool) -> _Upsampling:
    """The report's best: bilinear upsampling + two 3x3 convolutions per stage."""
    ch, extra = stage_channels(resolution, width), extra_channels(coords, frame)
    return _Upsampling(ch, [nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                                          conv_block(a + extra, b, norm), conv_block(b, b, norm))
                            for a, b in itertools.pairwise(ch)], coords, shading, film, frame)


def _cspup(resolution: int, width: int, norm: str, coords: bool, shading: str, film: bool,
          frame: bool) -> _Upsampling:
    """A stack of CSPup blocks (two other reports' generator)."""
    ch, extra = stage_channels(resolution, width), extra_channels(coords, frame)
    return _Upsampling(ch, [CSPUp(a + extra, b, norm) for a, b in itertools.pairwise(ch)], coords, shading, film, frame)


def _report(factory, coords: bool):
    """The report's generator as the report built it, or with CoordConv added (``AddCoords`` before every stage
    and the RGB convolution: the smallest change that lets a stage know where it draws)."""
    def build(resolution: int, width: int = 256, norm: str = "batch", shading: str = "free",
              film: bool = False, frame: bool = False) -> _Upsampling:
        return factory(resolution, width, norm, coords, shading, film, frame)
    build.__name__ = factory.__name__.removeprefix("_") + ("_coord" if coords else "")
    build.__doc__ = f"{factory.__doc__}{' With coordinate channels at every stage (CoordConv).' if coords else ''}"
    return build


upsample, upsample_coord = _report(_upsample, False), _report(_upsample, True)
deconv, deconv_coord = _report(_deconv, False), _report(_deconv, True)
hybrid, hybrid_coord = _report(_hybrid, False), _report(_hybrid, True)
cspup, cspup_coord = _report(_cspup, False), _report(_cspup, True)


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
        self.embed = param_embedding(embedding)
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
        for layer, film in zip(self.layers, self.films, strict=True):
            x = nn.functional.leaky_relu(film(layer(x), e), 0.2)
        return clamp_unit(self.smooth(x))


