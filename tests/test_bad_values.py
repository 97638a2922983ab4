"""Values that parse but mean nothing, files of the wrong shape or kind, shards, image modes, tampered
checkpoints, NaN metrics: each a one-line error with exit code 2 (or a correct, stated result), inputs intact."""

import json
import math
import shutil
import struct
import zipfile

import numpy as np
import pytest
import torch
from cli_helpers import assert_user_error, run
from PIL import Image

from neurender.dataset import GenerateSpec, generate_dataset, write_params_csv
from neurender.errors import NeurenderError
from neurender.presets import PRESETS
from neurender.report.tables import metrics_table
from neurender.training.checkpoint import load_checkpoint, save_atomic
from neurender.training.config import from_dict
from neurender.training.loop import Trainer


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad_values")
    generate_dataset(GenerateSpec(PRESETS["easy"], 24, 0, 32, 4, 4), root / "ds")
    generate_dataset(GenerateSpec(PRESETS["easy"], 2048, 0, 8, 0, 0), root / "shard", shard=(0, 2))
    config = from_dict({"dataset": str(root / "ds"), "out": str(root / "run"),
                        "model": {"arch": "field", "width": 8},
                        "schedule": {"batch": 8, "pixels_per_image": 16, "warmup_images": 16,
                                     "adversarial_images": 0},
                        "run": {"tick_images": 8, "val_images": 4, "threads": 1}})
    Trainer(config).run(progress=False)
    return root


@pytest.mark.parametrize("args, fragment", [
    (["train", "--preset", "easy", "--arch", "field", "--out", "OUT", "--lr-g", "nan"], "not a finite number"),
    (["train", "--preset", "easy", "--arch", "field", "--out", "OUT", "--lr-d", "inf"], "not a finite number"),
    (["dataset", "generate", "--count", "4", "--out", "OUT", "--val", "nan"], "not a finite number"),
])
def test_non_finite_options(tmp_path, args, fragment):
    assert_user_error(run(*[str(tmp_path / "o") if a == "OUT" else a for a in args]), fragment)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("toml, fragment", [
    ("model = 3", "[model] must be a table"),
    ('[schedule]\nbatch = "x"', "schedule.batch must be an integer"),
    ("[schedule]\nwarmup_images = 1e308", "schedule.warmup_images must be an integer"),
    ("[loss]\nl1_object = inf", "loss.l1_object must be a finite number"),
    ("[loss]\nl1_object = nan", "loss.l1_object must be a finite number"),
    ("[schedule]\nbetas_g = [0.5]", "two numbers"),
    ("resolution = true", "resolution must be an integer"),
    ("[schedule]\npixels_per_image = 10000000", "pixels_per_image must be in [0, resolution^2]"),
    ("[schedule]\npixels_per_image = 16384\nbatch = 1024", "at most 4,194,304"),
    ("resolution = 1024\n[schedule]\nbatch = 1024", "a step's images in memory"),
    ("[run]\nval_images = 100000", "run.val_images x resolution^2 must be at most 134,217,728 pixels"),
    ("resolution = 1024\n[run]\nval_images = 256", "(here 4.3 GB)"),
])
def test_configs_of_the_wrong_shape(tmp_path, toml, fragment):
    config = tmp_path / "c.toml"
    config.write_text(f'preset = "easy"\n{toml}\n')
    result = run("train", "--config", config, "--out", tmp_path / "run", "--dry-run")
    assert_user_error(result, fragment)
    assert "Infinity" not in result.output and "NaN" not in result.output


@pytest.mark.parametrize("preset", ["3", '["easy"]', "{ name = 'easy' }"])
def test_a_config_preset_that_is_not_a_string(tmp_path, preset):
    config = tmp_path / "c.toml"
    config.write_text(f"preset = {preset}\n")
    assert_user_error(run("train", "--config", config, "--out", tmp_path / "run", "--dry-run"),
                      "preset must be a string")


def test_binary_and_directory_files_where_text_belongs(world, tmp_path):
    binary = tmp_path / "c.toml"
    binary.write_bytes(bytes(range(256)))
    assert_user_error(run("train", "--config", binary, "--out", tmp_path / "r"), "not a text file")
    assert_user_error(run("dataset", "generate", "--preset", binary, "--count", 4, "--out", tmp_path / "d"),
                      "not a text file")
    folder = tmp_path / "p.toml"
    folder.mkdir()
    assert_user_error(run("dataset", "generate", "--preset", folder, "--count", 4, "--out", tmp_path / "d"),
                      "is a folder, not a preset file")
    assert_user_error(run("render", "--checkpoint", world / "run" / "renderer.pt", "--params-csv", folder,
                          "--out", tmp_path / "renders"), "cannot read")


def test_scene_parameters_the_camera_cannot_render(world, tmp_path):
    csv = tmp_path / "params.csv"
    for row, fragment in (([1e308, 0, 0, 0.5, 0.5, 0.5, 10, 0, 0, 0], "beyond"),
                          ([0, 0, 0, 0.5, 0.5, 1.5, 10, 0, 0, 0], "outside [0, 1]"),
                          ([0, 0, 0, 0.5, 0.5, 0.5, -1, 0, 0, 0], "shininess")):
        write_params_csv(csv, np.array([0]), np.array([row], dtype=float))
        assert_user_error(run("render", "--checkpoint", world / "run" / "renderer.pt", "--params-csv", csv,
                              "--out", tmp_path / "renders"), fragment)
    csv.write_text("frame,tx,ty,tz,r,g,b,shininess,lx,ly,lz\n")
    assert_user_error(run("render", "--checkpoint", world / "run" / "renderer.pt", "--params-csv", csv,
                          "--out", tmp_path / "renders"), "no scenes to render")
    assert not (tmp_path / "renders").exists()


@pytest.mark.parametrize("seed", ["-1", "99999999999999999999", str(2**63)])
def test_seeds_outside_what_the_generators_take(world, tmp_path, seed):
    renderer = world / "run" / "renderer.pt"
    commands = [["invert", "--checkpoint", renderer, "--dataset", world / "ds", "--seed", seed],
                ["animate", "--checkpoint", renderer, "--seed", seed],
                ["train", "--preset", "easy", "--arch", "field", "--seed", seed],
                ["dataset", "generate", "--count", "4", "--seed", seed],
                ["results", "--seeds", f"1,{seed}"]]
    for args in commands:
        out = tmp_path / "out"
        assert_user_error(run(*args, "--out", out), "seed")
        assert not out.exists()


def test_a_file_where_a_dataset_folder_goes(world, tmp_path):
    file = world / "ds" / "images.npy"
    renderer = world / "run" / "renderer.pt"
    for args in (["dataset", "info", file], ["dataset", "preview", file, "--out", tmp_path / "p.png"],
                 ["invert", "--checkpoint", renderer, "--dataset", file, "--out", tmp_path / "o"],
                 ["render", "--checkpoint", renderer, "--dataset", file, "--out", tmp_path / "o"],
                 ["train", "--dataset", file, "--arch", "field", "--out", tmp_path / "o"],
                 ["dataset", "merge", file, world / "shard", "--out", tmp_path / "o"]):
        assert_user_error(run(*args), "not a dataset folder")
        assert not (tmp_path / "o").exists()


def test_inversion_bounds(world, tmp_path):
    image = ["--dataset", world / "ds", "--limit", "1", "--steps", "2"]
    for option, value in (("--starts", "99999999999999999999"), ("--starts", "10000000"), ("--lr", "1e308"),
                          ("--steps", "10000000000")):
        assert_user_error(run("invert", *image, option, value, "--out", tmp_path / "o"), option)
        assert not (tmp_path / "o").exists()
    # the largest step allowed still leaves every recovered scene renderable
    result = run("invert", *image, "--lr", "10", "--starts", "1", "--out", tmp_path / "o")
    assert result.exit_code == 0, result.output
    result = run("render", "--checkpoint", world / "run" / "renderer.pt", "--params-csv", tmp_path / "o" / "params.csv",
                 "--out", tmp_path / "renders")
    assert result.exit_code == 0, result.output


def test_messages_say_what_is_wrong_in_plain_numbers(tmp_path):
    result = run("dataset", "generate", "--count", "10", "--val", "1e300", "--out", tmp_path / "d")
    assert_user_error(result, "--val 1e+300 is more images than the dataset's 10")
    assert len(result.output) < 120
    assert_user_error(run("dataset", "generate", "--count", "10", "--out", "/proc/neurender-test"),
                      "not a writable folder")


def test_frames_of_a_params_csv(world, tmp_path):
    csv = tmp_path / "params.csv"
    scene = "0,0,-3,0.5,0.5,0.5,10,0,3,0"
    for text, fragment in ((f"100000000000000000000,{scene}\n", "outside 0.."), (f"-1,{scene}\n", "outside 0.."),
                           (f"3,{scene}\n3,{scene}\n", "frame 3 is listed twice")):
        csv.write_text(text)
        assert_user_error(run("render", "--checkpoint", world / "run" / "renderer.pt", "--params-csv", csv,
                              "--out", tmp_path / "renders"), fragment)
        assert not (tmp_path / "renders").exists()
    csv.write_text(f"\ufeffframe,tx,ty,tz,r,g,b,shininess,lx,ly,lz\n5,{scene}\n")  # a byte-order mark
    result = run("render", "--checkpoint", world / "run" / "renderer.pt", "--params-csv", csv,
                 "--out", tmp_path / "renders")
    assert result.exit_code == 0, result.output
    assert [p.name for p in (tmp_path / "renders").glob("image_*.png")] == ["image_0005.png"]


def test_meta_json_of_the_wrong_shape_and_missing_checksums(world, tmp_path):

    for change, fragment in ((lambda m: m.pop("sha256"), "sha256"),
                             (lambda m: m.update(splits=[1, 2]), "splits"),
                             (lambda m: m.update(resolution="big"), "resolution"),
                             (lambda m: m["splits"].update(test=[45, 500]), "past the 24 images"),
                             (lambda m: m["splits"].update(test=[0, 8]), "splits overlap"),
                             (lambda m: m["camera"].update(fov_y_deg=float("nan")), "finite"),
                             (lambda m: m["camera"].update(near=5.0, far=1.0), "near < far"),
                             (lambda m: m["camera"].update(position=[1, 2]), "three finite numbers"),
                             (lambda m: m["camera"].update(zoom=2), "Camera's settings")):
        copy = tmp_path / "ds"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(world / "ds", copy)
        meta = json.loads((copy / "meta.json").read_text())
        change(meta)
        (copy / "meta.json").write_text(json.dumps(meta))
        assert_user_error(run("dataset", "info", copy), fragment)
    (copy / "meta.json").write_text("[1, 2, 3]")
    assert_user_error(run("dataset", "info", copy), "unsupported format version")


def test_logs_of_the_wrong_shape(world, tmp_path):

    shutil.copytree(world / "run", tmp_path / "run")
    (tmp_path / "run" / "log.jsonl").write_text('{"tick": 1}\n')
    assert_user_error(run("plot", tmp_path / "run"), "not a log record")
    (tmp_path / "run" / "log.jsonl").write_bytes(bytes(range(256)))
    assert_user_error(run("plot", tmp_path / "run"), "corrupt")


def test_an_index_that_is_not_a_url(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURENDER_CACHE", str(tmp_path))
    assert_user_error(run("weights", "fetch", "--index", "not a url", "--force"), "not an http(s) or file URL")


def test_shards_are_refused_by_name_where_datasets_go(world, tmp_path):
    shard = world / "shard"
    assert_user_error(run("dataset", "preview", shard, "--out", tmp_path / "g.png"), "is shard 0 of 2")
    assert_user_error(run("train", "--dataset", shard, "--arch", "field", "--out", tmp_path / "r"), "merge the shards")
    assert_user_error(run("evaluate", "--reference", shard, "--checkpoint", world / "run" / "renderer.pt",
                          "--out", tmp_path / "e"), "is shard 0 of 2")


def test_sixteen_bit_and_palette_pngs_score_as_their_eight_bit_originals(tmp_path):
    refs, wide, palette = (tmp_path / n for n in ("refs", "wide", "palette"))
    for folder in (refs, wide, palette):
        folder.mkdir()
    rng = np.random.default_rng(0)
    for k in range(3):
        grey = (rng.integers(0, 4, (32, 32)) * 80).astype(np.uint8)  # four grey levels
        Image.fromarray(np.stack([grey] * 3, -1)).save(refs / f"image_{k:04d}.png")
        Image.fromarray(grey.astype(np.uint16) * 257).save(wide / f"image_{k:04d}.png")  # 16-bit grayscale
        paletted = Image.fromarray(np.stack([grey] * 3, -1)).convert("P", palette=Image.Palette.ADAPTIVE)
        paletted.save(palette / f"image_{k:04d}.png")
    assert Image.open(wide / "image_0000.png").mode.startswith("I")
    for copies, mode in ((wide, "16-bit grayscale"), (palette, "palette")):
        result = run("evaluate", "--reference", refs, "--predictions", copies, "--out", tmp_path / f"e-{mode}",
                     "--metrics", "l1,psnr", "--workers", 1)
        assert result.exit_code == 0, result.output
        assert f"3 {mode}" in result.output  # said so
        report = json.loads((tmp_path / f"e-{mode}" / "metrics.json").read_text())
        assert report["metrics"]["l1"]["mean"] == 0 and report["metrics"]["psnr"]["mean"] == 100


def test_tampered_checkpoints_are_one_line(world, tmp_path):
    renderer = world / "run" / "renderer.pt"
    state = torch.load(renderer, weights_only=True)
    key = next(iter(state["g_ema"]))
    state["g_ema"][key] = state["g_ema"][key] + 1e-3
    torch.save(state, tmp_path / "edited.pt")  # the old checksum, other content
    with pytest.raises(Exception, match="does not match its checksum"):
        load_checkpoint(tmp_path / "edited.pt")
    data = bytearray(renderer.read_bytes())
    with zipfile.ZipFile(renderer) as archive:  # a byte amid the pickle and the tensors' storages (the zip's
        members = [m for m in archive.infolist()  # padding and torch's own serialization id are read by nobody)
                   if m.filename.endswith("data.pkl") or "/data/" in m.filename]
    offsets = []
    for member in members:
        name_length, extra_length = struct.unpack("<HH", data[member.header_offset + 26:member.header_offset + 30])
        offsets.append(member.header_offset + 30 + name_length + extra_length + member.compress_size // 2)
    for offset in offsets[::max(1, len(offsets) // 8)]:
        flipped = bytearray(data)
        flipped[offset] ^= 0xFF
        (tmp_path / "flipped.pt").write_bytes(flipped)
        result = run("render", "--checkpoint", tmp_path / "flipped.pt", "--dataset", world / "ds",
                     "--out", tmp_path / "renders")
        assert_user_error(result, "flipped.pt")
        assert "weights_only" not in result.output
    original = load_checkpoint(renderer)
    for offset in range(0, len(data), max(1, len(data) // 400)):  # across the whole file: refused, or harmless
        flipped = bytearray(data)
        flipped[offset] ^= 0x01
        (tmp_path / "flipped.pt").write_bytes(flipped)
        try:
            state = load_checkpoint(tmp_path / "flipped.pt")
        except NeurenderError:
            continue
        assert state["sha256"] == original["sha256"]  # a bit nobody reads (zip padding, a timestamp)
    for offset in range(64, 200, 9):  # inside the pickle itself: the archive's CRC-32 catches it before unpickling
        flipped = bytearray(data)
        flipped[offset] ^= 0x01
        (tmp_path / "flipped.pt").write_bytes(flipped)
        with pytest.raises(NeurenderError, match="not a readable checkpoint|not a neurender checkpoint"):
            load_checkpoint(tmp_path / "flipped.pt")

    class Evil:
        def __reduce__(self):
            return (print, ("this ran",))

    torch.save({"kind": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(NeurenderError, match="holds code or objects .* not allowed"):
        load_checkpoint(tmp_path / "evil.pt")
    for edit in (lambda s: s.pop("model"), lambda s: s.update(resolution="abc"), lambda s: s.update(resolution=0),
                 lambda s: s.pop("camera"), lambda s: s["model"].update(width="x")):
        handmade = load_checkpoint(renderer)
        handmade.pop("sha256")
        edit(handmade)
        save_atomic(handmade, tmp_path / "handmade.pt")  # a valid checksum over a wrong description
        result = run("render", "--checkpoint", tmp_path / "handmade.pt", "--dataset", world / "ds",
                     "--out", tmp_path / "renders")
        assert_user_error(result, "does not match its description")
    save_atomic(load_checkpoint(renderer), tmp_path / "resaved.pt")  # a round trip keeps a valid checksum
    assert load_checkpoint(tmp_path / "resaved.pt")["g_ema"].keys() == state["g_ema"].keys()


def test_a_nan_metric_is_marked_not_ranked():
    good = {"method": "good", "count": 2, "metrics": {"flip": {"mean": 0.5, "std": 0.1}}}
    broken = {"method": "broken", "count": 2, "metrics": {"flip": {"mean": math.nan, "std": math.nan}}}
    table = metrics_table([good, broken])
    assert "| broken (NaN metric: not ranked) | 2 | not a number |" in table
    assert "**0.5000 ± 0.1000**" in table


def test_training_on_a_dataset_without_validation_images_is_one_line(tmp_path):
    data = tmp_path / "noval"
    assert run("dataset", "generate", "--preset", "easy", "--count", 16, "--resolution", 16, "--val", 0, "--test", 0,
               "--out", data).exit_code == 0
    assert_user_error(run("train", "--dataset", data, "--arch", "field", "--out", tmp_path / "run"),
                      "no validation images (made with --val 0)")
    assert not (tmp_path / "run").exists()


def test_a_run_too_large_for_the_machine_is_refused_up_front_with_the_estimate(tmp_path):
    result = run("train", "--preset", "easy", "--arch", "hybrid", "--width", 1024, "--batch", 4096, "--threads", 1,
                 "--out", tmp_path / "run")
    assert_user_error(result, "of a step's activations at batch 4096), and the CPU has")
    assert "lower schedule.batch or model.width" in result.output and not (tmp_path / "run").exists()
