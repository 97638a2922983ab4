"""`neurender train`, `render`, `plot` and `evaluate --checkpoint` as users meet them; torchrun; SIGTERM."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from cli_helpers import assert_user_error, run
from paths import CONFIGS

from neurender.dataset import GenerateSpec, generate_dataset, write_params_csv
from neurender.presets import PRESETS
from neurender.training.loop import Trainer

TINY_TOML = """
[model]
width = 32
d_width = 8
[schedule]
batch = 8
warmup_images = 16
adversarial_images = 24
finetune_images = 8
[run]
tick_images = 8
val_images = 8
threads = 1
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli_train")
    generate_dataset(GenerateSpec(PRESETS["easy"], 96, 0, 32, 16, 16), root / "easy32")
    generate_dataset(GenerateSpec(PRESETS["easy"], 48, 0, 16, 8, 8), root / "easy16")
    (root / "tiny.toml").write_text(TINY_TOML)
    result = run("train", "--dataset", root / "easy32", "--out", root / "run", "--config", root / "tiny.toml")
    assert result.exit_code == 0, result.output
    return root


def test_train_writes_a_complete_run(setup):
    names = {p.name for p in (setup / "run").iterdir()}
    assert {"config.json", "log.jsonl", "metrics.jsonl", "latest.pt", "best.pt", "renderer.pt", "samples"} <= names
    config = json.loads((setup / "run" / "config.json").read_text())
    assert config["model"]["width"] == 32 and config["schedule"]["batch"] == 8  # from the TOML


def test_dry_run_prints_the_resolved_config(setup, tmp_path):
    result = run("train", "--dataset", setup / "easy32", "--out", tmp_path / "r", "--config", setup / "tiny.toml",
                 "--arch", "coord", "--lr-g", 0.001, "--dry-run")
    assert result.exit_code == 0
    config = json.loads(result.output)
    assert config["model"]["arch"] == "coord" and config["schedule"]["lr_g"] == 0.001
    assert config["schedule"]["batch"] == 8 and not (tmp_path / "r").exists()


def test_render_plot_and_evaluate_a_checkpoint(setup, tmp_path):
    out = tmp_path / "renders"
    result = run("render", "--checkpoint", setup / "run" / "renderer.pt", "--dataset", setup / "easy32",
                 "--out", out, "--analytic")
    assert result.exit_code == 0, result.output
    assert len(list(out.glob("image_*.png"))) == 16 and len(list((out / "analytic").glob("image_*.png"))) == 16
    csv = tmp_path / "scenes.csv"
    write_params_csv(csv, np.array([7, 9]), np.array([[0, 0, 0, 0.5, 0.5, 0.5, 10, 5, 5, 15],
                                                      [1, 1, 1, 1, 0, 0, 3, -5, 5, 10]], float), header=False)
    result = run("render", "--checkpoint", setup / "run" / "latest.pt", "--params-csv", csv, "--out", tmp_path / "c")
    assert result.exit_code == 0 and {p.name for p in (tmp_path / "c").iterdir()} == {"image_0007.png",
                                                                                       "image_0009.png"}
    result = run("plot", setup / "run", "--out", tmp_path / "plots")
    assert result.exit_code == 0 and {"losses.png", "losses.svg", "accuracy.png", "validation.svg"} <= {
        p.name for p in (tmp_path / "plots").iterdir()}
    result = run("evaluate", "--checkpoint", setup / "run" / "renderer.pt", "--dataset", setup / "easy32",
                 "--out", tmp_path / "eval", "--metrics", "flip,ssim,l1", "--workers", 1)
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["count"] == 16


def test_user_errors(setup, tmp_path):
    args = ["--dataset", setup / "easy32", "--config", setup / "tiny.toml"]
    assert_user_error(run("train", *args, "--out", setup / "run"), "already exists")
    assert_user_error(run("train", *args, "--out", tmp_path / "r", "--config", tmp_path / "none.toml"),
                      "does not exist")
    assert_user_error(run("train", "--resume", tmp_path / "missing.pt"), "no such checkpoint")
    assert_user_error(run("render", "--checkpoint", setup / "run" / "renderer.pt", "--dataset", setup / "easy16",
                          "--out", tmp_path / "x"), "16 px: hybrid draws only the 32 px grid")
    assert_user_error(run("evaluate", "--checkpoint", setup / "run" / "renderer.pt", "--dataset", setup / "easy16",
                          "--out", tmp_path / "x"), "is 16 px: hybrid draws only the 32 px grid")
    assert_user_error(run("render", "--checkpoint", setup / "run" / "renderer.pt", "--dataset", setup / "easy32",
                          "--resolution", "64", "--out", tmp_path / "x"), "64 px: hybrid draws only the 32 px grid")
    assert_user_error(run("render", "--checkpoint", setup / "run" / "renderer.pt", "--dataset", setup / "easy32",
                          "--resolution", "4096", "--out", tmp_path / "x"), "--resolution")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes((setup / "run" / "renderer.pt").read_bytes()[:1000])
    assert_user_error(run("render", "--checkpoint", corrupt, "--dataset", setup / "easy32", "--out", tmp_path / "x"),
                      "not a readable checkpoint")
    assert_user_error(run("train", "--dataset", setup / "easy32", "--out", tmp_path / "r", "--arch", "coord",
                          "--init-from", setup / "run" / "latest.pt", "--config", setup / "tiny.toml"),
                      "holds a hybrid generator")
    assert_user_error(run("plot", tmp_path), "no log.jsonl")
    a_file = tmp_path / "a_file"
    a_file.write_text("mine")
    assert_user_error(run("train", *args, "--out", a_file, "--overwrite"), "not a directory")
    assert_user_error(run("render", "--checkpoint", setup / "run" / "renderer.pt", "--dataset", setup / "easy32",
                          "--out", a_file, "--overwrite"), "not a directory")
    assert a_file.read_text() == "mine"
    assert not (tmp_path / "x").exists()


def _neurender(*args, **kwargs):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env, **kwargs)


def test_torchrun_two_cpu_processes(setup, tmp_path):
    proc = _neurender("-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                      "-m", "neurender", "train",
                      "--dataset", str(setup / "easy32"), "--out", str(tmp_path / "ddp"),
                      "--config", str(setup / "tiny.toml"))
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, output
    records = [json.loads(line) for line in (tmp_path / "ddp" / "log.jsonl").read_text().splitlines()]
    assert records[-1]["images"] >= 48 and len(records) >= 5  # one writer (rank 0), one line per tick
    assert (tmp_path / "ddp" / "renderer.pt").is_file()


@pytest.mark.parametrize("workers, group", [(0, False), (1, True)], ids=["process", "group-with-a-loader"])
def test_sigterm_saves_then_resume_finishes(setup, tmp_path, workers, group):
    """SIGTERM to the trainer alone, and to its whole process group (as `timeout` and a job's end send it), where
    the loader process gets it too and must leave the stop to the trainer."""
    out = tmp_path / "run"
    toml = tmp_path / "long.toml"
    toml.write_text(TINY_TOML.replace("adversarial_images = 24", "adversarial_images = 100000")
                    + f"workers = {workers}\n")
    proc = _neurender("-m", "neurender", "train", "--dataset", str(setup / "easy32"), "--out", str(out),
                      "--config", str(toml), start_new_session=group)
    deadline = time.time() + 120
    while not (out / "latest.pt").exists() and time.time() < deadline:
        time.sleep(0.2)
    if group:
        os.killpg(proc.pid, signal.SIGTERM)
    else:
        proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "interrupted by signal" in output and "--resume latest" in output, output
    assert "Traceback" not in output
    stopped_at = json.loads((out / "log.jsonl").read_text().splitlines()[-1])["images"]
    assert stopped_at < 100000
    assert_user_error(run("train", "--out", out, "--resume", "latest", "--lr-g", 0.5), "--resume")
    resumed = Trainer.resume(out / "latest.pt")
    assert resumed.counters.images >= stopped_at
    resumed.run(stop_at_images=resumed.counters.images + 16, progress=False)


def test_resume_extends_phases_and_dry_run_does_not_train(setup, tmp_path):
    import shutil

    shutil.copytree(setup / "run", tmp_path / "run")
    before = (tmp_path / "run" / "latest.pt").read_bytes()
    result = run("train", "--out", tmp_path / "run", "--resume", "latest", "--finetune-images", 16, "--dry-run")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["schedule"]["finetune_images"] == 16
    assert (tmp_path / "run" / "latest.pt").read_bytes() == before  # nothing trained
    result = run("train", "--out", tmp_path / "run", "--resume", "latest", "--finetune-images", 16)
    assert result.exit_code == 0, result.output
    assert "schedule.finetune_images 8 -> 16" in result.output
    assert_user_error(run("train", "--out", tmp_path / "run", "--resume", "latest", "--lr-g", 0.1), "phase lengths")
    assert_user_error(run("train", "--out", tmp_path / "run", "--resume", "latest", "--adversarial-images", 99),
                      "adversarial phase is over")


def test_evaluations_of_a_run_build_its_history(setup, tmp_path):
    import shutil

    shutil.copytree(setup / "run", tmp_path / "run")
    (tmp_path / "run" / "metrics.jsonl").write_text("")  # other tests evaluate the shared run too
    for k in range(2):
        result = run("evaluate", "--checkpoint", tmp_path / "run" / "renderer.pt", "--dataset", setup / "easy32",
                     "--out", tmp_path / f"eval{k}", "--metrics", "ssim,l1", "--workers", 1)
        assert result.exit_code == 0, result.output
        assert "appended to" in result.output
    evaluations = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert len(evaluations) == 2 and evaluations[0]["checkpoint"] == "renderer.pt"
    assert set(evaluations[0]["metrics"]) == {"ssim", "l1"} and evaluations[0]["images"] > 0
    table = run("compare", tmp_path / "run").output
    assert table.count(f"| run @ {evaluations[0]['images']:,} images (renderer.pt) |") == 2
    result = run("plot", tmp_path / "run")
    assert result.exit_code == 0 and (tmp_path / "run" / "plots" / "evaluations.png").is_file()




@pytest.mark.parametrize("recipe", sorted(str(p.relative_to(CONFIGS)) for p in CONFIGS.rglob("*.toml")
                                           if p.parent.name != "base"))
def test_every_shipped_recipe_resolves(recipe, tmp_path):
    """Every recipe, the stages and ablation arms in configs/'s folders too (configs/base/ holds what they share,
    not recipes)."""
    result = run("train", "--config", CONFIGS / recipe, "--out", tmp_path / "run", "--dry-run")
    assert result.exit_code == 0, result.output
    schedule = json.loads(result.output)["schedule"]
    assert schedule["warmup_images"] + schedule["adversarial_images"] + schedule["finetune_images"] > 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a machine without CUDA")
def test_a_gpu_recipe_without_a_gpu_is_one_error_line(tmp_path):
    configs = CONFIGS
    assert_user_error(run("train", "--config", configs / "easy-gpu.toml", "--out", tmp_path / "run"),
                      "--device cpu runs on the CPU")
    assert not (tmp_path / "run").exists()


def test_a_hand_edited_config_json_is_named_on_resume(setup, tmp_path):
    import shutil

    shutil.copytree(setup / "run", tmp_path / "run")
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    config["loss"]["l1_object"] = 123.0
    config["schedule"]["lr_g"] = 0.5
    (tmp_path / "run" / "config.json").write_text(json.dumps(config))
    result = run("train", "--out", tmp_path / "run", "--resume", "latest", "--finetune-images", 16)
    assert result.exit_code == 0, result.output
    assert "note:" in result.output and "loss.l1_object, schedule.lr_g" in result.output, result.output
    assert json.loads((tmp_path / "run" / "config.json").read_text())["loss"]["l1_object"] != 123.0


def test_one_run_per_folder(setup, tmp_path):
    """While a run folder is being written (its lock held, as a running train holds it), a second train into it
    and a resume of it are each one error line, and the folder is left as it was."""
    from neurender.outputs import output_lock

    args = ["--dataset", setup / "easy32", "--config", setup / "tiny.toml"]
    run_dir = tmp_path / "run"
    with output_lock(run_dir):
        assert_user_error(run("train", *args, "--out", run_dir), "another neurender process is writing")
    assert not run_dir.exists()
    result = run("train", *args, "--out", run_dir)
    assert result.exit_code == 0, result.output
    before = (run_dir / "latest.pt").read_bytes()
    with output_lock(run_dir):
        assert_user_error(run("train", "--out", run_dir, "--resume", "latest", "--warmup-images", 64),
                          "another neurender process is writing")
        assert_user_error(run("train", *args, "--out", run_dir, "--overwrite"), "another neurender process")
    assert (run_dir / "latest.pt").read_bytes() == before
    assert not list(tmp_path.glob(".run.lock"))  # the lock file goes with its holder
