"""The Phong sphere rasterizer: exact, batched, differentiable, and proportional to the pixels covered.

Each pixel samples the ray through its centre (``scene.ray_directions``) and is shaded as
``shared/spec/scene.md`` says: the nearest intersection in front of the camera, back faces culled (nothing is
drawn with the camera inside a sphere), the template's Phong equation with its ungated specular term. Work is
spent only inside each sphere's analytic screen-space bounding box, in chunks of a bounded number of pixels so
the intermediates stay in cache.

All shading happens in view space: the camera sits at the origin, so the view vector is minus the ray direction.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from neurender.scene import DEFAULT_CAMERA, LIGHT, SHININESS, TRANSLATION, Camera, ray_directions

AMBIENT = 0.03  # light ambient 0.1 x material ambient 0.3
CHUNK_PIXELS = 1 << 17  # pixels shaded per step: large enough to amortise dispatch, small enough for L2/L3


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
    box[empty] = torch.tensor([0, -1, 0, -1])
    return box


def _row_spans(centres: torch.Tensor, camera: Camera, resolution: int) -> tuple[torch.Tensor, ...]:
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
    sphere = torch.repeat_interleave(torch.arange(len(c)), heights)
    first_row = torch.cumsum(heights, 0) - heights
    row = boxes[sphere, 0] + torch.arange(len(sphere)) - first_row[sphere]
    col0, col1 = boxes[sphere, 2], boxes[sphere, 3]
    cx, cy, cz = c[sphere].unbind(1)
    exact = (cz + 1 <= -camera.near) & (1 - cz <= camera.far)
    y = (1 - (row + 0.5) / resolution * 2) * camera.tan_half_fov
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
    keep = col1 >= col0
    return sphere[keep], row[keep], col0[keep], col1[keep], exact[keep]


def _pixel_chunks(spans: tuple[torch.Tensor, ...], resolution: int
                  ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Enumerate the pixels of row spans, about CHUNK_PIXELS at a time.

    Yields (sphere, pixel, exact), each (P,): the sphere's index in the batch, the pixel's flat index
    row * resolution + col, and whether the pixel is known to be covered.
    """
    sphere, row, col0, col1, exact = spans
    lengths = col1 - col0 + 1
    ends = torch.cumsum(lengths, 0)
    start, n = 0, len(lengths)
    while start < n:
        before = int(ends[start - 1]) if start else 0
        stop = max(int(torch.searchsorted(ends, before + CHUNK_PIXELS, right=True)), start + 1)
        chunk = lengths[start:stop]
        total = int(ends[stop - 1]) - before
        local = torch.repeat_interleave(torch.arange(start, stop), chunk, output_size=total)
        # pixel = row * resolution + col0 + offset within the span, with offset = position - span start
        base = (row * resolution + col0 - (ends - lengths)).index_select(0, local)
        yield sphere.index_select(0, local), base + torch.arange(before, before + total), exact.index_select(0, local)
        start = stop


def _shade(scenes: torch.Tensor, sphere: torch.Tensor, pixel: torch.Tensor, exact: torch.Tensor,
           dirs: torch.Tensor, camera: Camera, with_colour: bool = True):
    """Shade pixels. scenes (13, B) from ``_sphere_table``, sphere, pixel, exact (P,) from ``_pixel_chunks``,
    dirs (3, H*W) unit rays.

    Returns (hit (P,) bool, [red, green, blue] (P,) each in [0, 1], meaningful where hit), or with
    ``with_colour=False`` only the hit mask.
    """
    def per_pixel(row: int) -> torch.Tensor:
        return scenes[row].index_select(0, sphere)

    tx, ty, tz = per_pixel(0), per_pixel(1), per_pixel(2)
    dx, dy, dz = (dirs[k].index_select(0, pixel) for k in range(3))
    b = dx * tx + dy * ty + dz * tz  # ray parameter of the point nearest the centre
    qx, qy, qz = tx - b * dx, ty - b * dy, tz - b * dz
    disc = 1 - (qx * qx + qy * qy + qz * qz)  # 1 - squared distance of the ray from the centre: stable
    root = disc.clamp(min=0).sqrt()
    t = b - root
    if exact.all():
        hit = exact
    else:
        depth = -t * dz
        tested = (disc >= 0) & (per_pixel(12) > 0) & (b > 0) & (depth >= camera.near) & (depth <= camera.far)
        hit = exact | tested
    if not with_colour:
        return hit
    # With P = t d, N = P - T, w = Lp - P and |d| = 1: N.d = t - b = -root, |w|^2 = |Lp|^2 - 2 t (Lp.d) + t^2,
    # N.w = t (Lp.d) - T.Lp - t^2 + t b. R = 2 (N.L) N - L and V = -d, so R.V = L.d + 2 root (N.L).
    l_dot_d = dx * per_pixel(7) + dy * per_pixel(8) + dz * per_pixel(9)
    inv_len = (per_pixel(10) - 2 * t * l_dot_d + t * t).rsqrt()
    n_dot_l = (t * (l_dot_d - t + b) - per_pixel(11)) * inv_len
    r_dot_v = (l_dot_d - t) * inv_len + 2 * root * n_dot_l
    ambient_specular = AMBIENT + r_dot_v.clamp(0, 1).pow(per_pixel(SHININESS))
    lambert = n_dot_l.clamp(0, 1)
    return hit, [(ambient_specular + lambert * per_pixel(k)).clamp_(0, 1) for k in (3, 4, 5)]


def _sphere_table(view: torch.Tensor) -> torch.Tensor:
    """Per-sphere constants, one row each for fast gathers. (B, 10) view-space scenes -> (13, B) float32: the
    ten columns, then |Lp|^2, T.Lp, and 1 where the camera is outside the sphere."""
    t, light = view[:, TRANSLATION], view[:, LIGHT]
    extra = torch.stack([(light * light).sum(1), (t * light).sum(1), ((t * t).sum(1) > 1).to(view.dtype)], dim=1)
    return torch.cat([view, extra], dim=1).T.to(torch.float32).contiguous()


def _prepare(params: torch.Tensor, camera: Camera, resolution: int):
    """The sphere table (13, B), the row spans, and the ray table (3, H*W)."""
    view = view_space_params(params.to(torch.float64), camera)
    spans = _row_spans(view[:, TRANSLATION], camera, resolution)
    return _sphere_table(view), spans, ray_directions(camera, resolution)


def _check(params: torch.Tensor, resolution: int) -> None:
    if params.ndim != 2 or params.shape[1] != 10:
        raise ValueError(f"params must have shape (B, 10), got {tuple(params.shape)}")
    if resolution < 1:
        raise ValueError(f"resolution must be positive, got {resolution}")


def render_spheres(params: torch.Tensor, resolution: int = 128, camera: Camera = DEFAULT_CAMERA,
                   supersample: int = 1) -> torch.Tensor:
    """Render scenes to linear RGBA. params (B, 10) world-space scenes -> (B, H, W, 4) float32, H = W =
    resolution, alpha = object mask. Differentiable with respect to params (inside the silhouette).

    supersample = s > 1 averages an s x s grid of samples per pixel (anti-aliased edges, fractional alpha);
    the template samples pixel centres only (s = 1).
    """
    _check(params, resolution)
    if supersample > 1:
        fine = render_spheres(params, resolution * supersample, camera)
        b = len(params)
        return fine.view(b, resolution, supersample, resolution, supersample, 4).mean(dim=(2, 4))
    view, spans, dirs = _prepare(params, camera, resolution)
    flat = torch.zeros(len(params) * resolution * resolution, 4, dtype=torch.float32)
    for sphere, pixel, exact in _pixel_chunks(spans, resolution):
        hit, colour = _shade(view, sphere, pixel, exact, dirs, camera)
        alpha = hit.to(torch.float32)
        rgba = torch.stack([c * alpha for c in colour] + [alpha], dim=1)
        flat = flat.index_put((sphere * resolution * resolution + pixel,), rgba)
    return flat.view(len(params), resolution, resolution, 4)


@torch.no_grad()
def render_spheres_uint8(params: torch.Tensor, resolution: int = 128, camera: Camera = DEFAULT_CAMERA,
                         supersample: int = 1, out: torch.Tensor | None = None) -> torch.Tensor:
    """Render scenes to 8-bit RGBA, round(255 * value). params (B, 10) -> (B, H, W, 4) uint8.

    ``out``, if given, is a (B, H, W, 4) uint8 tensor (e.g. a view of a memory-mapped file) written in place;
    reusing it avoids the page faults of a fresh allocation.
    """
    _check(params, resolution)
    shape = (len(params), resolution, resolution, 4)
    if out is None:
        out = torch.empty(shape, dtype=torch.uint8)
    elif tuple(out.shape) != shape or out.dtype != torch.uint8:
        raise ValueError(f"out must be uint8 of shape {shape}, got {out.dtype} {tuple(out.shape)}")
    if supersample > 1:
        out.copy_((render_spheres(params, resolution, camera, supersample) * 255 + 0.5).to(torch.uint8))
        return out
    out.zero_()
    view, spans, dirs = _prepare(params, camera, resolution)
    flat = out.view(-1, 4)
    for sphere, pixel, exact in _pixel_chunks(spans, resolution):
        hit, colour = _shade(view, sphere, pixel, exact, dirs, camera)
        rgba = torch.empty(len(pixel), 4, dtype=torch.uint8)
        for k, channel in enumerate(colour):
            rgba[:, k] = channel.mul_(255).add_(0.5)  # the uint8 cast truncates: round half up
        rgba[:, 3] = 255
        if not exact.all():
            rgba.mul_(hit[:, None])
        flat[sphere * resolution * resolution + pixel] = rgba
    return out


@torch.no_grad()
def covered_pixels(params: torch.Tensor, resolution: int = 128, camera: Camera = DEFAULT_CAMERA) -> torch.Tensor:
    """Number of pixels each sphere covers. params (B, 10) -> (B,) int64, exactly the rendered alpha > 0.

    Exact spans are counted by their length (work per row, not per pixel); the rest pixel by pixel.
    """
    _check(params, resolution)
    view, (sphere, row, col0, col1, exact), dirs = _prepare(params, camera, resolution)
    counts = torch.zeros(len(params), dtype=torch.int64)
    counts.index_add_(0, sphere[exact], (col1 - col0 + 1)[exact])
    tested = tuple(part[~exact] for part in (sphere, row, col0, col1, exact))
    for sphere, pixel, known in _pixel_chunks(tested, resolution):
        counts.index_add_(0, sphere, _shade(view, sphere, pixel, known, dirs, camera, with_colour=False).long())
    return counts
