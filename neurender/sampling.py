"""Deterministic sampling of scenes from presets (``presets``).

A scene's parameters depend only on (seed, image index): candidate ``a`` of image ``i`` is drawn from
counter-based uniforms ``scene_uniforms(seed, i, a)``, and the image takes the first candidate that meets the
preset's constraints. So any subset of indices (a shard) samples exactly what a run over all indices does.

Constraints are measured on the rendered mask (``raster.covered_pixels``), never guessed:
- ``min_coverage`` / ``max_coverage``: the fraction of the frame the sphere covers, for non-empty images;
- ``max_empty_fraction``: images allowed to be entirely black. Image i may be empty only when
  floor((i + 1) f) > floor(i f), so at most floor(N f) of any N consecutive images are; those images keep their
  first candidate from the unrestricted distribution if it is empty (the template's own outcome).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from neurender.errors import NeurenderError
from neurender.footprint import sphere_pixel_bounds
from neurender.layout import DIFFUSE, N_PARAMS, TRANSLATION
from neurender.presets import MAX_SEED, Preset
from neurender.raster import covered_pixels
from neurender.scene import DEFAULT_CAMERA, Camera

MAX_ATTEMPTS = 20_000  # candidates per image before a preset is declared impossible
FIRST_ROUND = 2  # candidates per pending image in the first round; doubles each round
SAMPLE_CHUNK = 8192  # scenes drawn at once (about 21 KB of work each); more are drawn in chunks

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


MIXTURE_ATTEMPT = np.uint64(1 << 63)  # the counter that picks a mixture's component (no candidate reaches it)


def sample_mixture(mixture: list[tuple[Preset, float]], seed: int, indices: np.ndarray, resolution: int = 128,
                   camera: Camera = DEFAULT_CAMERA) -> np.ndarray:
    """``sample_scenes`` from a mixture: image i is drawn from the component that a counter-based uniform of
    (seed, i) picks by the shares, at its own index. (n,) int -> (n, 10) float64."""
    indices = np.asarray(indices, dtype=np.int64)
    if len(mixture) == 1:
        return sample_scenes(mixture[0][0], seed, indices, resolution, camera)
    u = scene_uniforms(seed, indices, np.full(len(indices), MIXTURE_ATTEMPT), slice(0, 1))[:, 0]
    which = np.searchsorted(np.cumsum([share for _, share in mixture])[:-1], u, side="right")
    result = np.empty((len(indices), N_PARAMS))
    for k, (preset, _) in enumerate(mixture):
        chosen = which == k
        if chosen.any():
            result[chosen] = sample_scenes(preset, seed, indices[chosen], resolution, camera)
    return result


def _mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a bijective avalanche mix of uint64 values."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def scene_uniforms(seed: int, index: np.ndarray, attempt: np.ndarray, columns: slice = slice(0, N_PARAMS)
                   ) -> np.ndarray:
    """Counter-based uniforms in [0, 1): (n,) image indices and attempts -> (n, N_PARAMS) float64, or only the
    parameter columns ``columns`` (the same values as those columns of the full draw).

    A pure function of (seed, index, attempt, column), so sampling needs no sequential generator state
    (NumPy's generators cannot be keyed per element without a per-image object, which is slow).
    """
    with np.errstate(over="ignore"):
        key = _mix64(np.array([seed], dtype=np.uint64) + _GOLDEN)
        h = _mix64(_mix64(index.astype(np.uint64) ^ key) + attempt.astype(np.uint64) * _GOLDEN)
        salts = np.arange(1, N_PARAMS + 1, dtype=np.uint64)[columns] * _GOLDEN
        bits = _mix64(h[:, None] + salts)
    return (bits >> np.uint64(11)).astype(np.float64) * 2.0**-53


def empty_allowed(indices: np.ndarray, fraction: float) -> np.ndarray:
    """(n,) image indices -> (n,) bool: may this image be entirely black?"""
    i = indices.astype(np.float64)
    return np.floor((i + 1) * fraction) > np.floor(i * fraction)


def coverage_radius(min_pixels: int, camera: Camera, resolution: int) -> float:
    """Distance from the camera beyond which no unit sphere covers ``min_pixels`` pixels.

    A sphere at distance d subtends a cone of half-angle asin(1 / d); its image is at most 2x the area of the
    same cone on the optical axis (the frame's corners magnify by 1 / cos^3 of their angle, 1.56 at fov 45),
    plus a pixel of outline each side.
    """
    if min_pixels <= 0:
        return math.inf
    pixels_radius = math.sqrt(min_pixels / (2 * math.pi)) - 2
    if pixels_radius <= 0:
        return math.inf
    tan_theta = pixels_radius * 2 * camera.tan_half_fov / resolution
    return math.sqrt(1 + 1 / tan_theta**2)


def _translation_proposal(preset: Preset, camera: Camera, resolution: int) -> np.ndarray:
    """(3, 2) box to draw sphere centres from: the preset's box cut to the cube around the camera outside of
    which the coverage constraint cannot hold. Uniform on it is the preset's distribution given the cut."""
    box = np.array(preset.translation, dtype=np.float64)
    radius = coverage_radius(math.ceil(preset.min_coverage * resolution**2), camera, resolution)
    if math.isfinite(radius):
        pos = np.array(camera.position)
        box = np.stack([np.maximum(box[:, 0], pos - radius), np.minimum(box[:, 1], pos + radius)], axis=1)
        if (box[:, 0] > box[:, 1]).any():
            raise NeurenderError(f"preset '{preset.name}': no sphere centre in its translation range can cover "
                                 f"{preset.min_coverage:.0%} of the frame")
    return box


def sample_scenes(preset: Preset, seed: int, indices: np.ndarray, resolution: int = 128,
                  camera: Camera = DEFAULT_CAMERA) -> np.ndarray:
    """Scenes for the given image indices. (n,) int -> (n, 10) float64 world-space parameters.

    Each scene depends only on (preset, seed, its index, resolution, camera), so they are drawn SAMPLE_CHUNK
    indices at a time: memory is bounded by the result. Arguments out of range are one NeurenderError."""
    if not isinstance(preset, Preset):
        raise NeurenderError(f"preset must be a Preset (PRESETS[name] or load_preset(path)), got {preset!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed <= MAX_SEED:
        raise NeurenderError(f"seed must be an integer from 0 to {MAX_SEED}, got {seed!r}")
    if isinstance(resolution, bool) or not isinstance(resolution, int | np.integer) or not 8 <= resolution <= 2048:
        raise NeurenderError(f"resolution must be an integer from 8 to 2048 px, got {resolution!r}")
    if not isinstance(camera, Camera):
        raise NeurenderError(f"camera must be a Camera, got {camera!r}")
    array = np.asarray(indices)
    if array.ndim != 1 or array.size and array.dtype.kind not in "iu":
        raise NeurenderError(f"indices must be a 1-d array of integers, got {array.dtype} of shape {array.shape}")
    if array.size and (array.min() < 0 or array.max() > MAX_SEED):
        raise NeurenderError(f"indices must be from 0 to {MAX_SEED}, got {array.min()} to {array.max()}")
    indices = array.astype(np.int64)
    if len(indices) <= SAMPLE_CHUNK:
        return _sample(preset, int(seed), indices, int(resolution), camera)
    return np.concatenate([_sample(preset, int(seed), indices[i:i + SAMPLE_CHUNK], int(resolution), camera)
                           for i in range(0, len(indices), SAMPLE_CHUNK)])


def _sample(preset: Preset, seed: int, indices: np.ndarray, resolution: int, camera: Camera) -> np.ndarray:
    """``sample_scenes`` of checked arguments: (n,) int64 -> (n, N_PARAMS) float64."""
    ranges = preset.ranges()
    full_box = ranges[TRANSLATION]
    proposal_box = _translation_proposal(preset, camera, resolution)
    frame = resolution * resolution
    min_pixels = max(1, math.ceil(preset.min_coverage * frame - 1e-9))
    max_pixels = math.floor(preset.max_coverage * frame + 1e-9)
    may_be_empty = empty_allowed(indices, preset.max_empty_fraction)
    result = np.empty((len(indices), N_PARAMS))
    pending = np.arange(len(indices))
    first, per_round = 0, FIRST_ROUND
    while pending.size:
        if first >= MAX_ATTEMPTS:
            raise NeurenderError(
                f"preset '{preset.name}': image {indices[pending[0]]} met no constraint (coverage "
                f"{preset.min_coverage:.0%}-{preset.max_coverage:.0%}) within {MAX_ATTEMPTS} tries")
        rows = np.repeat(pending, per_round)
        attempt = np.tile(np.arange(first, first + per_round), len(pending))
        # Coverage depends on the sphere centre only: draw the other parameters for accepted candidates alone.
        u = scene_uniforms(seed, indices[rows], attempt, TRANSLATION)
        free = may_be_empty[rows] & (attempt == 0)  # the one unrestricted draw an empty-allowed image gets
        box = np.where(free[:, None, None], full_box, proposal_box)
        centres = box[:, :, 0] + u * (box[:, :, 1] - box[:, :, 0])
        pixels = _covered_if_possible(centres, free, min_pixels, camera, resolution)
        accept = ((pixels >= min_pixels) & (pixels <= max_pixels)) | (free & (pixels == 0))
        accept = accept.reshape(len(pending), per_round)
        done = accept.any(axis=1)
        chosen = np.flatnonzero(done) * per_round + accept[done].argmax(axis=1)  # index into the round's rows
        rest = scene_uniforms(seed, indices[rows[chosen]], attempt[chosen], slice(DIFFUSE.start, N_PARAMS))
        result[pending[done], :3] = centres[chosen]
        result[pending[done], 3:] = ranges[3:, 0] + rest * (ranges[3:, 1] - ranges[3:, 0])
        pending = pending[~done]
        first += per_round
        per_round = min(per_round * 2, MAX_ATTEMPTS - first) if first < MAX_ATTEMPTS else per_round
    return result


def _covered_if_possible(centres: np.ndarray, exact: np.ndarray, min_pixels: int, camera: Camera,
                         resolution: int) -> np.ndarray:
    """Covered pixels per candidate sphere centre (n, 3) -> (n,) int64, counted only where the analytic box
    could hold ``min_pixels`` or ``exact`` asks for the count; -1 for the others."""
    params = torch.zeros(len(centres), N_PARAMS, dtype=torch.float64)  # coverage ignores colour and light
    params[:, TRANSLATION] = torch.from_numpy(centres)
    boxes = sphere_pixel_bounds(camera.to_view(params[:, TRANSLATION]), camera, resolution)
    area = (boxes[:, 1] - boxes[:, 0] + 1).clamp(min=0) * (boxes[:, 3] - boxes[:, 2] + 1).clamp(min=0)
    count = (area >= min_pixels).numpy() | exact
    pixels = np.full(len(centres), -1, dtype=np.int64)
    if count.any():
        pixels[count] = covered_pixels(params[count], resolution, camera).numpy()
    return pixels
