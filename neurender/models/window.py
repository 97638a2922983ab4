"""A convolutional decoder that draws the sphere in a window that follows it, placed on the frame by a fixed warp.

Spheres in the template's data cover a median 0.5% of the frame: a decoder that paints all 128 x 128 pixels
spends almost all of its work, and of its gradient, on black. ``WindowDecoder`` instead draws a small image (the
``window``, ``window`` x ``window`` pixels) by transposed convolutions from a 4x4 map, as the course report's
`deconv` does, but in the sphere's own frame: the window spans ``q`` in [-span, span]^2, where ``q`` is a pixel's
NDC position relative to the projection of the sphere's centre in units of its apparent radius (``field.
sphere_projection``: fixed functions of the ten parameters). Each output pixel of the frame then reads the window
at its own ``q`` (bilinear, ``grid_sample``), and is black outside it. The warp has no weights and uses nothing
per pixel but the pixel grid and the parameters; the outline, the shading and the perspective's stretch of the
disc (up to about 1.4x at the frame's corners) are all drawn by the decoder.

So a sphere of 5 pixels' radius is drawn with about 16 window pixels per radius, and the cost of a frame does not
depend on its resolution beyond the warp. Like the report's networks with ``shading="phong"``, the last
convolution's three channels are an ambient weight, a diffuse factor and a specular term, composed as the scene's
shading composes them with the scene's diffuse colour.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn

from neurender.layout import TRANSLATION
from neurender.models.blocks import FiLM, ParamNorm, ParamsToMap, clamp_unit, norm_layer, param_embedding
from neurender.models.projection import sphere_projection
from neurender.scene import AMBIENT, DEFAULT_CAMERA, encoded_diffuse, pixel_centres_ndc

WINDOW_CHANNELS = 3  # the window's coordinate channels: q_x, q_y and |q|^2


def window_grid(size: int, span: float) -> torch.Tensor:
    """The window's own coordinates: (3, size, size) float32, q_x (right), q_y (up) in (-span, span) at the pixel
    centres and |q|^2. Constant, since the window is the sphere's frame."""
    q = pixel_centres_ndc(size).float() * span
    qy, qx = torch.meshgrid(-q, q, indexing="ij")  # row 0 is the top: y up
    return torch.stack([qx, qy, qx * qx + qy * qy])


def place_window(window: torch.Tensor, centre: torch.Tensor, radius: torch.Tensor, span: float,
                 resolution: int) -> torch.Tensor:
    """The frame's pixels read from the window: (B, C, W, W) window images, centre (B, 2) and radius (B, 1) of
    ``sphere_projection`` -> (B, C, R, R), each pixel the window's bilinear value at its ``q / span``, 0 outside
    the window."""
    ndc = pixel_centres_ndc(resolution).to(window.device, window.dtype)
    gx = (ndc[None, :] - centre[:, :1]) / (radius * span)  # (B, R) columns
    gy = -(-ndc[None, :] - centre[:, 1:]) / (radius * span)  # (B, R) rows: pixel y is -ndc, window row 0 is +span
    b = len(window)
    grid = torch.stack([gx[:, None, :].expand(b, resolution, resolution),
                        gy[:, :, None].expand(b, resolution, resolution)], dim=-1)
    return F.grid_sample(window, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class WindowDecoder(nn.Module):
    """(B, 10) encoded scenes -> (B, 3, R, R) RGB in [0, 1]: transposed-convolution stages (kernel 4, stride 2,
    normalisation, LeakyReLU) from an MLP's 4x4 map up to a ``window`` x ``window`` image of the sphere in its own
    frame, each stage seeing the window's coordinates (CoordConv in the sphere's frame) and modulated by FiLM from a
    parameter embedding (a no-op at the start); a 3x3 convolution to Phong's three terms; the fixed warp
    ``place_window`` onto the frame. A sphere whose centre lies behind the camera
    (view-space ``c_z >= 0``; its projection is undefined) is black."""

    any_resolution = True  # the window does not depend on the frame's grid: built at any R, it draws R x R

    def __init__(self, resolution: int, window: int = 64, width: int = 256, norm: str = "batch", span: float = 2.0,
                 embedding: int = 128):
        super().__init__()
        stages = (window // 4).bit_length() - 1
        if window < 8 or 4 << stages != window:
            raise ValueError(f"window must be a power of two >= 8, got {window}")
        if not span > 1:
            raise ValueError(f"span must exceed 1 (the outline lies at |q| = 1), got {span}")
        channels = [max(16, width >> i) for i in range(stages + 1)]
        self.resolution, self.span = resolution, span
        self.param_norm = ParamNorm()
        self.start = ParamsToMap(channels[0])
        self.embed = param_embedding(embedding)
        self.stages = nn.ModuleList(
            nn.Sequential(nn.ConvTranspose2d(a + WINDOW_CHANNELS, b, 4, stride=2, padding=1, bias=norm == "none"),
                          norm_layer(norm, b), nn.LeakyReLU(0.2, inplace=True))
            for a, b in itertools.pairwise(channels))
        self.films = nn.ModuleList(FiLM(embedding, c) for c in channels[1:])
        self.to_terms = nn.Conv2d(channels[-1] + WINDOW_CHANNELS, 3, 3, padding=1)
        for size in [4 << i for i in range(stages + 1)]:
            self.register_buffer(f"grid{size}", window_grid(size, span)[None], persistent=False)

    def _with_grid(self, x: torch.Tensor) -> torch.Tensor:
        grid = getattr(self, f"grid{x.shape[-1]}").to(x.dtype)
        return torch.cat([x, grid.expand(len(x), -1, -1, -1)], dim=1)

    def draw_window(self, params: torch.Tensor) -> torch.Tensor:
        """The sphere in its frame: (B, 10) encoded scenes -> (B, 3, W, W) composed RGB, not yet clamped."""
        params_n = self.param_norm(params)
        e = self.embed(params_n)
        x = self.start(params_n)
        for stage, film in zip(self.stages, self.films, strict=True):
            x = film(stage(self._with_grid(x)), e)
        ambient, diffuse, specular = self.to_terms(self._with_grid(x)).unsqueeze(2).unbind(1)  # each (B, 1, W, W)
        kd = encoded_diffuse(params)[:, :, None, None]  # (B, 3, 1, 1)
        return AMBIENT * ambient + kd * diffuse + specular

    def forward(self, params: torch.Tensor) -> torch.Tensor:
        centre, radius = sphere_projection(params, DEFAULT_CAMERA.tan_half_fov)
        frame = place_window(self.draw_window(params), centre, radius, self.span, self.resolution)
        in_front = (params[:, TRANSLATION][:, 2] < 0).to(frame.dtype)[:, None, None, None]
        return clamp_unit(frame * in_front)


def window(resolution: int, window: int = 64, width: int = 256, norm: str = "batch", span: float = 2.0,
           embedding: int = 128) -> WindowDecoder:
    """The course's convolutional decoder in a window that follows the sphere (``WindowDecoder``)."""
    return WindowDecoder(resolution, window, width, norm, span, embedding)
