"""The generator contract (docs/generators.md), for every registered generator and for one of your own."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from cli_helpers import assert_user_error, run
from paths import DATA, EXAMPLES

from neurender.dataset import read_params_csv
from neurender.errors import NeurenderError
from neurender.inference import load_renderer
from neurender.models.blocks import ParamNorm
from neurender.models.generators import GeneratorSpec, build_generator, generator_options, generator_spec
from neurender.models.registry import GENERATORS
from neurender.presets import PRESETS
from neurender.registry import allowed_plugin
from neurender.sampling import sample_scenes
from neurender.scene import encode_params
from neurender.shipped import SHIPPED
from neurender.training.config import TrainConfig, from_dict, merge, to_dict
from neurender.training.loop import Trainer

SMALL = {"coord": 8, "field": 16, "phong_field": 16, "conv_field": 16}  # widths that keep the tests quick


def encoded(count: int, resolution: int = 32) -> torch.Tensor:
    return encode_params(torch.from_numpy(sample_scenes(PRESETS["easy"], 0, np.arange(count), resolution)))


@pytest.mark.parametrize("arch", list(GENERATORS))
def test_every_registered_generator_keeps_the_contract(arch):
    spec = generator_spec(arch)
    assert "resolution" not in spec.options and all(k.isidentifier() for k in spec.options)
    torch.manual_seed(0)
    g = build_generator(arch, 32, generator_options(arch, SMALL.get(arch, 32))).eval()
    params = encoded(3)
    assert isinstance(g.param_norm, ParamNorm)  # every registered one standardises its input
    g.param_norm.fit(params)
    with torch.no_grad():
        image = g(params)
    assert image.shape == (3, 3, 32, 32) and image.dtype == torch.float32
    assert 0 <= image.min() <= image.max() <= 1
    assert type(g) is spec.built  # the class whose attributes state its capabilities is the one built
    if spec.any_resolution:  # built at 96, the same weights draw 96 x 96; every third pixel has 32's pixel centres
        big = build_generator(arch, 96, generator_options(arch, SMALL.get(arch, 32))).eval()
        big.load_state_dict(g.state_dict())
        with torch.no_grad():
            fine = big(params)
        assert fine.shape == (3, 3, 96, 96)
        if arch != "phong_field":  # its near-plane cut is sharpened per pixel of the frame
            assert torch.allclose(fine[:, :, 1::3, 1::3], image, atol=1e-4)
    if spec.samples_pixels:  # sampled pixels are those pixels of the whole frame
        pixels = torch.randint(0, 32 * 32, (3, 40))
        with torch.no_grad():
            colour, logit = g(params, pixels)
        flat = image.flatten(2).gather(2, pixels[:, None].expand(-1, 3, -1)).transpose(1, 2)
        assert torch.allclose(flat, colour.clamp(0, 1) * (logit > 0)[..., None], atol=1e-5)
    if spec.renders_crops:  # a window is those pixels of the whole frame
        with torch.no_grad():
            colour, logit = g(params, torch.tensor([[4, 9]] * 3), 16)
        crop = (colour.clamp(0, 1) * (logit > 0)[..., None]).view(3, 16, 16, 3).permute(0, 3, 1, 2)
        assert torch.allclose(crop, image[:, :, 4:20, 9:25], atol=1e-5)


def test_options_come_from_the_config_and_unknown_ones_are_refused():
    assert generator_options("field", 96, "batch", {"depth": 6}) == {"width": 96, "depth": 6, "embedding": 128,
                                                                     "frequencies": 4}  # field takes no norm
    assert generator_options("hybrid", None, "instance") == {"width": 256, "norm": "instance", "shading": "free",
                                                                   "film": False, "frame": False}
    with pytest.raises(NeurenderError, match="has no option depht; its options: width, depth"):
        generator_options("field", options={"depht": 6})
    g = build_generator("field", 32, generator_options("field", 16, None, {"depth": 2, "frequencies": 2}))
    assert len(g.layers) == 2


@pytest.mark.parametrize("arch, option, value, message", [
    ("conv_field", "freeze_trunk", "yes", "freeze_trunk must be bool, got 'yes'"),
    ("conv_field", "freeze_trunk", 1, "freeze_trunk must be bool, got 1"),
    ("phong_field", "coverage_cap", "16", "coverage_cap must be a number or none, got '16'"),
    ("phong_field", "coverage_cap", True, "coverage_cap must be a number or none, got True"),
    ("field", "depth", 4.0, "depth must be int, got 4.0"),
])
def test_an_option_of_the_wrong_type_is_refused(arch, option, value, message):
    with pytest.raises(NeurenderError, match=f"{arch} option {message}"):
        generator_options(arch, options={option: value})


def test_option_types_come_from_annotations_else_from_defaults():
    def yours(resolution, depth=4, scale=0.5, name=None, sizes: tuple[int, int] = (2, 3), gain: "Undefined" = 1.0):  # noqa: F821
        raise AssertionError("not built")

    types = GeneratorSpec(yours).option_types  # "Undefined" does not resolve: every option falls back
    assert types == {"depth": (int,), "scale": (float, int), "sizes": (tuple, list), "gain": (float, int)}

    def annotated(resolution, sizes: tuple[int, int] = (2, 3), cap: float | None = None):
        raise AssertionError("not built")

    assert GeneratorSpec(annotated).option_types == {"sizes": (tuple, list), "cap": (float, type(None), int)}


def test_options_of_the_right_type_pass_and_an_int_counts_as_a_number():
    assert generator_options("phong_field", options={"coverage_cap": 16})["coverage_cap"] == 16
    assert generator_options("phong_field", options={"coverage_cap": None})["coverage_cap"] is None
    assert generator_options("conv_field", options={"freeze_trunk": True})["freeze_trunk"] is True


def test_an_unknown_or_unimportable_architecture_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("NEURENDER_PLUGINS", "no_such_module,neurender,os,builtins,signal,torch,math")
    with pytest.raises(NeurenderError, match="unknown generator 'nope'"):
        generator_spec("nope")
    with pytest.raises(NeurenderError, match="cannot import 'no_such_module'"):
        generator_spec("no_such_module:Generator")
    with pytest.raises(NeurenderError, match="has no 'Nope'"):
        generator_spec("neurender.models.generators:Nope")
    for not_a_class in ("os:_exit", "builtins:print", "signal:raise_signal", "torch:manual_seed", "math:pi"):
        with pytest.raises(NeurenderError, match="not a generator class"):
            generator_spec(not_a_class)  # never called: a checkpoint's arch cannot run a function


def test_a_plug_in_states_every_capability_a_built_in_can(tmp_path, monkeypatch):
    (tmp_path / "capable.py").write_text(
        "import torch\nclass G(torch.nn.Module):\n    samples_pixels = True\n    renders_crops = True\n"
        "    any_resolution = True\n    family = 'field'\nclass Plain(torch.nn.Module):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("NEURENDER_PLUGINS", "capable")
    spec, plain, field = generator_spec("capable:G"), generator_spec("capable:Plain"), generator_spec("field")
    assert (spec.samples_pixels, spec.renders_crops, spec.any_resolution, spec.family) == (True, True, True, "field")
    assert (plain.samples_pixels, plain.renders_crops, plain.any_resolution, plain.family) == (False, False, False,
                                                                                                 None)
    assert field.family == spec.family == generator_spec("conv_field").family  # init_from may cross them
    sys.modules.pop("capable", None)


def test_a_module_not_listed_in_neurender_plugins_is_never_imported(tmp_path, monkeypatch):
    """A checkpoint names its generator's module; a file of that name where Python looks (here the working
    directory) is not imported, and so not run, unless $NEURENDER_PLUGINS lists it or a package above it."""
    (tmp_path / "planted.py").write_text("import pathlib\npathlib.Path('ran').write_text('ran')\n"
                                         "import torch\nclass G(torch.nn.Module):\n    pass\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for listed in (None, "", "plant", "planted_other, other", "planted.sub"):
        if listed is None:
            monkeypatch.delenv("NEURENDER_PLUGINS", raising=False)
        else:
            monkeypatch.setenv("NEURENDER_PLUGINS", listed)
        with pytest.raises(NeurenderError, match="importing 'planted' runs its code.*NEURENDER_PLUGINS=planted"):
            generator_spec("planted:G")
        assert not (tmp_path / "ran").exists() and "planted" not in sys.modules
    monkeypatch.setenv("NEURENDER_PLUGINS", "other, planted")
    assert generator_spec("planted:G").factory.__name__ == "G" and (tmp_path / "ran").exists()
    sys.modules.pop("planted", None)
    for name, module in (("pkg", "pkg.gen"), ("pkg.gen", "pkg.gen")):
        monkeypatch.setenv("NEURENDER_PLUGINS", name)
        assert allowed_plugin(module)
    monkeypatch.setenv("NEURENDER_PLUGINS", "pkg.gen")
    assert not allowed_plugin("pkg") and not allowed_plugin("pkg.generators")


def test_your_own_generator_trains_exports_loads_and_renders(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.setenv("NEURENDER_PLUGINS", "custom_generator")
    data = merge(to_dict(TrainConfig()), {
        "preset": "easy", "resolution": 32, "out": str(tmp_path / "run"),
        "model": {"arch": "custom_generator:TinyGenerator", "options": {"width": 8}},
        "schedule": {"batch": 8, "warmup_images": 32, "adversarial_images": 0},
        "run": {"tick_images": 16, "val_images": 8, "threads": 1}})
    config = from_dict(data)
    assert config.model.width is None and config.model.options == {"width": 8}
    trainer = Trainer(config)
    trainer.run(progress=False)
    renderer = load_renderer(tmp_path / "run" / "renderer.pt")
    assert type(renderer.generator).__name__ == "TinyGenerator" and renderer.model["options"] == {"width": 8}
    images = renderer.render(sample_scenes(PRESETS["easy"], 1, np.arange(2), 32))
    assert images.shape == (2, 32, 32, 3) and 0 <= images.min() <= images.max() <= 1
    assert torch.equal(renderer.generator.param_norm.mean, trainer.g_ema.param_norm.mean.cpu())  # fitted, kept
    sys.modules.pop("custom_generator", None)


@pytest.mark.slow
def test_the_walked_through_commands_train_and_render_your_own_generator(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(EXAMPLES), os.environ.get("PYTHONPATH", "")]),
           "NEURENDER_PLUGINS": "custom_generator"}
    run = tmp_path / "tiny"
    train = ["train", "--preset", "easy", "--arch", "custom_generator:TinyGenerator", "--warmup-images", "64",
             "--adversarial-images", "0", "--batch", "16", "--tick-images", "32", "--threads", "1", "--out", run]
    subprocess.run([sys.executable, "-m", "neurender", *map(str, train)], env=env, check=True, capture_output=True)
    render = ["render", "--checkpoint", run / "renderer.pt", "--params-csv", DATA / "template" / "params.csv",
              "--out", tmp_path / "renders"]
    subprocess.run([sys.executable, "-m", "neurender", *map(str, render)], env=env, check=True, capture_output=True)
    scenes = len(read_params_csv(DATA / "template" / "params.csv")[0])
    assert len(list((tmp_path / "renders").glob("image_*.png"))) == scenes
    without = subprocess.run([sys.executable, "-m", "neurender", *map(str, render[:-1]), tmp_path / "again"],
                             env={**os.environ, "NEURENDER_PLUGINS": "custom_generator"}, check=False,
                             capture_output=True, text=True)  # listed, but not importable any more
    assert without.returncode == 2 and "cannot import 'custom_generator'" in without.stderr
    unlisted = subprocess.run([sys.executable, "-m", "neurender", *map(str, render[:-1]), tmp_path / "again"],
                              env={**env, "NEURENDER_PLUGINS": ""}, check=False, capture_output=True, text=True)
    assert unlisted.returncode == 2 and unlisted.stderr.count("\n") == 1
    assert "set NEURENDER_PLUGINS=custom_generator" in unlisted.stderr and not (tmp_path / "again").exists()


GOOD_INIT = """
import torch
from torch import nn
class G(nn.Module):
    def __init__(self, resolution, width=4):
        super().__init__()
        self.resolution = resolution
        self.w = nn.Linear(10, 3)
    def forward(self, params):
        b, r = len(params), self.resolution
        return {out}
"""
BROKEN_PLUGINS = {  # module source -> the clause its one error line names
    "import_raises": ("raise RuntimeError('boom at import')", "failed: RuntimeError: boom at import"),
    "syntax": ("def f(:\n    pass", "failed: SyntaxError"),
    "exits": ("import sys\nsys.exit(3)", "failed: SystemExit: 3"),
    "not_a_module": ("class G:\n    def __init__(self, resolution):\n        pass", "not a generator class"),
    "constructor_raises": ("import torch\nclass G(torch.nn.Module):\n    def __init__(self, resolution):\n"
                           "        raise KeyError('width')", "cannot build"),
    "no_parameters": ("import torch\nclass G(torch.nn.Module):\n    def __init__(self, resolution):\n"
                      "        super().__init__()\n    def forward(self, p):\n        return p", "no parameters"),
    "forward_raises": (GOOD_INIT.format(out="1 / 0"), "failed on a batch of 2: ZeroDivisionError"),
    "wrong_shape": (GOOD_INIT.format(out="torch.zeros(b, 3, r, r + 1)"), "returned shape (2, 3, 32, 33)"),
    "wrong_channels": (GOOD_INIT.format(out="torch.zeros(b, 4, r, r)"), "returned shape (2, 4, 32, 32)"),
    "wrong_dtype": (GOOD_INIT.format(out="torch.zeros(b, 3, r, r, dtype=torch.uint8)"), "floating-point"),
    "a_tuple": (GOOD_INIT.format(out="(torch.zeros(b, 3, r, r), None)"), "returned a tuple of 2"),
    "not_a_tensor": (GOOD_INIT.format(out="[0.5] * b"), "returned list"),
    "nan": (GOOD_INIT.format(out="torch.full((b, 3, r, r), float('nan')) + 0 * self.w.weight.sum()"),
            "NaN or infinite"),
    "out_of_range": (GOOD_INIT.format(out="torch.full((b, 3, r, r), 2.0)"), "outside [0, 1]"),
}


@pytest.mark.parametrize("case", list(BROKEN_PLUGINS))
def test_a_broken_plugin_is_one_line_before_the_run_folder_is_made(tmp_path, monkeypatch, case):
    source, clause = BROKEN_PLUGINS[case]
    module = f"broken_{case}"
    (tmp_path / f"{module}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("NEURENDER_PLUGINS", module)
    out = tmp_path / "run"
    result = run("train", "--preset", "easy", "--arch", f"{module}:G", "--warmup-images", 8, "--adversarial-images",
                 0, "--batch", 4, "--tick-images", 4, "--threads", 1, "--out", out, "--config",
                 write_resolution(tmp_path, 32))
    assert_user_error(result, clause)
    assert module in result.output and not out.exists()
    sys.modules.pop(module, None)


def write_resolution(folder, resolution: int):
    path = folder / "small.toml"
    path.write_text(f"resolution = {resolution}\n[run]\nval_images = 4\n")
    return path


@pytest.mark.skipif(not SHIPPED["default"].is_file(), reason="default.pt not in this checkout")
def test_a_renderer_that_draws_nan_is_one_error_not_black_images():
    renderer = load_renderer("default")
    with torch.no_grad():
        next(renderer.generator.parameters()).fill_(float("nan"))
    with pytest.raises(NeurenderError, match="drew NaN or infinite values for 3 of 3 scenes"):
        renderer.render(sample_scenes(PRESETS["default"], 1, np.arange(3)))
