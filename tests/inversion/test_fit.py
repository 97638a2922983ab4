"""Inverse rendering: the soft-silhouette renderer, starts, recovery through both backends, and the command."""

import csv
from dataclasses import replace

import numpy as np
import pytest
import torch
from cli_helpers import assert_user_error, run
from PIL import Image

from neurender.inference import load_renderer
from neurender.inversion.fit import (
    COVERED,
    NEGLIGIBLE_LOGIT,
    InversionConfig,
    analytic_backend,
    descent_loss,
    estimate_positions,
    invert,
    neural_backend,
    starting_scenes,
)
from neurender.inversion.soft import render_soft
from neurender.layout import PARAM_NAMES
from neurender.models.field import phong_field
from neurender.presets import PRESETS
from neurender.raster import render_spheres, render_spheres_uint8
from neurender.sampling import sample_scenes
from neurender.scene import DEFAULT_CAMERA, encode_params
from neurender.shipped import SHIPPED


@pytest.mark.parametrize("preset", ["easy", "default"])
def test_soft_render_at_temperature_zero_is_the_exact_render(preset):
    scenes = torch.from_numpy(sample_scenes(PRESETS[preset], 5, np.arange(60), 64))
    exact, soft = render_spheres(scenes, 64), render_soft(scenes, 0.0, 64)
    assert torch.equal(exact[..., 3], soft[..., 3].float())  # the same pixels covered
    assert (exact - soft.float()).abs().max() < 3e-3  # float32 spans vs float64 per pixel


def test_soft_silhouette_gives_the_position_a_gradient():
    scene = torch.tensor([[0.0, 0.0, 0.0, 0.5, 0.5, 0.5, 10.0, 0.0, 20.0, 0.0]], dtype=torch.float64)
    target = render_spheres(scene + torch.tensor([[0.3, 0, 0, 0, 0, 0, 0, 0, 0, 0]]), 32)[..., 3]
    moved = scene.clone().requires_grad_(True)
    loss = (render_soft(moved, 0.5, 32)[..., 3] - target).abs().sum()
    loss.backward()
    assert moved.grad[0, 0] < 0  # moving +x (towards the target) lowers the loss
    hard = scene.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(render_spheres(hard, 32)[..., 3].sum(), hard, allow_unused=True)
    assert grad is None or grad.abs().sum() == 0  # the exact coverage carries none


def test_positions_are_estimated_from_the_covered_pixels():
    scenes = sample_scenes(PRESETS["default"], 2, np.arange(40), 128)
    targets = render_spheres_uint8(torch.from_numpy(scenes), 128).numpy()[..., :3] / 255
    centres, shown = estimate_positions(targets, DEFAULT_CAMERA)
    covered = targets.max(-1) > 0
    inside = shown & ~(covered[:, 0].any(1) | covered[:, -1].any(1) | covered[:, :, 0].any(1)
                       | covered[:, :, -1].any(1))  # the whole outline in the frame
    assert np.array_equal(shown, covered.any((1, 2))) and inside.sum() >= 10
    distance = np.linalg.norm(scenes[:, :3] - np.array(DEFAULT_CAMERA.position), axis=1)
    error = np.linalg.norm(centres - scenes[:, :3], axis=1) / distance
    assert np.median(error[inside]) < 0.05  # spheres cut by the frame's edge are off more; the descent mends it


@pytest.mark.slow
def test_analytic_inversion_recovers_position_and_colour():
    truth = sample_scenes(PRESETS["easy"], 4, np.arange(3), 64)
    targets = render_spheres_uint8(torch.from_numpy(truth), 64).numpy()[..., :3].astype(np.float32) / 255
    config = InversionConfig(starts=4, steps=200, seed=1)
    render = analytic_backend(64, DEFAULT_CAMERA)
    found, error = invert(targets, render, "analytic", PRESETS["easy"], DEFAULT_CAMERA, config)
    assert found.shape == (3, 10) and error.shape == (3,)
    assert np.all(error < 0.01)  # image L1 + 0.1 coverage L1 of the re-render
    distance = np.linalg.norm(truth[:, :3] - np.array(DEFAULT_CAMERA.position), axis=1)
    assert np.all(np.linalg.norm(found[:, :3] - truth[:, :3], axis=1) < 0.05 * distance)
    again, _ = invert(targets, render, "analytic", PRESETS["easy"], DEFAULT_CAMERA, config)
    assert np.array_equal(found, again)  # seeded


def test_neural_backend_descends(tiny_renderer):
    renderer = load_renderer(tiny_renderer)
    truth = sample_scenes(PRESETS["easy"], 4, np.arange(2), 32)
    targets = renderer.render(truth)
    config = InversionConfig(starts=2, steps=60, seed=0)
    render = neural_backend(renderer.generator, 32, DEFAULT_CAMERA)
    found, loss = invert(targets, render, "neural", PRESETS["easy"], DEFAULT_CAMERA, config)
    _, first_loss = invert(targets, render, "neural", PRESETS["easy"], DEFAULT_CAMERA, replace(config, steps=1))
    assert np.all(np.isfinite(found)) and loss.mean() < first_loss.mean()


def _backend_outputs(render, scenes, target, temperature):
    """(image, coverage, loss, d loss / d scene) of one backend at one temperature."""
    params = scenes.clone().requires_grad_(True)
    image, coverage = render(params, temperature)
    loss = descent_loss(image, coverage, target, (target.amax(-1) > COVERED).float())
    loss.sum().backward()
    return image.detach(), coverage.detach(), loss.detach(), params.grad


def _capped_field(resolution):
    """A small phong_field with a coverage cap whose zero-started heads have random weights (moved, sheared
    frames; slopes from a few to hundreds; a learned near-plane cut)."""
    torch.manual_seed(0)
    g = phong_field(resolution, width=16, depth=1, embedding=16, frequencies=2, coverage_cap=8.0)
    with torch.no_grad():
        for p in g.parameters():
            if not p.abs().sum():
                p.normal_(0, 0.3)
    return g.eval()


CAPPED = {"small capped field": lambda: _capped_field(64)}
if SHIPPED["universal"].is_file():
    CAPPED["universal.pt"] = lambda: load_renderer("universal").generator


@pytest.mark.parametrize("generator", CAPPED)
@pytest.mark.parametrize("preset", ["easy", "default"])
def test_neural_backend_on_coverable_pixels_matches_every_pixel(generator, preset):
    """The pixels it leaves out are those whose softened coverage is negligible: images, loss and gradients
    agree with evaluating every pixel, through the annealed temperatures, from the starts the descent uses."""
    g = CAPPED[generator]()
    r = g.resolution
    truth = sample_scenes(PRESETS[preset], 6, np.arange(3), r)
    targets = render_spheres_uint8(torch.from_numpy(truth), r).numpy()[..., :3].astype(np.float32) / 255
    starts = starting_scenes(targets, PRESETS[preset], InversionConfig(starts=3), DEFAULT_CAMERA)
    scenes = torch.from_numpy(starts.reshape(-1, 10)).float()
    target = torch.from_numpy(np.repeat(targets, 3, 0))
    fast, full = neural_backend(g, r, DEFAULT_CAMERA), neural_backend(g, r, DEFAULT_CAMERA, every_pixel=True)
    for temperature in (2.0, 1.0):  # the annealing's ends
        a, b = _backend_outputs(fast, scenes, target, temperature), _backend_outputs(full, scenes, target, temperature)
        assert (a[0] - b[0]).abs().max() < 1e-6 and (a[1] - b[1]).abs().max() < 1e-6
        assert torch.allclose(a[2], b[2], rtol=1e-5, atol=1e-8)
        assert torch.allclose(a[3], b[3], rtol=1e-4, atol=1e-6 * b[3].abs().max())
    encoded = encode_params(scenes, DEFAULT_CAMERA)
    evaluated = sum(map(len, g.coverable_pixels(encoded, 2.0 * NEGLIGIBLE_LOGIT)))
    assert evaluated < 0.9 * len(scenes) * r * r  # and it leaves pixels out


def _dataset(tmp_path, resolution=32, count=20):
    out = tmp_path / "data"
    result = run("dataset", "generate", "--preset", "easy", "--count", count, "--seed", 3, "--resolution",
                 resolution, "--out", out, "--test", 4, "--val", 0, "--png")
    assert result.exit_code == 0, result.output
    return out


def test_invert_command_writes_parameters_images_errors_and_summary(tmp_path):
    data = _dataset(tmp_path)
    out = tmp_path / "inv"
    result = run("invert", "--dataset", data, "--limit", 2, "--steps", 30, "--starts", 2,
                 "--out", out)
    assert result.exit_code == 0, result.output
    assert "inverted 2 images" in result.output
    rows = list(csv.reader((out / "params.csv").open()))
    assert rows[0] == ["frame", *PARAM_NAMES] and [r[0] for r in rows[1:]] == ["16", "17"]
    errors = list(csv.DictReader((out / "errors.csv").open()))
    assert {"coverage", "lit", "image_l1", "position", "colour", "shininess", "light"} <= set(errors[0])
    assert sorted(p.name for p in (out / "images").iterdir()) == ["image_0016.png", "image_0017.png"]
    summary = (out / "summary.md").read_text()
    assert "coverage 20%-50%" in summary and "light (world)" in summary
    assert Image.open(out / "figure.png").size[0] > 300
    # the same images as PNG files: no truth, so no parameter errors
    result = run("invert", "--image", data, "--limit", 1, "--steps", 5, "--starts", 1,
                 "--out", tmp_path / "from-png")
    assert result.exit_code == 0, result.output
    assert "position" not in (tmp_path / "from-png" / "errors.csv").read_text().splitlines()[0]


def test_invert_resizes_other_resolutions_with_a_note(tmp_path, tiny_renderer):
    image = tmp_path / "image_0007.png"
    scene = sample_scenes(PRESETS["easy"], 0, np.arange(1), 64)
    Image.fromarray(render_spheres_uint8(torch.from_numpy(scene), 64).numpy()[0]).save(image)
    result = run("invert", "--checkpoint", tiny_renderer, "--image", image, "--steps", 3, "--starts", 1,
                 "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "resized to the renderer's 32 px" in result.output
    assert (tmp_path / "out" / "images" / "image_0007.png").is_file()


def test_invert_bad_input(tmp_path, tiny_renderer):
    data = _dataset(tmp_path, resolution=64, count=4)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    assert_user_error(run("invert", "--image", text, "--out", tmp_path / "a"), "unreadable image")
    assert_user_error(run("invert", "--image", tmp_path / "missing.png", "--out", tmp_path / "a"), "does not exist")
    assert_user_error(run("invert", "--renderer", "neural", "--image", text, "--out", tmp_path / "a"),
                      "unreadable image")  # the universal renderer, unasked
    assert_user_error(run("invert", "--checkpoint", tiny_renderer, "--dataset", data, "--out", tmp_path / "a"),
                      "the checkpoint renders 32 px but")
    assert_user_error(run("invert", "--checkpoint", text, "--dataset", data, "--out", tmp_path / "a"), "")
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "mine.txt").write_text("precious")
    assert_user_error(run("invert", "--dataset", data, "--out", kept), "already exists")
    assert_user_error(run("invert", "--dataset", data, "--out", data / "inv"), "inside the input")
    assert (kept / "mine.txt").read_text() == "precious"
    assert not (tmp_path / "a").exists()


def test_the_command_defaults_are_the_config_defaults():
    from neurender.cli.invert import invert as command

    defaults = {p.name: p.default for p in command.params}
    config = InversionConfig()
    assert (defaults["starts"], defaults["steps"], defaults["lr"], defaults["seed"]) == (
        config.starts, config.steps, config.lr, config.seed)
