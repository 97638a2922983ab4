"""The scene: the template's camera, the encoding the networks see, and which scenes can be rendered.

One scene is ten numbers in the course template's order (``layout.PARAM_NAMES``): sphere centre (world units),
diffuse RGB in [0, 1], Phong shininess, point-light position (world units). See ``shared/spec/scene.md``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import lru_cache

import torch

from neurender.layout import (
    DIFFUSE,
    LIGHT,
    N_PARAMS,
    PARAM_NAMES,
    POSITION_LIMIT,
    SHININESS,
    SHININESS_LIMIT,
    TRANSLATION,
)

AMBIENT = 0.03  # the shading's ambient term: light ambient 0.1 x material ambient 0.3

# The encoding divides view-space positions by this (world units): the default preset's positions relative to
# the camera lie within about +-2 after it. Fixed, not per preset, so a renderer fine-tuned on another preset
# sees the same input space.
POSITION_SCALE = 20.0
SHININESS_CENTRE, SHININESS_HALF_RANGE = 11.5, 8.5  # maps the template's U(3, 20) onto [-1, 1]


@dataclass(frozen=True)
class Camera:
    """The template's perspective camera (right-handed, y up)."""

    position: tuple[float, float, float] = (5.0, 5.0, 15.0)  # world units
    target: tuple[float, float, float] = (0.0, 0.0, 0.0)  # the point it looks at
    up: tuple[float, float, float] = (0.0, 1.0, 0.0)  # world up
    fov_y_deg: float = 45.0  # vertical field of view; the aspect is 1
    near: float = 0.1  # clipping planes, view-space depth in world units
    far: float = 1000.0

    def rotation(self, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """World-to-view rotation, rows = camera right, up, backward. Shape (3, 3)."""
        pos, target, up = (torch.tensor(v, dtype=torch.float64) for v in (self.position, self.target, self.up))
        forward = torch.nn.functional.normalize(target - pos, dim=0)
        right = torch.nn.functional.normalize(torch.linalg.cross(forward, up), dim=0)
        true_up = torch.linalg.cross(right, forward)
        return torch.stack([right, true_up, -forward]).to(dtype)

    def to_view(self, points: torch.Tensor) -> torch.Tensor:
        """World points (..., 3) -> view space (..., 3): camera at the origin, looking down -z."""
        pos = torch.tensor(self.position, dtype=points.dtype, device=points.device)
        return (points - pos) @ self.rotation(points.dtype).to(points.device).T

    @classmethod
    def from_dict(cls, data: dict) -> Camera:
        """The camera a dataset's meta.json or a checkpoint records (lists for tuples, as JSON has them)."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})

    @property
    def tan_half_fov(self) -> float:
        return math.tan(math.radians(self.fov_y_deg) / 2)


DEFAULT_CAMERA = Camera()


def pixel_centres_ndc(resolution: int) -> torch.Tensor:
    """NDC coordinate of each pixel centre along one axis, float64 (resolution,).

    Columns map left to right (ndc_x = (j + 0.5) / W * 2 - 1); rows top to bottom use the negation
    (ndc_y = 1 - (i + 0.5) / H * 2), since row 0 is the top of the image.
    """
    return (torch.arange(resolution, dtype=torch.float64) + 0.5) / resolution * 2 - 1


@lru_cache(maxsize=16)
def ray_directions(camera: Camera, resolution: int) -> torch.Tensor:
    """Unit view-space ray direction through each pixel centre, float32 (3, resolution * resolution).

    Pixel (i, j) is column i * resolution + j. Stored component-major so each component is contiguous.
    """
    ndc = pixel_centres_ndc(resolution) * camera.tan_half_fov
    y, x = torch.meshgrid(-ndc, ndc, indexing="ij")
    d = torch.stack([x, y, -torch.ones_like(x)]).reshape(3, -1)
    return (d / d.norm(dim=0)).to(torch.float32).contiguous()


def encode_params(params: torch.Tensor, camera: Camera = DEFAULT_CAMERA) -> torch.Tensor:
    """The relative, normalised network input. (B, 10) scene parameters -> (B, 10) float32.

    Columns: sphere centre in view space / POSITION_SCALE (3), diffuse * 2 - 1 (3),
    (shininess - 11.5) / 8.5 (1), light position in view space / POSITION_SCALE (3). View space is the
    camera's frame (x right, y up, z towards the viewer), so the input says where the sphere and light are
    as the camera sees them.
    """
    p = params.to(torch.float64)
    return torch.cat(
        [
            camera.to_view(p[:, TRANSLATION]) / POSITION_SCALE,
            p[:, DIFFUSE] * 2 - 1,
            ((p[:, SHININESS] - SHININESS_CENTRE) / SHININESS_HALF_RANGE)[:, None],
            camera.to_view(p[:, LIGHT]) / POSITION_SCALE,
        ],
        dim=1,
    ).to(torch.float32)


def encoded_diffuse(encoded: torch.Tensor) -> torch.Tensor:
    """The diffuse colour in [0, 1] back from ``encode_params``' columns: (B, 10) -> (B, 3)."""
    return (encoded[:, DIFFUSE] + 1) / 2




def camera_problem(data) -> str | None:
    """Why a recorded camera (``Camera`` fields as JSON holds them) is not one the renderer can use, or None."""
    if not isinstance(data, dict) or set(data) - {f.name for f in dataclasses.fields(Camera)}:
        return "camera must be a table of Camera's settings"

    def finite(v) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)

    for name in ("position", "target", "up"):
        if name in data and not (isinstance(data[name], list | tuple) and len(data[name]) == 3
                                 and all(finite(v) for v in data[name])):
            return f"camera {name} must be three finite numbers"
    camera = Camera.from_dict(data)
    if not all(finite(v) for v in (camera.fov_y_deg, camera.near, camera.far)):
        return "camera fov_y_deg, near and far must be finite numbers"
    if not 0 < camera.fov_y_deg < 180 or not 0 < camera.near < camera.far:
        return "camera needs 0 < fov_y_deg < 180 and 0 < near < far"
    if camera.position == camera.target:
        return "camera position and target must differ"
    return None


def scene_problem(row: list[float]) -> str | None:
    """Why one scene (10 numbers, ``PARAM_NAMES`` order) cannot be rendered as the template would, or None.

    Every value must be finite; positions within +-POSITION_LIMIT; diffuse within [0, 1]; shininess in
    (0, SHININESS_LIMIT].
    """
    if not all(math.isfinite(v) for v in row):
        return "a value is not finite"
    for name, v in zip(PARAM_NAMES, row, strict=True):
        if name in ("r", "g", "b") and not 0 <= v <= 1:
            return f"diffuse {name} = {v!r} is outside [0, 1]"
        if name == "shininess" and not 0 < v <= SHININESS_LIMIT:
            return f"shininess = {v!r} is outside (0, {SHININESS_LIMIT:g}]"
        if name[0] in "tl" and abs(v) > POSITION_LIMIT:
            return f"position {name} = {v!r} is beyond +-{POSITION_LIMIT:g} world units"
    return None


def scenes_problem(params: torch.Tensor, values: bool = True) -> str | None:
    """Why a batch of scenes, params (B, 10) in ``PARAM_NAMES`` order, cannot be rendered, or None: its shape, else
    (with ``values``) the first scene that ``scene_problem`` refuses (checked at once for the whole batch, on its
    device)."""
    if params.ndim != 2 or params.shape[1] != N_PARAMS:
        return (f"params must have shape (N, {N_PARAMS}), one row a scene ({', '.join(PARAM_NAMES)}), got "
                f"{tuple(params.shape)}")
    if not values:
        return None
    p = params.detach().to(torch.float64)
    ok = torch.isfinite(p).all(1)
    ok &= ((p[:, DIFFUSE] >= 0) & (p[:, DIFFUSE] <= 1)).all(1) & (p[:, SHININESS] > 0)
    ok &= (p[:, SHININESS] <= SHININESS_LIMIT) & (p[:, TRANSLATION].abs() <= POSITION_LIMIT).all(1)
    ok &= (p[:, LIGHT].abs() <= POSITION_LIMIT).all(1)
    if bool(ok.all()):
        return None
    first = int((~ok).nonzero()[0, 0])
    return f"scene {first}: {scene_problem(p[first].tolist())}"
