"""The window decoder: the fixed warp against analytic windows, black outside the window and behind the camera."""

import numpy as np
import torch

from neurender.models.projection import sphere_projection
from neurender.models.window import WindowDecoder, place_window, window_grid
from neurender.raster import covered_pixels, render_spheres
from neurender.scene import DEFAULT_CAMERA, encode_params, pixel_centres_ndc


def _scene(position=(0.0, 0.0, 0.0)) -> torch.Tensor:
    """One world-space scene (1, 10): a grey sphere at `position`, light above the camera."""
    return torch.tensor([[*position, 0.5, 0.5, 0.5, 10.0, 5.0, 15.0, 15.0]], dtype=torch.float64)


def test_window_grid_is_the_sphere_frame():
    grid = window_grid(8, 2.0)
    assert grid.shape == (3, 8, 8)
    assert grid[0, 0, 0] == -1.75 and grid[0, 0, -1] == 1.75  # q_x grows to the right
    assert grid[1, 0, 0] == 1.75 and grid[1, -1, 0] == -1.75  # q_y grows upwards: row 0 is the top
    assert torch.allclose(grid[2], grid[0] ** 2 + grid[1] ** 2)


def test_a_linear_window_is_read_at_each_pixels_frame_coordinates():
    """A window holding q_x (exact under bilinear reading) gives every frame pixel inside it its own q_x."""
    span, size = 2.0, 32
    centre, radius = torch.tensor([[0.1, -0.2]]), torch.tensor([[0.3]])
    window = window_grid(size, span)[None, :1]
    frame = place_window(window, centre, radius, span, 128)[0, 0]
    ndc = pixel_centres_ndc(128).float()
    qx = ((ndc[None, :] - centre[0, 0]) / radius[0, 0]).expand(128, 128)
    qy = ((-ndc[:, None] - centre[0, 1]) / radius[0, 0]).expand(128, 128)
    inner = (qx.abs() < span * (1 - 1 / size)) & (qy.abs() < span * (1 - 1 / size))  # between window pixel centres
    assert inner.sum() > 1000
    assert torch.allclose(frame[inner], qx[inner], atol=1e-5)
    beyond = span * (1 + 1 / size)  # bilinear reading blends the edge pixels with black over one window pixel
    outside = (qx.abs() > beyond) | (qy.abs() > beyond)
    assert outside.sum() > 1000 and (frame[outside] == 0).all()


def test_window_decoder_draws_inside_its_window_and_nothing_behind_the_camera():
    torch.manual_seed(0)
    g = WindowDecoder(128, window=16, width=32).eval()
    front = encode_params(_scene())
    with torch.no_grad():
        image = g(front.float())
        window = g.draw_window(front.float())
    assert image.shape == (1, 3, 128, 128) and window.shape == (1, 3, 16, 16)
    centre, radius = sphere_projection(front.float(), DEFAULT_CAMERA.tan_half_fov)
    ndc = pixel_centres_ndc(128).float()
    far_x = ((ndc - centre[0, 0]) / radius[0, 0]).abs() > g.span * (1 + 1 / 16)
    assert far_x.sum() > 10
    assert (image[0, :, :, far_x] == 0).all()
    behind = encode_params(_scene((10.0, 10.0, 30.0)))  # behind the camera at (5, 5, 15), looking at the origin
    with torch.no_grad():
        assert (g(behind.float()) == 0).all()


def test_window_covers_the_spheres_outline_everywhere_in_the_frame():
    """span 2 holds the perspective-stretched outline of spheres across the frame, corners included: every covered
    pixel of the rasterizer lies inside the window."""
    rng = np.random.default_rng(0)
    scenes = torch.from_numpy(np.concatenate([rng.uniform(-20, 20, (400, 3)), np.full((400, 7), 0.5)], 1))
    scenes[:, 6] = 10.0
    visible = covered_pixels(scenes) > 0
    scenes = scenes[visible]
    encoded = encode_params(scenes).float()
    centre, radius = sphere_projection(encoded, DEFAULT_CAMERA.tan_half_fov)
    one = torch.ones(len(scenes), 1, 4, 4)
    inside = place_window(one, centre, radius, 2.0, 128)[:, 0] > 0
    mask = render_spheres(scenes)[..., 3] > 0
    assert len(scenes) > 20
    assert (inside | ~mask).all()
