"""The Phong sphere rasterizer: exact, batched, differentiable, and proportional to the pixels covered.

Each pixel samples the ray through its centre (placed as ``scene.pixel_centres_ndc`` says) and is shaded as
``shared/spec/scene.md`` says: the nearest intersection in front of the camera, back faces culled (nothing is
drawn with the camera inside a sphere), the template's Phong equation with its ungated specular term.

Work is proportional to the pixels covered: each image row's span of sphere pixels is solved exactly in
float64 (``row_spans``), spans are padded to a few shared widths (``_group_widths``) and shaded as dense
(spans, width) grids with per-span constants broadcast along the row (``_span_table``, ``_shade``): no
per-pixel gathers, every quantity a low-degree polynomial in the column. Grids hold about CHUNK_PIXELS pixels
so the intermediates stay in cache; the uint8 path writes each row's window straight into the output.

All shading happens in view space: the camera sits at the origin, so the view vector is minus the ray direction.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from numpy.lib.stride_tricks import as_strided

from neurender.errors import NeurenderError
from neurender.footprint import row_spans, view_space_params
from neurender.layout import DIFFUSE, LIGHT, SHININESS, TRANSLATION
from neurender.scene import AMBIENT, DEFAULT_CAMERA, Camera, camera_problem, scenes_problem

CHUNK_PIXELS = 1 << 17  # pixels shaded per step: enough for torch to split across threads, few enough for L3
WIDTH_STEP = 4  # window widths are multiples of this many pixels
CALL_PIXELS = 1 << 16  # one more shading step costs about as much as shading this many pixels
DIFFUSE_ROW = 15  # where diffuse RGB sits among ``_span_table``'s rows
MAX_RENDER_SIDE = 16384  # pixels a side, supersampling included: the largest frame a render function draws


@dataclass(frozen=True)
class _Windows:
    """Row spans shaded together: each span padded to a window of ``width`` pixels within its image row.

    sphere (n,) batch index of each span's sphere; offset (n,) flat pixel index (image, row, column) of each
    window's first pixel; table (19, n) float32 per-span constants (``_span_table``); exact: whether the spans
    hold exactly the covered pixels (else each pixel is tested).
    """

    sphere: torch.Tensor
    offset: torch.Tensor
    table: torch.Tensor
    width: int
    exact: bool


def _group_widths(widths: torch.Tensor) -> list[tuple[int, int]]:
    """Merge sorted window widths into groups that share one width. widths (n,) sorted
    -> [(first span, last span + 1)], each group padded to the width of its last span.

    Padding costs pixels and every group costs shading calls; the split is the cheapest one (dynamic
    programming over the distinct widths): a narrow group earns its calls only where it saves many pixels.
    """
    values, counts = torch.unique_consecutive(widths, return_counts=True)
    values, ends = values.tolist(), torch.cumsum(counts, 0).tolist()
    best, cut = [0.0], []  # best[j]: cost of the first j distinct widths; cut[j - 1]: where the last group starts
    for j in range(1, len(values) + 1):
        options = []
        for i in range(j):
            spans = ends[j - 1] - (ends[i - 1] if i else 0)
            pixels = spans * values[j - 1]
            options.append((best[i] + pixels + CALL_PIXELS * math.ceil(pixels / CHUNK_PIXELS), i))
        cost, i = min(options)
        best.append(cost)
        cut.append(i)
    groups, j = [], len(values)
    while j:
        i = cut[j - 1]
        groups.append((ends[i - 1] if i else 0, ends[j - 1]))
        j = i
    return groups[::-1]


def _span_table(view: torch.Tensor, sphere: torch.Tensor, row: torch.Tensor, col0: torch.Tensor,
                col1: torch.Tensor, start: torch.Tensor, camera: Camera, resolution: int) -> torch.Tensor:
    """Per-span constants of the shading, so that every per-pixel quantity is a polynomial in one variable.
    view (B, 10) float64 view-space scenes; sphere, row, col0, col1, start (n,) -> (19, n) float32, one row
    per constant so that each broadcasts as a contiguous column.

    Pixel j of row i has the ray d = (x_j, y_i, -1), unnormalised. With c the sphere centre and l the light,
    |d|^2, c.d, l.d and the discriminant numerator D = (c.d)^2 - (|c|^2 - 1) |d|^2 are polynomials in x of
    degree <= 2. They are expanded around a reference x_r (the vertex of D, where D peaks, where that is
    within a half-frame of the span's centre, else the centre) in u = x - x_r, computed in float64: near the
    silhouette D is a small difference of large terms, and the expanded form keeps it accurate in float32.
    Rows, per span: u of the window's first pixel, the coefficients of D (u, 1), of |d|^2 (2 x_r, 1), c.d and
    l.d at u = 0, the span's first and last pixel within its window; per sphere: D's u^2 coefficient, c.d's and
    l.d's u coefficients (c_x, l_x), c.l, |l|^2, shininess, diffuse RGB (from row DIFFUSE_ROW), 1 if the camera
    is outside.
    """
    tan = camera.tan_half_fov
    c, light = view[:, TRANSLATION], view[:, LIGHT]
    k = (c * c).sum(1) - 1
    a2 = c[:, 0] * c[:, 0] - k
    per_sphere = torch.stack([a2, c[:, 0], light[:, 0], (c * light).sum(1), (light * light).sum(1),
                              view[:, SHININESS], *view[:, DIFFUSE].unbind(1), (k > 0).to(view.dtype)])
    cx, cy, cz, lx, ly, lz, k, a2 = (t.index_select(0, sphere) for t in (*c.unbind(1), *light.unbind(1), k, a2))
    row, col0, col1, start = (t.to(torch.float64) for t in (row, col0, col1, start))  # int + float is float32
    y = (1 - (row + 0.5) / resolution * 2) * tan
    c_dot_d0 = cy * y - cz  # c.d - cx x
    a1, a0 = 2 * cx * c_dot_d0, c_dot_d0 * c_dot_d0 - k * (y * y + 1)
    x_centre = ((col0 + col1 + 1) / resolution - 1) * tan
    vertex = -a1 / (2 * torch.where(a2 < 0, a2, -1.0))
    # The vertex lies in its span for spheres wholly past the near plane; one cut by it can have a2 ~ 0 and a
    # vertex far off, around which |d|^2 and D would lose every digit in float32: the centre serves there.
    x_r = torch.where((a2 < 0) & ((vertex - x_centre).abs() <= tan), vertex, x_centre)
    first_u = ((start + 0.5) * 2 / resolution - 1) * tan - x_r
    per_span = torch.stack([first_u, 2 * a2 * x_r + a1, (a2 * x_r + a1) * x_r + a0, 2 * x_r, x_r * x_r + y * y + 1,
                            cx * x_r + c_dot_d0, lx * x_r + ly * y - lz, col0 - start, col1 - start])
    return torch.cat([per_span.to(torch.float32), per_sphere.to(torch.float32).index_select(1, sphere)])


def _windows(view: torch.Tensor, spans: tuple[torch.Tensor, ...], camera: Camera, resolution: int
             ) -> Iterator[_Windows]:
    """Group row spans into padded windows, at most about CHUNK_PIXELS pixels per step.

    A window starts at its span's first pixel, moved left where it would overrun the row; padding pixels lie
    in the same image row, outside the sphere, and are shaded as background.
    """
    sphere, row, col0, col1, exact = spans
    need = ((col1 - col0 + WIDTH_STEP) // WIDTH_STEP * WIDTH_STEP).clamp(max=resolution)
    order = torch.argsort(need + (~exact) * (resolution + WIDTH_STEP), stable=True)  # exact first, by width
    sphere, row, col0, col1, exact, need = (t.index_select(0, order) for t in (sphere, row, col0, col1, exact, need))
    n_exact = int(exact.sum())
    groups = [(lo + first, hi + first) for first, last in ((0, n_exact), (n_exact, len(exact)))
              for lo, hi in _group_widths(need[first:last])]
    width = torch.empty_like(need)
    for lo, hi in groups:
        width[lo:hi] = need[hi - 1]
    start = torch.minimum(col0, resolution - width)
    table = _span_table(view, sphere, row, col0, col1, start, camera, resolution)
    offset = (sphere * resolution + row) * resolution + start
    for lo, hi in groups:
        w = int(width[lo])
        step = max(1, CHUNK_PIXELS // w)
        for a in range(lo, hi, step):
            chunk = slice(a, min(a + step, hi))
            yield _Windows(sphere[chunk], offset[chunk], table[:, chunk], w, a < n_exact)


def _shade(windows: _Windows, camera: Camera, resolution: int, with_colour: bool = True):
    """Shade the pixels of windows of shape (n, W).

    Returns hit (n, W) bool and, with ``with_colour``, (base, lambert) (n, W) float32: colour channel k is
    clamp(base + lambert * diffuse_k, 0, 1). The pixel's ray is d = (x, y, -1) with x = x_r + u; see
    ``_span_table`` for the names below.
    """
    (first_u, d1, d0, two_xr, dd0, cd0, ld0, lo, hi, d2, cx, lx, c_dot_l, l_dot_l, shininess, _, _, _,
     outside) = windows.table.unsqueeze(2).unbind(0)
    index = torch.arange(windows.width, dtype=torch.float32, device=windows.table.device)
    u = first_u + index * (2 * camera.tan_half_fov / resolution)
    disc = (d2 * u + d1) * u + d0  # (c.d)^2 - (|c|^2 - 1) |d|^2: the ray meets the sphere where >= 0
    root = disc.clamp(min=0).sqrt()
    c_dot_d = cx * u + cd0
    dd = (u + two_xr) * u + dd0  # |d|^2
    s = (c_dot_d - root) / dd  # the hit point is s d; its depth is s
    hit = (index >= lo) & (index <= hi)
    if not windows.exact:
        hit = hit & (disc >= 0) & (c_dot_d > 0) & (s >= camera.near) & (s <= camera.far) & (outside > 0)
    if not with_colour:
        return hit
    # With N = s d - c (unit), L = l - s d and N.d = -root: N.L = s (l.d + root) - c.l,
    # |L|^2 = |l|^2 - 2 s l.d + s^2 |d|^2, and with V = -d / |d|, R = 2 (N.L) N - L (L, R unit):
    # R.V = (2 root N.L + L.d) / |d|.
    l_dot_d = lx * u + ld0
    light_dot_d = l_dot_d - s * dd
    inv_len = (l_dot_l - s * (l_dot_d + light_dot_d)).rsqrt()
    n_dot_l = (s * (l_dot_d + root) - c_dot_l) * inv_len
    r_dot_v = (2 * root * n_dot_l + light_dot_d * inv_len) * dd.rsqrt()
    # r_dot_v ** shininess; below 1e-6 the term is < 1e-18, invisible next to the ambient 0.03, and log2 of 0
    # takes a slow path.
    specular = torch.exp2(shininess * r_dot_v.clamp(1e-6, 1).log2())
    return hit, AMBIENT + specular, n_dot_l.clamp(0, 1)


def _prepare(params: torch.Tensor, camera: Camera, resolution: int):
    """View-space scenes (B, 10) float64 and their row spans."""
    view = view_space_params(params.to(torch.float64), camera)
    return view, row_spans(view[:, TRANSLATION], camera, resolution)


def _check(params, resolution: int, camera: Camera, supersample: int = 1, scenes: bool = True) -> torch.Tensor:
    """The arguments of the render functions, checked as the command line checks them (one NeurenderError; with
    ``scenes`` False only params' shape, for coverage, which reads the positions alone); params as a tensor (a
    NumPy array is taken as one; integers as float64)."""
    if isinstance(params, np.ndarray):
        params = torch.from_numpy(params)
    if not isinstance(params, torch.Tensor):
        raise NeurenderError(f"params must be a tensor or NumPy array of shape (B, 10), got {type(params).__name__}")
    if not params.is_floating_point():
        params = params.to(torch.float64)
    problem = scenes_problem(params, values=scenes)
    if problem is not None:
        raise NeurenderError(problem)
    for name, value in (("resolution", resolution), ("supersample", supersample)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_RENDER_SIDE:
            raise NeurenderError(f"{name} must be an integer from 1 to {MAX_RENDER_SIDE}, got {value!r}")
    if resolution * supersample > MAX_RENDER_SIDE:
        raise NeurenderError(f"resolution x supersample must be at most {MAX_RENDER_SIDE}, got "
                             f"{resolution} x {supersample}")
    problem = camera_problem(dataclasses.asdict(camera)) if isinstance(camera, Camera) else "camera must be a Camera"
    if problem is not None:
        raise NeurenderError(problem)
    return params


def render_spheres(params: torch.Tensor, resolution: int = 128, camera: Camera = DEFAULT_CAMERA,
                   supersample: int = 1) -> torch.Tensor:
    """Render scenes to linear RGBA. params (B, 10) world-space scenes -> (B, H, W, 4) float32, H = W =
    resolution, alpha = object mask, on the device of ``params``. Differentiable with respect to params (inside
    the silhouette).

    supersample = s > 1 averages an s x s grid of samples per pixel (anti-aliased edges, fractional alpha);
    the template samples pixel centres only (s = 1).
    """
    params = _check(params, resolution, camera, supersample)
    if supersample > 1:
        fine = render_spheres(params, resolution * supersample, camera)
        b = len(params)
        return fine.view(b, resolution, supersample, resolution, supersample, 4).mean(dim=(2, 4))
    view, spans = _prepare(params, camera, resolution)
    flat = torch.zeros(len(params) * resolution * resolution, 4, dtype=torch.float32, device=params.device)
    for windows in _windows(view, spans, camera, resolution):
        hit, base, lambert = _shade(windows, camera, resolution)
        alpha = hit.to(torch.float32).unsqueeze(2)
        diffuse = windows.table[DIFFUSE_ROW:DIFFUSE_ROW + 3].T.unsqueeze(1)
        rgba = torch.cat([(base.unsqueeze(2) + lambert.unsqueeze(2) * diffuse).clamp(0, 1) * alpha, alpha], dim=2)
        pixels = windows.offset.unsqueeze(1) + torch.arange(windows.width, device=params.device)
        flat.index_put_((pixels.flatten(),), rgba.flatten(0, 1))  # windows never overlap
    return flat.view(len(params), resolution, resolution, 4)


@torch.no_grad()
def render_spheres_uint8(params: torch.Tensor, resolution: int = 128, camera: Camera = DEFAULT_CAMERA,
                         supersample: int = 1, out: torch.Tensor | None = None) -> torch.Tensor:
    """Render scenes to 8-bit RGBA, round(255 * value). params (B, 10) -> (B, H, W, 4) uint8, on the CPU
    (the output is written through NumPy; parameters on another device are copied over).

    ``out``, if given, is a (B, H, W, 4) uint8 tensor (e.g. a view of a memory-mapped file) written in place;
    reusing it avoids the page faults of a fresh allocation.
    """
    params = _check(params, resolution, camera, supersample).cpu()
    shape = (len(params), resolution, resolution, 4)
    if out is None:
        out = torch.empty(shape, dtype=torch.uint8)
    elif tuple(out.shape) != shape or out.dtype != torch.uint8:
        raise NeurenderError(f"out must be uint8 of shape {shape}, got {out.dtype} {tuple(out.shape)}")
    if supersample > 1:
        out.copy_((render_spheres(params, resolution, camera, supersample) * 255 + 0.5).to(torch.uint8))
        return out
    if not out.is_contiguous():
        raise NeurenderError("out must be contiguous")
    out.zero_()
    view, spans = _prepare(params, camera, resolution)
    words = out.numpy().view(np.int32).reshape(-1)  # one packed RGBA word per pixel
    for windows in _windows(view, spans, camera, resolution):
        hit, base, lambert = _shade(windows, camera, resolution)
        base.mul_(255).add_(0.5)  # round half up: floor(255 v + 0.5)
        lambert.mul_(255)
        diffuse = windows.table[DIFFUSE_ROW:DIFFUSE_ROW + 3, :, None]
        red, green, blue = (torch.addcmul(base, lambert, d).clamp_(max=255.5).floor_() for d in diffuse)
        # One little-endian RGBA word: R + 2^8 G + 2^16 B (exact in float32, < 2^24), then A = 255 (2^24 * 255
        # wraps to -2^24 in int32); zero off the sphere.
        word = red.add_(green, alpha=256).add_(blue, alpha=65536).to(torch.int32).sub_(1 << 24).mul_(hit)
        # Window i is words[offset[i]:offset[i] + W]: an overlapping strided view indexed by offset.
        window_view = as_strided(words, (len(words) - windows.width + 1, windows.width), (4, 4))
        window_view[windows.offset.numpy()] = word.numpy()
    return out


@torch.no_grad()
def covered_pixels(params: torch.Tensor, resolution: int = 128, camera: Camera = DEFAULT_CAMERA) -> torch.Tensor:
    """Number of pixels each sphere covers. params (B, 10) -> (B,) int64, exactly the rendered alpha > 0.

    Exact spans are counted by their length (work per row, not per pixel); the rest pixel by pixel.
    """
    params = _check(params, resolution, camera, scenes=False)
    view, (sphere, row, col0, col1, exact) = _prepare(params, camera, resolution)
    counts = torch.zeros(len(params), dtype=torch.int64, device=params.device)
    counts.index_add_(0, sphere, torch.where(exact, col1 - col0 + 1, 0))
    inexact = (~exact).nonzero().squeeze(1)
    tested = tuple(part.index_select(0, inexact) for part in (sphere, row, col0, col1, exact))
    for windows in _windows(view, tested, camera, resolution):
        hit = _shade(windows, camera, resolution, with_colour=False)
        counts.index_add_(0, windows.sphere, hit.sum(1))
    return counts
