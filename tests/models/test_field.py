"""The field's fast whole frames (coverage_cap): only the pixels that can be covered are evaluated, and the
images equal evaluating every pixel, bit for bit, on thousands of scenes of each preset."""

import numpy as np
import pytest
import torch

from neurender.inference import load_renderer
from neurender.models import field as field_module
from neurender.models.field import R2_LIMIT, SLOPE_FLOOR, field, gated_image, phong_field
from neurender.presets import PRESETS
from neurender.sampling import sample_scenes
from neurender.scene import encode_params
from neurender.shipped import SHIPPED

SCENES = 2000  # per preset
RESOLUTION = 64  # of the small field: a quarter of the pixels to evaluate every pixel of


def encoded(preset: str, count: int, seed: int = 3, resolution: int = RESOLUTION) -> torch.Tensor:
    params = sample_scenes(PRESETS[preset], seed, np.arange(count), resolution)
    return encode_params(torch.from_numpy(params)).float()


@torch.no_grad()
def every_pixel(g, params: torch.Tensor) -> torch.Tensor:
    """The reference: the network at all R x R pixels, four scenes at a time. (B, 10) -> (B, 3, R, R)."""
    r = g.resolution
    return torch.cat([gated_image(*g.pixel_outputs(chunk)).view(-1, r, r, 3).permute(0, 3, 1, 2)
                      for chunk in params.split(4)])


def assert_same_image(a: torch.Tensor, b: torch.Tensor) -> None:
    """The same image: bit for bit where the CPU's matrix kernels do not depend on the batch's shape (AVX2 MKL),
    to a float32 rounding (1e-6) where they do (AVX-512 MKL picks kernels by the number of rows: 2e-7 measured)."""
    torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def small_capped_field(seed: int = 0):
    """A narrow phong_field with every zero-started head given random weights: sheared, moved frames, slopes
    from a few to hundreds, a learned near-plane cut, a coverage head whose cap is reached."""
    torch.manual_seed(seed)
    g = phong_field(RESOLUTION, width=16, depth=1, embedding=16, frequencies=2, coverage_cap=8.0)
    with torch.no_grad():
        for p in g.parameters():
            if not p.abs().sum():
                p.normal_(0, 0.3)
        g.coverage.bias.fill_(4.0)
    return g.eval()


@pytest.mark.parametrize("preset", ["easy", "default"])
@torch.no_grad()
def test_frames_equal_every_pixel_bit_for_bit(preset):
    g = small_capped_field()
    params = encoded(preset, SCENES)
    fast = torch.cat([g(chunk) for chunk in params.split(64)])
    assert_same_image(fast, every_pixel(g, params))
    spans = g.coverage_spans(params)
    evaluated = (spans[..., 1] - spans[..., 0]).clamp(min=0).sum(1).float()
    assert 0 < evaluated.mean() < 0.9 * RESOLUTION**2  # it skips pixels, and not by drawing nothing


@pytest.mark.parametrize("margin", [0.0, 16.0, 32.0])
@torch.no_grad()
def test_no_pixel_outside_the_spans_can_be_covered(margin):
    g = small_capped_field(1)
    params = torch.cat([encoded("easy", 64), encoded("default", 64)])
    _, logit = g.pixel_outputs(params)
    spans = g.coverage_spans(params, margin)
    columns = torch.arange(RESOLUTION)
    inside = (columns >= spans[..., :1]) & (columns < spans[..., 1:])  # (B, R, R)
    logit = logit.view(-1, RESOLUTION, RESOLUTION)
    assert (logit[~inside] <= -margin).all()
    assert inside.any() and (~inside).any()
    assert (logit[~inside] > -margin - 8).any()  # the bound is not loose by far
    pixels = g.coverable_pixels(params, margin)
    assert [len(p) for p in pixels] == inside.sum((1, 2)).tolist()
    assert all(torch.equal(p, inside[i].flatten().nonzero()[:, 0]) for i, p in enumerate(pixels))


@torch.no_grad()
def test_the_batch_a_scene_shares_does_not_change_its_image():
    g = small_capped_field(2)
    params = encoded("default", 37)
    alone = torch.cat([g(params[i:i + 1]) for i in range(len(params))])
    assert_same_image(alone, g(params))


@pytest.mark.skipif(not SHIPPED["universal"].is_file(), reason="universal.pt not in this checkout")
@pytest.mark.parametrize("preset", ["easy", "default"])
@torch.no_grad()
def test_the_universal_renderers_frames_equal_every_pixel(preset):
    g = load_renderer("universal").generator
    assert g.coverage_cap is not None
    params = encoded(preset, 48, seed=9, resolution=128)
    assert_same_image(g(params), every_pixel(g, params))


@torch.no_grad()
def test_the_slope_floor_bounds_every_scene():
    """A field that learned to switch its coverage slope off (as trained fields do where the sphere is out of
    sight) still has a bounded ellipse: the floor holds the slope, so no default frame (small spheres) is evaluated
    whole; easy frames may be, where the ellipse covers them."""
    g = small_capped_field(3)
    g.sharpness.bias.fill_(-50.0)  # 20 exp(-50): a slope of 4e-21 without the floor
    g.coverage.bias.fill_(-40.0)
    params = torch.cat([encoded("easy", 64), encoded("default", 64)])
    assert (g.scene_terms(params).slope == SLOPE_FLOOR).all()
    assert 1 + g.coverage_cap / SLOPE_FLOOR < R2_LIMIT
    spans = g.coverage_spans(params[64:])  # default scenes: small spheres, whose ellipse r2 < 9 is not the frame
    whole = ((spans[..., 0] == 0) & (spans[..., 1] == RESOLUTION)).all(1)
    assert not whole.any()
    assert_same_image(torch.cat([g(chunk) for chunk in params.split(32)]), every_pixel(g, params))


@pytest.mark.parametrize("capped", [True, False])
@torch.no_grad()
def test_frames_larger_than_a_chunk_are_drawn_in_pieces(monkeypatch, capped):
    """Memory does not grow with the resolution: whole frames are evaluated INFERENCE_PIXELS pixels at a time, a
    frame of more pixels than that in pieces (here a budget of 1,024 pixels: one 64 x 64 frame is 4 pieces, a
    large sphere's coverable pixels several), and the images are the same."""
    if capped:
        g = small_capped_field(4)
    else:
        torch.manual_seed(4)
        g = field(RESOLUTION, width=16, depth=1, embedding=16, frequencies=2).eval()
    params = torch.cat([encoded("easy", 24), encoded("default", 8)])
    whole, reference = g(params), every_pixel(g, params)
    calls = []
    original = g.pixel_outputs
    monkeypatch.setattr(g, "pixel_outputs", lambda p, pixels=None: calls.append(
        p.shape[0] * (RESOLUTION**2 if pixels is None else pixels.shape[1])) or original(p, pixels))
    monkeypatch.setattr(field_module, "INFERENCE_PIXELS", 1024)
    pieces = g(params)
    assert_same_image(pieces, whole)
    assert_same_image(pieces, reference)
    assert len(calls) > len(params) and max(calls) <= 1024


def test_coverage_cap_must_be_positive():
    with pytest.raises(ValueError, match="coverage_cap"):
        phong_field(32, coverage_cap=0.0)
