"""A soft-silhouette Phong renderer for inversion: every pixel differentiable in every parameter.

``raster.render_spheres`` draws the exact template image, but its coverage is a step: a sphere's position
gets no gradient from its outline. Here each pixel's coverage is ``sigmoid(d / temperature)``, with ``d`` the
signed angular distance (in pixels) between the pixel's ray and the sphere's tangent cone, and each pixel is
shaded at the sphere point nearest its ray (the ray's hit inside the outline, the tangent point beyond it). At
temperature 0 coverage is the step ``d >= 0``, cut to the clipping depths: the image equals
``render_spheres``'s (``tests/inversion/test_fit.py``). Dense per pixel, so meant for a few images at a time.
"""

from __future__ import annotations

import torch

from neurender.footprint import view_space_params
from neurender.layout import DIFFUSE, LIGHT, SHININESS, TRANSLATION
from neurender.scene import AMBIENT, DEFAULT_CAMERA, Camera, ray_directions


def render_soft(params: torch.Tensor, temperature: float, resolution: int = 128,
                camera: Camera = DEFAULT_CAMERA) -> torch.Tensor:
    """World-space scenes (B, 10) -> (B, R, R, 4) linear RGBA in the dtype of params (alpha: soft coverage).

    temperature: the coverage's width in pixels (0: the exact step).
    """
    view = view_space_params(params, camera)
    c, light = view[:, TRANSLATION, None], view[:, LIGHT, None]  # (B, 3, 1)
    d = ray_directions(camera, resolution).to(params)[None]  # (1, 3, P) unit
    along = (c * d).sum(1)  # (B, P): depth of the point nearest the centre along the ray
    centre_distance = c.norm(dim=1)  # (B, 1)
    off_axis = (centre_distance ** 2 - along ** 2).clamp(min=1e-12).sqrt()  # ray's distance from the centre
    # angle between ray and centre direction vs the cone's half-angle, in pixels of the image centre
    ray_angle = torch.atan2(off_axis, along)
    cone = torch.asin((1 / centre_distance).clamp(max=1))
    signed = (cone - ray_angle) * resolution / (2 * camera.tan_half_fov)
    depth = along - (1 - off_axis ** 2).clamp(min=1e-12).sqrt()  # the hit, or the tangent point off the sphere
    z = depth * -d[:, 2]  # its view depth: hits outside the clipping depths are not drawn, as in raster
    visible = (centre_distance > 1) & (along > 0) & (z >= camera.near) & (z <= camera.far)
    if temperature > 0:
        alpha = torch.sigmoid(signed / temperature) * visible
    else:
        alpha = ((signed >= 0) & visible).to(params.dtype)
    point = depth[:, None] * d  # (B, 3, P)
    normal = torch.nn.functional.normalize(point - c, dim=1)
    to_light = torch.nn.functional.normalize(light - point, dim=1)
    n_dot_l = (normal * to_light).sum(1)
    reflected = 2 * n_dot_l[:, None] * normal - to_light
    r_dot_v = -(reflected * d).sum(1)
    specular = r_dot_v.clamp(1e-6, 1) ** view[:, SHININESS, None]
    colour = (AMBIENT + specular[:, None] + n_dot_l.clamp(0, 1)[:, None] * view[:, DIFFUSE, None]).clamp(0, 1)
    rgba = torch.cat([colour * alpha[:, None], alpha[:, None]], 1)
    return rgba.view(len(params), 4, resolution, resolution).permute(0, 2, 3, 1)
