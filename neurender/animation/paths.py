"""Paths through scene space: (10,) world-space scenes -> (F, 10) scenes, one per frame."""

from __future__ import annotations

import numpy as np

from neurender.layout import LIGHT, N_PARAMS, PARAM_NAMES, SHININESS, TRANSLATION

SCENE_TEXT = ",".join(PARAM_NAMES)  # how a scene is written on the command line

PATHS = ("line", "orbit-light", "circle", "shininess")


def parse_scene(text: str, what: str) -> np.ndarray:
    """SCENE_TEXT numbers ("tx,ty,...,lz") -> (10,) float64; ValueError with a one-line reason otherwise."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != N_PARAMS:
        raise ValueError(f"{what} needs {N_PARAMS} comma-separated numbers ({SCENE_TEXT}), got {len(parts)}")
    try:
        return np.array([float(p) for p in parts])
    except ValueError:
        raise ValueError(f"{what} has a value that is not a number: {text!r}") from None


def _turn(points: np.ndarray, centre: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Rotate (3,) points about the vertical axis through centre (3,) by each of angles (F,) -> (F, 3)."""
    x, z = points[0] - centre[0], points[2] - centre[2]
    c, s = np.cos(angles), np.sin(angles)
    return np.stack([centre[0] + c * x + s * z, np.full_like(angles, points[1]), centre[2] - s * x + c * z], 1)


def scene_path(kind: str, start: np.ndarray, end: np.ndarray | None, frames: int) -> np.ndarray:
    """(F, 10) scenes along a path.

    line: every parameter linearly from start to end. orbit-light: the light circles the sphere once about
    the vertical axis through its centre, at its height. circle: the sphere circles the world origin (the
    camera's target) once about the vertical axis. shininess: from start's exponent to end's (or 3 -> 40).
    """
    t = np.linspace(0, 1, frames)
    if kind == "line":
        return start + t[:, None] * (end - start)
    scenes = np.repeat(start[None], frames, 0)
    angles = 2 * np.pi * t
    if kind == "orbit-light":
        scenes[:, LIGHT] = _turn(start[LIGHT], start[TRANSLATION], angles)
    elif kind == "circle":
        scenes[:, TRANSLATION] = _turn(start[TRANSLATION], np.zeros(3), angles)
    elif kind == "shininess":
        lo, hi = (start[SHININESS], end[SHININESS]) if end is not None else (3.0, 40.0)
        scenes[:, SHININESS] = lo + t * (hi - lo)
    else:
        raise ValueError(f"unknown path {kind!r}: use one of {', '.join(PATHS)}")
    return scenes
