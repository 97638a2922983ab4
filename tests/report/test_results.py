"""The results table: fresh test sets, the all-black row, published rows, and the command's bad input."""

import json

import numpy as np
import pytest
import torch
from cli_helpers import assert_user_error, run

from neurender.inference import Renderer
from neurender.models.field import FieldGenerator
from neurender.presets import PRESETS
from neurender.report.results import BLACK, fresh_test_set, results
from neurender.sampling import sample_scenes
from neurender.scene import DEFAULT_CAMERA


def test_test_sets_are_what_dataset_generate_draws():
    params, rgba = fresh_test_set("easy", 5, 3)
    assert np.array_equal(params, sample_scenes(PRESETS["easy"], 5, np.arange(3)))
    assert rgba.shape == (3, 128, 128, 4) and rgba.dtype == np.uint8


def test_results_table_with_the_all_black_row(tmp_path, lpips_net):
    torch.manual_seed(0)
    renderer = Renderer(FieldGenerator(128, width=8).eval(), 128, DEFAULT_CAMERA, {"arch": "field"}, 123)
    report = results({"untrained": renderer}, ["easy"], [1, 2], 4, tmp_path, workers=1, log=lambda _: None)
    table = report["presets"]["easy"]
    assert set(table) == {"untrained", BLACK}
    # all black: masked L1 is the mean reference value over object pixels, image by image
    expected = []
    for seed in (1, 2):
        _, rgba = fresh_test_set("easy", seed, 4)
        ref, mask = rgba[..., :3] / 255.0, rgba[..., 3] > 0
        expected.append(np.mean([ref[i][mask[i]].mean() for i in range(4)]))
    assert table[BLACK]["mean"]["masked_l1"] == pytest.approx(np.mean(expected), rel=1e-5)
    assert table[BLACK]["spread"]["masked_l1"] == pytest.approx(np.std(expected), rel=1e-4)
    assert json.loads((tmp_path / "results.json").read_text())["seeds"] == [1, 2]
    markdown = (tmp_path / "results.md").read_text()
    assert "| all black |" in markdown and "seed report, model 3" in markdown and "untrained (field, 123" in markdown
    assert "seed report, model 1" not in markdown  # a default-preset figure, not in the easy table
    assert (tmp_path / "side_by_side-easy.png").is_file()


def test_results_command_bad_input(tmp_path):
    for seeds in ("1,x", "1,,2", "1,2,", "", "1,1", "-1"):
        assert_user_error(run("results", "--out", tmp_path / "r", "--seeds", seeds), "--seeds")
    assert_user_error(run("results", "--out", tmp_path / "r", "--checkpoint", "nonsense"), "NAME=PATH")
    assert_user_error(run("results", "--out", tmp_path / "r", "--checkpoint", f"a={tmp_path / 'no.pt'}"),
                      "no such file")
    assert_user_error(run("results", "--out", tmp_path / "r", "--checkpoint", f"a={tmp_path}"), "is a folder")
    assert_user_error(run("results", "--out", tmp_path / "r", "--checkpoint", "a=x.pt", "--checkpoint", "a=y.pt"),
                      "given twice")
    assert_user_error(run("results", "--out", tmp_path / "r", "--checkpoint", "a|b=x.pt"), "without '|'")
    assert_user_error(run("results", "--out", tmp_path / "r", "--presets", ""), "at least one preset")
    (tmp_path / "ds").mkdir()
    assert_user_error(run("dataset", "preview", tmp_path / "ds", "--out", tmp_path / "grid.xyz"), "not a .png file")
    assert not (tmp_path / "r").exists() and not (tmp_path / "grid.xyz").exists()


def test_sphere_crop_holds_the_sphere_with_a_margin_inside_the_frame():
    from neurender.report.figures import sphere_crop

    mask = np.zeros((128, 128), bool)
    mask[10:15, 120:126] = True  # a small sphere at the right edge
    rows, cols = sphere_crop(mask)
    assert (rows.stop - rows.start, cols.stop - cols.start) == (32, 32) and cols.stop == 128
    assert mask[rows, cols].sum() == mask.sum()
    mask[:] = False
    mask[20:100, 30:90] = True  # larger than the least size: the sphere plus 8 pixels each side
    rows, cols = sphere_crop(mask)
    assert rows.stop - rows.start == 96 and mask[rows, cols].sum() == mask.sum()
    assert sphere_crop(np.zeros((16, 16), bool)) == (slice(0, 16), slice(0, 16))


def test_comparison_grid_draws_one_row_per_case(tmp_path):
    from PIL import Image

    from neurender.report.figures import comparison_grid

    images = [np.full((8, 8, 3), v, np.float32) for v in (0.0, 0.5, 1.0)]
    out = comparison_grid([("a", images), ("b", images)], ["exact", "x", "y"], tmp_path / "g.png", "t", cell=20)
    picture = np.asarray(Image.open(out))
    assert picture.shape == (46 + 2 * 26, 150 + 3 * 26 + 6, 3)
    assert (picture[46 + 5, 150 + 6 + 2 * 26 + 5] == 255).all()  # row 1, column y: white


def test_results_at_another_resolution(tmp_path, lpips_net):
    torch.manual_seed(0)
    renderer = Renderer(FieldGenerator(32, width=8).eval(), 32, DEFAULT_CAMERA, {"arch": "field", "width": 8}, 5)
    report = results({"f": renderer}, ["visible"], [1], 3, tmp_path, workers=1, log=lambda _: None, resolution=64)
    assert report["resolution"] == 64 and set(report["presets"]["visible"]) == {"f", BLACK}
    markdown = (tmp_path / "results.md").read_text()
    assert "at 64x64" in markdown and "the image diagonal (91 px)" in markdown
    assert "Published figures are of 128 px images: not shown" in markdown
    assert "FiLM + CoordConv blocks" not in markdown and "seed report" not in markdown  # 128 px figures


def test_results_refuses_a_size_a_renderer_cannot_draw(tmp_path):
    result = run("results", "--out", tmp_path / "r", "--checkpoint", "g=gan", "--resolution", "256")
    assert_user_error(result, "--resolution 256: g: conv_field draws only the 128 px grid")
    assert not (tmp_path / "r").exists()
