import pytest
import torch
from torch import nn

from neurender.models.generators import AddCoords, build_generator, stage_channels


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
