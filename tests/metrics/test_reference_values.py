"""Metric values against tests/data/metrics/values.json (see tests/data/SOURCES.md), and their edge cases."""

import json
import math

import numpy as np
import pytest
from PIL import Image
from scipy.spatial.distance import directed_hausdorff
from skimage.metrics import structural_similarity

from neurender.metrics.flip import flip
from neurender.metrics.hausdorff import hausdorff, set_distance, silhouette_hausdorff
from neurender.metrics.lpips import lpips
from neurender.metrics.ssim import ssim


@pytest.fixture(scope="module")
def values(data_dir):
    return json.loads((data_dir / "metrics" / "values.json").read_text())


def load(data_dir, name):
    """(1, H, W, 3) float32 in [0, 1] from a reference PNG."""
    return np.asarray(Image.open(data_dir / "metrics" / name).convert("RGB"), np.float32)[None] / 255


@pytest.mark.parametrize("other", ["ex_p0", "ex_p1"])
def test_lpips_matches_reference(data_dir, values, lpips_net, other):
    ref, test = load(data_dir, "lpips/ex_ref.png"), load(data_dir, f"lpips/{other}.png")
    expected = values["lpips_alex_v0.1"][f"lpips/ex_ref.png vs lpips/{other}.png"]
    assert lpips(ref, test, lpips_net)["lpips"][0] == pytest.approx(expected, abs=1e-4)
    assert lpips(test, ref, lpips_net)["lpips"][0] == pytest.approx(expected, abs=1e-4)  # symmetric


def test_lpips_zero_on_identical_and_batched_like_single(data_dir, lpips_net):
    ref, p0, p1 = (load(data_dir, f"lpips/{n}.png") for n in ("ex_ref", "ex_p0", "ex_p1"))
    assert lpips(ref, ref, lpips_net)["lpips"][0] == 0.0
    batch = lpips(np.concatenate([ref, ref]), np.concatenate([p0, p1]), lpips_net)["lpips"]
    singles = [lpips(ref, p, lpips_net)["lpips"][0] for p in (p0, p1)]
    np.testing.assert_allclose(batch, singles, rtol=1e-5)


@pytest.mark.parametrize("size,ppd,key", [(128, None, "flip/crop128_ref.png vs flip/crop128_test.png"),
                                          (256, None, "flip/crop256_ref.png vs flip/crop256_test.png"),
                                          (256, 30.0, "flip/crop256 pair with parameters={'ppd': 30.0}")])
def test_flip_matches_reference(data_dir, values, size, ppd, key):
    ref, test = load(data_dir, f"flip/crop{size}_ref.png"), load(data_dir, f"flip/crop{size}_test.png")
    result = flip(ref, test, ppd=ppd)
    assert result["flip"][0] == pytest.approx(values["flip_ldr"][key], abs=1e-5)
    assert result["flip_map"].shape == (1, size, size)
    assert flip(ref, ref)["flip"][0] == 0.0


@pytest.mark.parametrize("a,b,key", [("lpips/ex_ref.png", "lpips/ex_p0.png", "lpips/ex_ref.png vs lpips/ex_p0.png"),
                                     ("lpips/ex_ref.png", "lpips/ex_p1.png", "lpips/ex_ref.png vs lpips/ex_p1.png"),
                                     ("flip/crop128_ref.png", "flip/crop128_test.png", "flip/crop128 pair"),
                                     ("flip/crop256_ref.png", "flip/crop256_test.png", "flip/crop256 pair")])
def test_ssim_matches_reference(data_dir, values, a, b, key):
    assert ssim(load(data_dir, a), load(data_dir, b))["ssim"][0] == pytest.approx(values["ssim_wang2004"][key],
                                                                                  abs=1e-5)


def test_ssim_equals_scikit_image_on_random_batches():
    rng = np.random.default_rng(3)
    x = rng.random((5, 40, 56, 3), dtype=np.float32)
    y = np.clip(x + 0.2 * rng.standard_normal(x.shape, dtype=np.float32), 0, 1)
    expected = [structural_similarity(a, b, channel_axis=-1, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                      use_sample_covariance=False) for a, b in zip(x, y, strict=True)]
    np.testing.assert_allclose(ssim(x, y)["ssim"], expected, atol=1e-6)
    np.testing.assert_allclose(ssim(x, x)["ssim"], 1.0, atol=1e-6)


def mask(data_dir, name):
    return np.asarray(Image.open(data_dir / "metrics" / name).convert("L")) > 127


def test_silhouette_hausdorff_on_the_discs(data_dir, values):
    a, b = mask(data_dir, "hausdorff/disc_ref.png"), mask(data_dir, "hausdorff/disc_gen.png")
    expected = values["hausdorff"]["hausdorff/disc_ref.png vs hausdorff/disc_gen.png (binary masks, boundary "
                                   "or filled point sets)"]
    assert silhouette_hausdorff(a[None], b[None])["silhouette_hausdorff"][0] == expected
    assert set_distance(b, a) == expected


def test_set_distance_equals_scipy_on_random_sets():
    rng = np.random.default_rng(0)
    for _ in range(20):
        a, b = rng.random((2, 30, 40)) < rng.uniform(0.01, 0.3)
        pa, pb = np.argwhere(a), np.argwhere(b)
        expected = max(directed_hausdorff(pa, pb)[0], directed_hausdorff(pb, pa)[0])
        assert set_distance(a, b) == pytest.approx(expected, abs=1e-9)


def test_hausdorff_edge_cases():
    blank = np.zeros((1, 64, 64, 3), np.float32)
    square = blank.copy()
    square[0, 20:40, 20:40] = 1.0
    both = hausdorff(blank, blank)
    assert both["hausdorff"][0] == 0.0 and both["hausdorff_both_empty"][0] and not both["hausdorff_one_empty"][0]
    one = hausdorff(blank, square)
    assert one["hausdorff"][0] == pytest.approx(math.hypot(64, 64)) and one["hausdorff_one_empty"][0]
    assert hausdorff(square, blank)["hausdorff"][0] == pytest.approx(math.hypot(64, 64))
    assert hausdorff(square, square)["hausdorff"][0] == 0.0
    shifted = np.roll(square, 3, axis=2)
    assert hausdorff(square, shifted)["hausdorff"][0] == pytest.approx(3.0)
