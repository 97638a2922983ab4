import math

import torch

from neurender.scene import DEFAULT_CAMERA, POSITION_SCALE, encode_params, ray_directions


def test_rotation_is_orthonormal_and_looks_at_origin():
    rot = DEFAULT_CAMERA.rotation()
    assert torch.allclose(rot @ rot.T, torch.eye(3, dtype=rot.dtype), atol=1e-12)
    origin_in_view = DEFAULT_CAMERA.to_view(torch.zeros(1, 3, dtype=torch.float64))[0]
    distance = math.sqrt(5**2 + 5**2 + 15**2)
    assert torch.allclose(origin_in_view, torch.tensor([0.0, 0.0, -distance], dtype=torch.float64), atol=1e-12)


def test_ray_directions_follow_pixel_centres_row_zero_on_top():
    dirs = ray_directions(DEFAULT_CAMERA, 4)  # (3, 16)
    assert torch.allclose(dirs.norm(dim=0), torch.ones(16), atol=1e-6)
    top_left, bottom_right = dirs[:, 0], dirs[:, 15]
    assert top_left[0] < 0 and top_left[1] > 0  # left and up
    assert bottom_right[0] > 0 and bottom_right[1] < 0
    # pixel (0, 0) centre: ndc (-0.75, 0.75), scaled by tan(22.5 deg)
    t = math.tan(math.radians(22.5))
    expected = torch.tensor([-0.75 * t, 0.75 * t, -1.0])
    assert torch.allclose(top_left, expected / expected.norm(), atol=1e-6)


def test_encoding_is_relative_and_normalised():
    params = torch.tensor([[0.0, 0.0, 0.0, 0.0, 0.5, 1.0, 3.0, 5.0, 5.0, 15.0]], dtype=torch.float64)
    enc = encode_params(params)
    assert enc.dtype == torch.float32 and enc.shape == (1, 10)
    assert torch.allclose(enc[0, :3], torch.tensor([0.0, 0.0, -math.sqrt(275) / POSITION_SCALE]), atol=1e-6)
    assert torch.allclose(enc[0, 3:7], torch.tensor([-1.0, 0.0, 1.0, -1.0]))
    assert torch.allclose(enc[0, 7:], torch.zeros(3), atol=1e-6)  # light at the camera
