"""Fixed functions of the scene parameters that the generators read beside them: where the sphere lands (the
projection of its centre and its apparent radius), the scene features, and the outline of the near plane's cut.
Functions of the ten parameters and the camera alone, never of the rasterizer's per-pixel output."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from neurender.layout import LIGHT, N_PARAMS, TRANSLATION
from neurender.scene import POSITION_SCALE

N_FEATURES = N_PARAMS + 10  # scene_features' columns
FRAME_LIMIT = 4.0  # projected centres are clamped to this many half-frames from the centre (NDC)
RADIUS_LIMIT = 8.0  # apparent radii are clamped to this (NDC half-frames)


def sphere_projection(encoded: torch.Tensor, tan_half_fov: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Where the sphere lands: (B, 10) ``encode_params`` output -> the projection of its centre ``u`` (B, 2) in NDC
    (x right, y up; clamped to +-FRAME_LIMIT) and its apparent radius ``rho = 1 / (sqrt(|c|^2 - 1) tan(fov / 2))``
    (B, 1), the tangent of its angular radius in NDC units (clamped to RADIUS_LIMIT). Fixed functions of the
    parameters alone."""
    c = encoded[:, TRANSLATION] * POSITION_SCALE
    depth = (-c[:, 2:3]).clamp(min=1e-3)
    u = (c[:, :2] / depth / tan_half_fov).clamp(-FRAME_LIMIT, FRAME_LIMIT)
    rho = (1 / ((c * c).sum(1, keepdim=True) - 1).clamp(min=1e-3).sqrt() / tan_half_fov).clamp(max=RADIUS_LIMIT)
    return u, rho


def scene_features(encoded: torch.Tensor, tan_half_fov: float) -> torch.Tensor:
    """Fixed functions of the scene parameters alone. (B, 10) ``encode_params`` output -> (B, 20) float32.

    Columns: the 10 encoded parameters; the projection of the sphere centre in NDC ``u`` (2) and log of the
    apparent radius ``rho`` (1), both from ``sphere_projection``; the unit direction from the sphere centre to the
    light (3) and to the camera (3); 1 if the sphere lies wholly in front of the camera, else 0 (1).
    """
    c, light = encoded[:, TRANSLATION] * POSITION_SCALE, encoded[:, LIGHT] * POSITION_SCALE
    u, rho = sphere_projection(encoded, tan_half_fov)
    in_front = (c[:, 2:3] < -1).float()
    return torch.cat([encoded, u, rho.log(), F.normalize(light - c, dim=1), F.normalize(-c, dim=1), in_front], 1)


def near_cut(encoded: torch.Tensor, tan_half_fov: float, near: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The near plane's cut through the sphere, projected. (B, 10) ``encode_params`` output -> centre (B, 2) in
    NDC and radius (B, 1) in NDC half-frames of the circle where the plane z = -near meets the sphere; radius 0
    where the plane misses the sphere."""
    c = encoded[:, TRANSLATION] * POSITION_SCALE
    radius = (1 - (c[:, 2:3] + near) ** 2).clamp(min=0).sqrt() / (near * tan_half_fov)
    return c[:, :2] / (near * tan_half_fov), radius
