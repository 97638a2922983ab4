import pytest
import torch
from torch import nn

from neurender.errors import NeurenderError
from neurender.models.generators import AddCoords, build_generator, stage_channels
from neurender.scene import AMBIENT


def test_coordinate_channels_are_the_pixel_centres():
    x = torch.zeros(2, 3, 4, 8)
    out = AddCoords()(x)
    assert out.shape == (2, 5, 4, 8) and torch.equal(out[:, :3], x)
    columns, rows = out[0, 3], out[0, 4]
    assert torch.allclose(columns[0], torch.linspace(-7 / 8, 7 / 8, 8)) and (columns == columns[0]).all()
    assert torch.allclose(rows[:, 0], torch.linspace(-3 / 4, 3 / 4, 4)) and (rows.T == rows[:, 0]).all()


def first_convolution_inputs(g: nn.Module) -> list[int]:
    return [m.in_channels for m in g.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]


@pytest.mark.parametrize("arch", ["upsample", "deconv", "hybrid", "cspup"])
def test_each_report_generator_has_a_coordconv_twin(arch):
    torch.manual_seed(0)
    plain, twin = build_generator(arch, 32, {"width": 32}).eval(), build_generator(f"{arch}_coord", 32, {"width": 32}).eval()
    n_stages = len(stage_channels(32, 32)) - 1
    coords = [m for m in twin.modules() if isinstance(m, AddCoords)]
    assert len(coords) == n_stages + 1 and not any(isinstance(m, AddCoords) for m in plain.modules())
    # the same layers with two more inputs per stage and at the RGB convolution (cspup: one in each of its
    # halves, the coordinates joining the convolved half and its shortcut the transition)
    extra = [b - a for a, b in zip(first_convolution_inputs(plain), first_convolution_inputs(twin))]
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
