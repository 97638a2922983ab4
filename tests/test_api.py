"""The public Python API (``import neurender as nr``) and the quickstart notebook that walks through it."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import run
from paths import EXAMPLES
from PIL import Image

import neurender as nr
from neurender.dataset.format import write_params_csv
from neurender.errors import NeurenderError
from neurender.scene import encode_params
from neurender.shipped import renderer_path


def test_every_public_name_resolves_and_is_documented():
    for name in nr.__all__:
        value = getattr(nr, name)
        assert name == "__version__" or not callable(value) or value.__doc__, name
    with pytest.raises(AttributeError):
        nr.no_such_name  # noqa: B018


def test_importing_the_package_does_not_import_torch():
    code = "import sys, neurender; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"


def test_shipped_names_load_the_shipped_renderers_on_any_device_argument():
    renderer = nr.load_renderer("easy")
    assert renderer.model["arch"] == "phong_field" and renderer.resolution == 128
    scenes = nr.sample_scenes(nr.PRESETS["easy"], 3, np.arange(2))
    auto, cpu = renderer.render(scenes), renderer.render(scenes, device="cpu")
    assert auto.shape == (2, 128, 128, 3) and auto.dtype == np.float32 and np.array_equal(auto, cpu)
    assert renderer_path("easy") == nr.SHIPPED["easy"] and renderer_path("x/easy") == Path("x/easy")


def test_evaluate_returns_what_metrics_json_holds(tmp_path):
    scenes = nr.sample_scenes(nr.PRESETS["easy"], 4, np.arange(3))
    exact = nr.render_spheres(torch.from_numpy(scenes)).numpy()
    record = nr.evaluate(exact, exact[..., :3], metrics=("flip", "ssim", "masked_l1", "silhouette_hausdorff"))
    assert set(record) >= {"format_version", "method", "count", "metrics", "skipped", "versions"}
    assert record["count"] == 3 and record["metrics"]["ssim"]["mean"] > 0.999
    assert record["metrics"]["masked_l1"]["mean"] < 0.003  # only the 8-bit quantization of the predictions
    assert "silhouette_hausdorff" in record["skipped"]  # RGB predictions carry no mask
    black = nr.evaluate((exact * 255).round().astype(np.uint8), np.zeros_like(exact[..., :3]), metrics=("ssim",))
    assert black["metrics"]["ssim"]["mean"] < record["metrics"]["ssim"]["mean"]
    with pytest.raises(NeurenderError, match="shape"):
        nr.evaluate(exact, exact[:2, ..., :3])
    with pytest.raises(NeurenderError, match="unknown metric"):
        nr.evaluate(exact, exact[..., :3], metrics=("nope",))


def test_the_quickstart_notebook_runs(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = json.loads((EXAMPLES / "quickstart.ipynb").read_text())
    namespace: dict = {}
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), "quickstart.ipynb", "exec"), namespace)  # noqa: S102
    assert namespace["neural"].shape == (8, 128, 128, 3)
    assert namespace["record"]["metrics"]["ssim"]["mean"] > 0.99
    namespace["plt"].close("all")


def test_all_names_exactly_the_lazily_imported_names():
    assert set(nr.__all__) == {"__version__", *nr._PUBLIC, *nr._RENAMED}


def test_the_commands_use_the_universal_renderer_unasked(tmp_path):
    scenes = np.concatenate([nr.sample_scenes(nr.PRESETS[p], 4, np.arange(1)) for p in ("easy", "default")])
    write_params_csv(tmp_path / "params.csv", np.arange(2), scenes)
    result = run("render", "--params-csv", tmp_path / "params.csv", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["image_0000.png", "image_0001.png"]
    expected = nr.load_renderer("universal").render(scenes)
    drawn = np.stack([np.asarray(Image.open(tmp_path / "out" / f"image_000{i}.png"))[..., :3] for i in range(2)])
    assert np.abs(drawn.astype(int) - np.round(expected * 255).astype(int)).max() <= 1
    for command in ("render", "evaluate", "animate", "view", "invert"):  # each says it once
        text = " ".join(run(command, "--help").output.split())
        said = "[default without --predictions: universal]" if command == "evaluate" else "[default: universal]"
        assert text.count(said) == 1 and text.count("universal]") == 1, text


def test_a_field_renders_any_resolution_and_a_fixed_grid_says_it_cannot(tmp_path):
    renderer = nr.load_renderer("universal")
    scenes = nr.sample_scenes(nr.PRESETS["easy"], 3, np.arange(2))
    base, fine = renderer.render(scenes), renderer.render(scenes, resolution=256)
    assert fine.shape == (2, 256, 256, 3) and renderer.generator_at(256) is renderer.generator_at(256)
    box = fine.reshape(2, 128, 2, 128, 2, 3).mean((2, 4))  # the same frame: 2x2 boxes agree with the 128 image
    assert np.abs(box - base).mean() < 0.003
    cut = nr.sample_scenes(nr.PRESETS["easy"], 1, np.arange(600))  # scenes the near plane cuts: 8% of easy ones
    encoded = encode_params(torch.from_numpy(cut)).float()
    at_128, at_256 = (g.scene_terms(encoded).cut for g in (renderer.generator, renderer.generator_at(256)))
    assert (at_128[1] > 0).sum() > 10  # the cut's radius
    for term in (0, 2):  # the cut's centre and radius change, learned in 128 px pixels: the same at 256
        torch.testing.assert_close(at_128[term], at_256[term], rtol=0, atol=1e-6)
    for bad in (4, 4096, 1.5, True):
        with pytest.raises(NeurenderError, match="resolution must be an integer from 8 to 2048"):
            renderer.render(scenes, resolution=bad)
    with pytest.raises(NeurenderError, match="conv_field draws only the 128 px grid"):
        nr.load_renderer("gan").render(scenes, resolution=256)
    csv = tmp_path / "params.csv"
    write_params_csv(csv, np.arange(2), scenes)
    result = run("render", "--params-csv", csv, "--resolution", "64", "--analytic", "--out", tmp_path / "r")
    assert result.exit_code == 0, result.output
    for path in (tmp_path / "r" / "image_0000.png", tmp_path / "r" / "analytic" / "image_0001.png"):
        assert Image.open(path).size == (64, 64)


@pytest.mark.skipif(not renderer_path("default").is_file(), reason="default.pt not in this checkout")
def test_renderer_render_checks_its_arguments_as_the_command_line_does():
    renderer = nr.load_renderer("default")
    good = nr.sample_scenes(nr.PRESETS["default"], 1, np.arange(3))
    nan, diffuse, shininess = good.copy(), good.copy(), good.copy()
    nan[2, 0], diffuse[1, 4], shininess[0, 6] = np.nan, 5.0, -4.0
    for params, options, message in [
        (good[:, :9], {}, r"got \(3, 9\)"), (good[0], {}, r"got \(10,\)"), (good[None], {}, r"got \(1, 3, 10\)"),
        (np.c_[good, good[:, :1]], {}, r"got \(3, 11\)"), ("scenes", {}, "must be numbers"),
        (nan, {}, "scene 2: a value is not finite"), (diffuse, {}, r"scene 1: diffuse g = 5.0 is outside \[0, 1\]"),
        (shininess, {}, "scene 0: shininess"), (good, {"batch": 0}, "batch must be a positive integer"),
        (good, {"batch": -1}, "batch must be a positive integer"), (good, {"batch": 2.5}, "batch must be"),
        (np.repeat(good[:1], 200_000, 0), {}, "39.3 GB of float32 images, over the 8 GB one call returns"),
    ]:
        with pytest.raises(NeurenderError, match=message):
            renderer.render(params, **options)
    assert renderer.render(torch.from_numpy(good)).shape == (3, 128, 128, 3)  # a tensor is taken as an array


def test_sample_scenes_checks_its_arguments_and_draws_large_counts_in_bounded_chunks(monkeypatch):
    easy = nr.PRESETS["easy"]
    for args, message in [
        ((easy, 1, np.array([-1])), "indices must be from 0"), ((easy, 1, np.array([1.5])), "1-d array of integers"),
        ((easy, 1, np.zeros((2, 2), int)), "1-d array of integers"), ((easy, -1, np.arange(2)), "seed must be"),
        ((easy, 2**64, np.arange(2)), "seed must be"), ((easy, 1.5, np.arange(2)), "seed must be"),
        ((easy, True, np.arange(2)), "seed must be"), (("easy", 1, np.arange(2)), "preset must be a Preset"),
        ((easy, 1, np.arange(2), 4), "resolution must be"),
    ]:
        with pytest.raises(NeurenderError, match=message):
            nr.sample_scenes(*args)
    whole = nr.sample_scenes(easy, 3, np.arange(40))
    monkeypatch.setattr("neurender.sampling.SAMPLE_CHUNK", 7)  # each scene depends on its own index alone
    assert np.array_equal(nr.sample_scenes(easy, 3, np.arange(40)), whole)
    assert nr.sample_scenes(easy, 3, np.array([], dtype=np.int64)).shape == (0, 10)


def test_evaluate_checks_its_arguments_and_skips_metrics_the_image_size_cannot_hold():
    scenes = nr.sample_scenes(nr.PRESETS["easy"], 1, np.arange(2), 16)
    exact = nr.render_spheres(scenes, 16).numpy()
    with pytest.raises(NeurenderError, match="no images to score"):
        nr.evaluate(exact[:0], exact[:0, ..., :3])
    with pytest.raises(NeurenderError, match="a sequence of metric names"):
        nr.evaluate(exact, exact[..., :3], metrics="flip")
    with pytest.raises(NeurenderError, match="workers must be a positive integer"):
        nr.evaluate(exact, exact[..., :3], workers=0)
    record = nr.evaluate(exact, exact[..., :3], metrics=("flip", "lpips", "ssim"))
    assert set(record["metrics"]) == {"flip", "ssim"}
    assert record["skipped"]["lpips"] == "needs images of at least 31 px a side, not 16"
    tiny = nr.render_spheres(nr.sample_scenes(nr.PRESETS["easy"], 1, np.arange(2), 8), 4).numpy()
    record = nr.evaluate(tiny, tiny[..., :3], metrics=("flip", "lpips", "ssim"))
    assert set(record["metrics"]) == {"flip"} and set(record["skipped"]) == {"lpips", "ssim"}


def test_load_renderer_names_what_it_takes():
    for bad in (123, None, "", b"universal", ["universal"]):
        with pytest.raises(NeurenderError, match="a renderer is a shipped name .* or a checkpoint's path"):
            nr.load_renderer(bad)
    with pytest.raises(NeurenderError, match="/dev/null is not a regular file"):
        nr.load_renderer("/dev/null")
