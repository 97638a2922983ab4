"""Scene distributions ("presets"): the built-in ones by name (``PRESETS``, the presets' registry), TOML presets and
mixtures of them. Plain data, read without torch (the command line checks a preset at once); drawing scenes from
them is ``sampling``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np

from neurender.errors import NeurenderError
from neurender.files import read_toml
from neurender.layout import DIFFUSE, LIGHT, POSITION_LIMIT, SHININESS, SHININESS_LIMIT, TRANSLATION

Range = tuple[float, float]
MAX_SEED = 2**63 - 1  # numpy's and torch's generators take seeds up to here: every --seed, the API, the viewer


@dataclass(frozen=True)
class Preset:
    """A scene distribution: independent uniform ranges per parameter, then constraints on the image."""

    name: str
    translation: tuple[Range, Range, Range] = ((-20.0, 20.0),) * 3  # sphere centre per axis, world units
    diffuse: tuple[Range, Range, Range] = ((0.0, 1.0),) * 3  # RGB, each within [0, 1]
    shininess: Range = (3.0, 20.0)  # Phong exponent, > 0
    light: tuple[Range, Range, Range] = ((-20.0, 20.0),) * 3  # point light per axis, world units
    min_coverage: float = 0.0  # least fraction of the frame a non-empty image's sphere covers
    max_coverage: float = 1.0  # most fraction of the frame it covers
    max_empty_fraction: float = 0.0  # share of images allowed to be entirely black

    def ranges(self) -> np.ndarray:
        """(10, 2) lower and upper bound of each parameter, in ``layout.PARAM_NAMES`` order."""
        return np.array([*self.translation, *self.diffuse, self.shininess, *self.light], dtype=np.float64)

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS = {
    "default": Preset("default", max_empty_fraction=0.05),
    "easy": Preset("easy", min_coverage=0.2),
    # the default distribution without its empty frames: what every public report of the course task trained
    # and tested on (the template's data with black images removed)
    "visible": Preset("visible"),
}


def validate_preset(preset: Preset) -> Preset:
    """Check ranges and constraints; raise NeurenderError naming the first problem."""
    ranges = preset.ranges()
    names = ["translation"] * 3 + ["diffuse"] * 3 + ["shininess"] + ["light"] * 3
    for (lo, hi), name in zip(ranges, names, strict=True):
        if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
            raise NeurenderError(f"preset '{preset.name}': {name} range [{lo}, {hi}] must be finite with lo <= hi")
    if ranges[DIFFUSE].min() < 0 or ranges[DIFFUSE].max() > 1:
        raise NeurenderError(f"preset '{preset.name}': diffuse must lie within [0, 1]")
    if ranges[SHININESS, 0] <= 0 or ranges[SHININESS, 1] > SHININESS_LIMIT:
        raise NeurenderError(f"preset '{preset.name}': shininess must lie within (0, {SHININESS_LIMIT:g}]")
    if max(np.abs(ranges[TRANSLATION]).max(), np.abs(ranges[LIGHT]).max()) > POSITION_LIMIT:
        raise NeurenderError(f"preset '{preset.name}': translation and light must lie within "
                             f"+-{POSITION_LIMIT:g} world units (layout.POSITION_LIMIT)")
    if not 0 <= preset.min_coverage <= preset.max_coverage <= 1:
        raise NeurenderError(f"preset '{preset.name}': need 0 <= min_coverage <= max_coverage <= 1, "
                             f"got {preset.min_coverage} and {preset.max_coverage}")
    if not 0 <= preset.max_empty_fraction <= 1:
        raise NeurenderError(f"preset '{preset.name}': max_empty_fraction must lie within [0, 1]")
    return preset


def _number(value) -> float | None:
    """A TOML value as a finite float, or None (a bool, a string, an integer beyond float's range, inf, NaN)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _as_ranges(value, key: str, count: int):
    """A TOML value [lo, hi] (the same for every axis) or [[lo, hi], ...] (one per axis) -> tuple of ranges."""
    def pair(v):
        if not (isinstance(v, list) and len(v) == 2 and all(_number(x) is not None for x in v)):
            raise NeurenderError(f"preset key '{key}': expected [lo, hi] finite numbers, got {_short(v)}")
        return (_number(v[0]), _number(v[1]))

    if count == 1:
        return pair(value)
    if isinstance(value, list) and len(value) == count and all(isinstance(v, list) for v in value):
        return tuple(pair(v) for v in value)
    return (pair(value),) * count


def load_preset(name_or_path: str) -> Preset:
    """A built-in preset by name, or a custom one from a TOML file.

    The TOML file may set ``base`` (a built-in name, default "default"), ``name``, any range key
    (``translation``, ``diffuse``, ``light`` as [lo, hi] or one pair per axis; ``shininess`` as [lo, hi]) and
    the constraints ``min_coverage``, ``max_coverage``, ``max_empty_fraction``.
    """
    if name_or_path in PRESETS:
        return PRESETS[name_or_path]
    path = Path(name_or_path)
    if path.suffix != ".toml":
        raise NeurenderError(f"unknown preset '{name_or_path}': use {', '.join(PRESETS)} or a .toml file")
    table = read_toml(path, "preset file")
    base_name = table.pop("base", "default")
    if not isinstance(base_name, str) or base_name not in PRESETS:
        raise NeurenderError(f"preset file {path}: base must be one of {', '.join(PRESETS)}, got {base_name!r}")
    allowed = {f.name for f in fields(Preset)}
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise NeurenderError(f"preset file {path}: unknown key(s) {', '.join(unknown)}; allowed: base, "
                             f"{', '.join(sorted(allowed))}")
    changes: dict = {"name": str(table.pop("name", path.stem))}
    for key, count in (("translation", 3), ("diffuse", 3), ("shininess", 1), ("light", 3)):
        if key in table:
            changes[key] = _as_ranges(table.pop(key), key, count)
    for key, value in table.items():
        if _number(value) is None:
            raise NeurenderError(f"preset file {path}: '{key}' must be a finite number, got {_short(value)}")
        changes[key] = _number(value)
    return validate_preset(replace(PRESETS[base_name], **changes))


def mixture_parts(spec: str) -> list[tuple[str, float]]:
    """The presets of a mixture with their shares, unchecked names: "easy" -> [("easy", 1.0)]; "easy:1,default:3"
    -> [("easy", 1.0), ("default", 3.0)]. One reading of the syntax for the command line and for
    ``presets.load_mixture``; a share that is not a positive number is a NeurenderError."""
    parts = [part.strip() for part in spec.split(",")]
    if len(parts) == 1:
        return [(spec, 1.0)]
    shares = []
    for part in parts:
        name, _, weight = part.rpartition(":")
        try:
            share = float(weight)
        except ValueError:
            raise NeurenderError(f"preset mixture {spec!r}: {weight!r} is not a number (use name:share,...)") from None
        if not (name and math.isfinite(share) and share > 0):
            raise NeurenderError(f"preset mixture {spec!r}: {part!r} needs a name and a positive share, e.g. "
                                 f"easy:1,default:1")
        shares.append((name, share))
    return shares


def load_mixture(spec: str) -> list[tuple[Preset, float]]:
    """Presets to draw training scenes from, with their shares: "easy" -> [(easy, 1.0)]; "easy:1,default:3" ->
    [(easy, 0.25), (default, 0.75)]. Each component is a name or a preset TOML file (``load_preset``)."""
    components = [(load_preset(name), share) for name, share in mixture_parts(spec)]
    total = sum(share for _, share in components)
    return [(preset, share / total) for preset, share in components]


def preset_from_dict(data: dict) -> Preset:
    """Inverse of ``Preset.to_dict`` (as stored in a dataset's meta.json)."""
    def tuples(v):
        return tuple(tuples(x) for x in v) if isinstance(v, list) else v
    return validate_preset(Preset(**{k: tuples(v) for k, v in data.items()}))
