import numpy as np
import pytest
import torch

from neurender.errors import NeurenderError
from neurender.presets import PRESETS, load_mixture, load_preset
from neurender.raster import covered_pixels
from neurender.sampling import empty_allowed, sample_mixture, sample_scenes, scene_uniforms


def test_uniforms_are_pure_functions_of_seed_index_attempt():
    idx, att = np.array([0, 1, 2, 3]), np.array([0, 0, 5, 5])
    a = scene_uniforms(7, idx, att)
    assert np.array_equal(a[2:], scene_uniforms(7, idx[2:], att[2:]))
    assert not np.array_equal(a, scene_uniforms(8, idx, att))
    assert a.shape == (4, 10) and a.min() >= 0 and a.max() < 1
    assert np.array_equal(scene_uniforms(7, idx, att, slice(3, 10)), a[:, 3:])  # any subset of columns
    big = scene_uniforms(0, np.arange(20000), np.zeros(20000, dtype=np.int64))
    assert abs(big.mean() - 0.5) < 0.005 and abs(big.std() - (1 / 12) ** 0.5) < 0.005


def test_easy_preset_covers_at_least_a_fifth_and_is_never_empty():
    scenes = sample_scenes(PRESETS["easy"], 0, np.arange(400))
    cov = covered_pixels(torch.from_numpy(scenes)).numpy() / 128**2
    assert cov.min() >= 0.2
    ranges = PRESETS["easy"].ranges()
    assert ((scenes >= ranges[:, 0]) & (scenes <= ranges[:, 1])).all()


def test_default_preset_keeps_empty_images_at_most_five_percent():
    scenes = sample_scenes(PRESETS["default"], 0, np.arange(2000))
    cov = covered_pixels(torch.from_numpy(scenes)).numpy()
    empty = (cov == 0).mean()
    assert 0.02 < empty <= 0.05  # the empty-allowed images keep the template's ~11/12 chance of being empty
    assert (cov[~empty_allowed(np.arange(2000), 0.05)] > 0).all()
    # the other parameters follow the template's uniform ranges
    assert abs(scenes[:, 6].mean() - 11.5) < 0.4 and abs(scenes[:, 3:6].mean() - 0.5) < 0.03


def test_visible_preset_is_the_default_distribution_without_its_empty_frames():
    indices = np.arange(2000)
    visible = sample_scenes(PRESETS["visible"], 0, indices)
    assert (covered_pixels(torch.from_numpy(visible)).numpy() > 0).all()
    # an image that default may not leave empty is drawn by the same candidates: the same scene
    kept = ~empty_allowed(indices, PRESETS["default"].max_empty_fraction)
    assert np.array_equal(visible[kept], sample_scenes(PRESETS["default"], 0, indices)[kept])
    # the others are the first non-empty candidate, as a report's filter keeps the template's non-empty frames
    assert load_preset("visible") is PRESETS["visible"] and np.array_equal(PRESETS["visible"].ranges(),
                                                                           PRESETS["default"].ranges())


def test_sampling_is_deterministic_per_index():
    whole = sample_scenes(PRESETS["easy"], 3, np.arange(64))
    part = sample_scenes(PRESETS["easy"], 3, np.arange(40, 64))
    assert np.array_equal(whole[40:], part)
    assert not np.array_equal(whole, sample_scenes(PRESETS["easy"], 4, np.arange(64)))


def test_custom_toml_preset(tmp_path):
    path = tmp_path / "close.toml"
    path.write_text('base = "easy"\nname = "close"\ntranslation = [[2, 6], [2, 6], [8, 12]]\n'
                    "shininess = [10, 12]\nmax_coverage = 0.6\n")
    preset = load_preset(str(path))
    assert preset.name == "close" and preset.min_coverage == 0.2 and preset.shininess == (10.0, 12.0)
    scenes = sample_scenes(preset, 0, np.arange(50), resolution=64)
    cov = covered_pixels(torch.from_numpy(scenes), 64).numpy() / 64**2
    assert cov.min() >= 0.2 and cov.max() <= 0.6
    assert (scenes[:, :2] >= 2).all() and (scenes[:, :2] <= 6).all() and (scenes[:, 2] <= 12).all()


@pytest.mark.parametrize("text, message", [
    ("colour = [0, 1]\n", "unknown key"),
    ("shininess = [20, 3]\n", "lo <= hi"),
    ("diffuse = [0, 2]\n", "diffuse"),
    ("min_coverage = 0.5\nmax_coverage = 0.4\n", "min_coverage"),
    ("translation = 3\n", r"expected \[lo, hi\]"),
    ("min_coverage = 'a lot'\n", "must be a finite number"),
    ("this is not toml\n", "not valid TOML"),
    ("base = ['easy']\n", r"base must be one of default, easy, visible, got \['easy'\]"),
    ("min_coverage = 1" + "0" * 400 + "\n", "must be a finite number"),
    ("shininess = [3, 1" + "0" * 400 + "]\n", "finite numbers"),
    ("translation = " + "[" * 5000 + "]" * 5000 + "\n", "nests too deeply"),
    ("light = [-1e300, 1e300]\n", r"within \+-10000 world units"),
    ("translation = [-1e6, 1e6]\n", r"within \+-10000 world units"),
    ("shininess = [3, 1e300]\n", r"shininess must lie within \(0, 1000\]"),
    ("diffuse = [0, nan]\n", "finite numbers"),
])
def test_bad_toml_presets_are_named(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(NeurenderError, match=message):
        load_preset(str(path))


def test_a_preset_path_that_is_a_device_or_too_large_is_refused_unread(tmp_path):
    device = tmp_path / "zero.toml"
    device.symlink_to("/dev/zero")
    with pytest.raises(NeurenderError, match="is not a regular file"):
        load_preset(str(device))
    large = tmp_path / "large.toml"
    large.write_text("# " + "x" * (1 << 20) + "\n")
    with pytest.raises(NeurenderError, match="larger than 1 MB"):
        load_preset(str(large))


def test_unknown_preset():
    with pytest.raises(NeurenderError, match="unknown preset"):
        load_preset("medium")


def test_impossible_coverage_fails_within_bounded_tries(tmp_path):
    far = tmp_path / "far.toml"
    far.write_text("translation = [[-20, -15], [-20, -15], [-20, -15]]\nmin_coverage = 0.5\n")
    with pytest.raises(NeurenderError, match="cover"):
        sample_scenes(load_preset(str(far)), 0, np.arange(4))
    behind = tmp_path / "behind.toml"  # near the camera, but all behind it
    behind.write_text("translation = [[3, 7], [3, 7], [17, 20]]\nmin_coverage = 0.3\n")
    with pytest.raises(NeurenderError, match="within 20000 tries"):
        sample_scenes(load_preset(str(behind)), 0, np.arange(2))


def test_a_mixture_draws_each_image_from_one_component_by_its_share():
    mixture = load_mixture("easy:1, default:3")
    assert [(p.name, share) for p, share in mixture] == [("easy", 0.25), ("default", 0.75)]
    indices = np.arange(1000, 3000)
    params = sample_mixture(mixture, 4, indices, 32)
    easy = sample_scenes(PRESETS["easy"], 4, indices, 32)
    default = sample_scenes(PRESETS["default"], 4, indices, 32)
    from_easy = (params == easy).all(1)
    assert (from_easy | (params == default).all(1)).all()  # each image is its component's own image i
    assert 0.2 < from_easy.mean() < 0.3
    assert np.array_equal(sample_mixture(mixture, 4, indices[::-1], 32), params[::-1])  # per index, any order
    assert np.array_equal(sample_mixture(load_mixture("easy"), 4, indices, 32), easy)


@pytest.mark.parametrize(("spec", "message"), [("easy:x,default:1", "not a number"),
                                               ("easy:0,default:1", "positive"),
                                               ("easy:1,nosuch:1", "unknown preset")])
def test_bad_mixtures_are_named(spec, message):
    with pytest.raises(NeurenderError, match=message):
        load_mixture(spec)
