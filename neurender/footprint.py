"""Where a unit sphere lands in the image, solved exactly: scenes in view space, the pixel box that holds every
pixel a sphere can cover, and each image row's span of covered pixels (float64). The rasterizer shades those spans
(``raster``); scene sampling measures coverage with the boxes (``sampling``)."""

from __future__ import annotations

import torch

from neurender.layout import LIGHT, TRANSLATION
from neurender.scene import DEFAULT_CAMERA, Camera


def view_space_params(params: torch.Tensor, camera: Camera = DEFAULT_CAMERA) -> torch.Tensor:
    """World-space scenes (B, 10) -> the same columns with sphere centre and light in view space (B, 10)."""
    out = params.clone()
    out[:, TRANSLATION] = camera.to_view(params[:, TRANSLATION])
    out[:, LIGHT] = camera.to_view(params[:, LIGHT])
    return out


def sphere_pixel_bounds(centres: torch.Tensor, camera: Camera, resolution: int) -> torch.Tensor:
    """Inclusive pixel box that holds every pixel a unit sphere can cover. (B, 3) view-space centres ->
    (B, 4) int64 (row0, row1, col0, col1); row1 < row0 means the sphere covers nothing.

    The box comes from the planes through the camera tangent to the sphere: along x they solve
    s^2 (cz^2 - 1) + 2 s cx cz + cx^2 - 1 = 0 for s = x / -z, and likewise along y. A sphere that reaches
    behind the camera plane is bounded through its bounding box cut to the visible depths; one with the camera
    inside, or wholly nearer than the near plane, covers nothing.
    """
    c = centres.detach().to(torch.float64)
    cx, cy, cz = c.unbind(1)
    a = cz * cz - 1
    in_front = cz < -1
    safe_a = torch.where(in_front, a, torch.ones_like(a))

    def ndc_range(u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        root = (u * u + cz * cz - 1).clamp(min=0).sqrt()
        lo, hi = (-u * cz - root) / safe_a, (-u * cz + root) / safe_a
        return lo / camera.tan_half_fov, hi / camera.tan_half_fov

    def straddling_range(u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Bound u / -z over the sphere's bounding box cut to depths [near, 1 - cz] (nearer is clipped).
        u_lo, u_hi, w_min, w_max = u - 1, u + 1, camera.near, 1 - cz
        lo = torch.where(u_lo >= 0, u_lo / w_max, u_lo / w_min)
        hi = torch.where(u_hi <= 0, u_hi / w_max, u_hi / w_min)
        return lo / camera.tan_half_fov, hi / camera.tan_half_fov

    (x_lo, x_hi), (y_lo, y_hi) = ndc_range(cx), ndc_range(cy)
    (sx_lo, sx_hi), (sy_lo, sy_hi) = straddling_range(cx), straddling_range(cy)
    outside = (c * c).sum(1) > 1
    straddles = outside & ~in_front & (cz < 1 - camera.near)
    x_lo, x_hi = torch.where(straddles, sx_lo, x_lo), torch.where(straddles, sx_hi, x_hi)
    y_lo, y_hi = torch.where(straddles, sy_lo, y_lo), torch.where(straddles, sy_hi, y_hi)
    # One pixel of margin each side absorbs float32 rounding in the per-pixel test, which has the last word.
    col0 = torch.ceil((x_lo + 1) / 2 * resolution - 0.5) - 1
    col1 = torch.floor((x_hi + 1) / 2 * resolution - 0.5) + 1
    row0 = torch.ceil((1 - y_hi) / 2 * resolution - 0.5) - 1
    row1 = torch.floor((1 - y_lo) / 2 * resolution - 0.5) + 1
    box = torch.stack([row0, row1, col0, col1], dim=1).clamp(0, resolution - 1).to(torch.int64)
    empty = ~(in_front & outside) & ~straddles
    empty |= (row0 > resolution - 1) | (row1 < 0) | (col0 > resolution - 1) | (col1 < 0)
    box[empty] = torch.tensor([0, -1, 0, -1], device=box.device)
    return box


def row_spans(centres: torch.Tensor, camera: Camera, resolution: int) -> tuple[torch.Tensor, ...]:
    """Per-row column spans of each sphere's pixels. (B, 3) view-space centres ->
    (sphere, row, col0, col1, exact), each (S,): inclusive spans; ``exact`` spans hold exactly the covered
    pixels, the others only bound them and leave the decision to the per-pixel test.

    A sphere wholly within the clipping depths is covered at pixel (i, j) iff the ray d = (X_j, Y_i, -1)
    passes within 1 of its centre c: (c.d)^2 >= (|c|^2 - 1) |d|^2, a quadratic in X_j per row, solved in
    float64. The rest (spheres cut by the near or far plane: rare) span their whole pixel box.
    """
    c = centres.detach().to(torch.float64)
    boxes = sphere_pixel_bounds(c, camera, resolution)
    heights = (boxes[:, 1] - boxes[:, 0] + 1).clamp(min=0)
    sphere = torch.repeat_interleave(torch.arange(len(c), device=c.device), heights)
    # span k of a sphere whose spans start at list position p lies on row box_row0 + k = (box_row0 - p) + position
    row_base = boxes[:, 0] - (torch.cumsum(heights, 0) - heights)
    row = row_base.index_select(0, sphere) + torch.arange(len(sphere), device=c.device)
    col0, col1 = boxes[:, 2].index_select(0, sphere), boxes[:, 3].index_select(0, sphere)
    cx, cy, cz = (c[:, k].index_select(0, sphere) for k in range(3))
    exact = (cz + 1 <= -camera.near) & (1 - cz <= camera.far)
    y = (1 - (row.to(torch.float64) + 0.5) / resolution * 2) * camera.tan_half_fov
    k = cx * cx + cy * cy + cz * cz - 1
    e = cy * y - cz
    a = cx * cx - k  # < 0 for a sphere in front of the camera
    b = cx * e
    disc = b * b - a * (e * e - k * (y * y + 1))
    root = disc.clamp(min=0).sqrt()
    x_lo, x_hi = (-b + root) / a, (-b - root) / a
    span0 = torch.ceil((x_lo / camera.tan_half_fov + 1) / 2 * resolution - 0.5).clamp(0, resolution)
    span1 = torch.floor((x_hi / camera.tan_half_fov + 1) / 2 * resolution - 0.5).clamp(-1, resolution - 1)
    span1 = torch.where(disc < 0, span0 - 1, span1)
    col0 = torch.where(exact, span0.to(torch.int64), col0)
    col1 = torch.where(exact, span1.to(torch.int64), col1)
    keep = (col1 >= col0).nonzero().squeeze(1)
    return tuple(t.index_select(0, keep) for t in (sphere, row, col0, col1, exact))
