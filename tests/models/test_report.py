import numpy as np
import pytest
import torch
from torch import nn

from neurender.errors import NeurenderError
from neurender.models.generators import build_generator
from neurender.models.projection import sphere_projection
from neurender.models.report import AddCoords, add_sphere_frame, stage_channels
from neurender.presets import load_preset
from neurender.raster import render_spheres
from neurender.sampling import sample_scenes
from neurender.scene import AMBIENT, DEFAULT_CAMERA, encode_params


def test_coordinate_channels_are_the_pixel_centres():
    x = torch.zeros(2, 3, 4, 8)
    out = AddCoords()(x)
    assert out.shape == (2, 5, 4, 8) and torch.equal(out[:, :3], x)
    columns, rows = out[0, 3], out[0, 4]
    assert torch.allclose(columns[0], torch.linspace(-7 / 8, 7 / 8, 8)) and (columns == columns[0]).all()
    assert torch.allclose(rows[:, 0], torch.linspace(-3 / 4, 3 / 4, 4)) and (rows[:, 0] == rows.T).all()


def first_convolution_inputs(g: nn.Module) -> list[int]:
    return [m.in_channels for m in g.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]


@pytest.mark.parametrize("arch", ["upsample", "deconv", "hybrid", "cspup"])
def test_each_report_generator_has_a_coordconv_twin(arch):
    torch.manual_seed(0)
    plain = build_generator(arch, 32, {"width": 32}).eval()
    twin = build_generator(f"{arch}_coord", 32, {"width": 32}).eval()
    n_stages = len(stage_channels(32, 32)) - 1
    coords = [m for m in twin.modules() if isinstance(m, AddCoords)]
    assert len(coords) == n_stages + 1 and not any(isinstance(m, AddCoords) for m in plain.modules())
    # the same layers with two more inputs per stage and at the RGB convolution (cspup: one in each of its
    # halves, the coordinates joining the convolved half and its shortcut the transition)
    extra = [b - a for a, b in zip(first_convolution_inputs(plain), first_convolution_inputs(twin), strict=True)]
    assert sum(extra) == 2 * (n_stages + 1) and set(extra) <= {0, 1, 2}
    images = twin(torch.randn(3, 10))
    assert images.shape == (3, 3, 32, 32) and 0 <= images.min() <= images.max() <= 1


@pytest.mark.parametrize("arch", ["upsample", "hybrid_coord"])
def test_phong_shading_composes_the_three_channels_with_the_scenes_diffuse_colour(arch):
    g = build_generator(arch, 16, {"width": 16, "shading": "phong"}).eval()
    rgb = g.to_rgb[-1] if isinstance(g.to_rgb, nn.Sequential) else g.to_rgb
    with torch.no_grad():  # constant channels: ambient weight 1, diffuse factor 0.5, specular 0.25
        rgb.weight.zero_()
        rgb.bias.copy_(torch.tensor([1.0, 0.5, 0.25]))
    kd = torch.tensor([[0.0, 0.4, 1.0]])
    params = torch.cat([torch.zeros(1, 3), kd * 2 - 1, torch.zeros(1, 4)], dim=1)  # scene.encode_params' layout
    expected = (AMBIENT + kd * 0.5 + 0.25).clamp(0, 1)
    assert torch.allclose(g(params)[0], expected[0, :, None, None].expand(3, 16, 16), atol=1e-6)


def test_a_shading_the_generators_do_not_have_is_one_clear_error():
    with pytest.raises(NeurenderError, match="shading must be one of free, phong"):
        build_generator("hybrid", 16, {"shading": "blinn"})


@pytest.mark.parametrize("arch", ["deconv", "cspup_coord"])
def test_film_starts_as_a_no_op_and_learns_from_the_parameters(arch):
    torch.manual_seed(0)
    plain = build_generator(arch, 16, {"width": 16}).eval()
    torch.manual_seed(0)
    modulated = build_generator(arch, 16, {"width": 16, "film": True}).eval()
    params = torch.randn(2, 10)
    assert torch.equal(modulated(params), plain(params))  # the same network until FiLM's zero-initialised layers move
    modulated(params).sum().backward()
    assert all(film.affine.weight.grad.abs().sum() > 0 for film in modulated.films)


def test_the_sphere_frame_is_its_projection_in_units_of_its_apparent_radius():
    centre, radius = torch.tensor([[0.25, -0.5]]), torch.tensor([[0.5]])
    out = add_sphere_frame(torch.ones(1, 1, 4, 4), centre, radius)
    assert out.shape == (1, 4, 4, 4) and torch.equal(out[:, 0], torch.ones(1, 4, 4))
    qx, qy, r2 = out[0, 1], out[0, 2], out[0, 3]
    ndc = torch.tensor([-0.75, -0.25, 0.25, 0.75])
    assert torch.allclose(qx[0], (ndc - 0.25) / 0.5) and (qx == qx[0]).all()  # columns left to right
    assert torch.allclose(qy[:, 0], (ndc.flip(0) + 0.5) / 0.5) and (qy[:, 0] == qy.T).all()  # rows: y up
    assert torch.allclose(r2, qx ** 2 + qy ** 2)


def test_the_sphere_frames_unit_disc_is_the_rasterized_silhouette_on_easy_scenes():
    params = torch.from_numpy(sample_scenes(load_preset("easy"), 1, np.arange(100)))
    centre, radius = sphere_projection(encode_params(params), DEFAULT_CAMERA.tan_half_fov)
    inside = add_sphere_frame(torch.zeros(100, 0, 128, 128), centre, radius)[:, 2] < 1
    mask = render_spheres(params)[..., 3] > 0
    iou = (inside & mask).sum((1, 2)) / (inside | mask).sum((1, 2)).clamp(min=1)
    assert iou.median() > 0.9  # a perspective stretches the off-axis outlines: the convolutions learn the rest


@pytest.mark.parametrize("arch", ["upsample", "deconv_coord", "hybrid", "cspup_coord"])
def test_the_frame_option_gives_every_stage_and_the_rgb_convolution_three_more_inputs(arch):
    plain = build_generator(arch, 32, {"width": 32}).eval()
    framed = build_generator(arch, 32, {"width": 32, "frame": True}).eval()
    n_stages = len(stage_channels(32, 32)) - 1
    extra = [b - a for a, b in zip(first_convolution_inputs(plain), first_convolution_inputs(framed), strict=True)]
    assert sum(extra) == 3 * (n_stages + 1) and set(extra) <= {0, 1, 2, 3}
    params = encode_params(torch.from_numpy(sample_scenes(load_preset("easy"), 1, np.arange(2))))
    images = framed(params)
    assert images.shape == (2, 3, 32, 32) and 0 <= images.min() <= images.max() <= 1
    images.sum().backward()
    assert all(p.grad is not None for p in framed.parameters() if p.requires_grad)
