"""A slow, literal per-pixel implementation of shared/spec/scene.md in float64 world space: the tests' oracle."""

import math

import numpy as np

CAMERA = np.array([5.0, 5.0, 15.0])


def _look_at_basis():
    forward = -CAMERA / np.linalg.norm(CAMERA)
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    return right, np.cross(right, forward), forward


def render_pixel(scene, row, col, resolution):
    """RGBA in [0, 1] of one pixel, following the spec word by word."""
    t_centre, kd, shininess, light = np.array(scene[0:3]), np.array(scene[3:6]), scene[6], np.array(scene[7:10])
    right, up, forward = _look_at_basis()
    tan_half = math.tan(math.radians(45.0) / 2)
    ndc_x = (col + 0.5) / resolution * 2 - 1
    ndc_y = 1 - (row + 0.5) / resolution * 2
    direction = forward + ndc_x * tan_half * right + ndc_y * tan_half * up
    direction /= np.linalg.norm(direction)
    oc = CAMERA - t_centre
    if oc @ oc <= 1:  # camera inside: every face is a back face
        return np.zeros(4)
    b = oc @ direction
    disc = b * b - (oc @ oc - 1)
    if disc < 0:
        return np.zeros(4)
    t = -b - math.sqrt(disc)
    if t <= 0 or t * (direction @ forward) < 0.1:
        return np.zeros(4)
    p = CAMERA + t * direction
    n = p - t_centre
    n /= np.linalg.norm(n)
    l_dir = light - p
    l_dir /= np.linalg.norm(l_dir)
    v = CAMERA - p
    v /= np.linalg.norm(v)
    r = 2 * (n @ l_dir) * n - l_dir
    colour = 0.03 + kd * min(max(n @ l_dir, 0.0), 1.0) + min(max(r @ v, 0.0), 1.0) ** shininess
    return np.append(np.clip(colour, 0, 1), 1.0)


def render_image(scene, resolution):
    """(resolution, resolution, 4) float64."""
    return np.array([[render_pixel(scene, i, j, resolution) for j in range(resolution)] for i in range(resolution)])
