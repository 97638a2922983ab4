"""`neurender evaluate` and `neurender compare`: outputs, pairing by frame, parallel = serial, bad input."""

import json

import numpy as np
import pytest
from cli_helpers import assert_user_error, run
from PIL import Image

from neurender.dataset import open_dataset, template_image_name
from neurender.metrics.images import to_float
from neurender.metrics.registry import Pair
from neurender.metrics.suite import score


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval") / "easy"
    result = run("dataset", "generate", "--preset", "easy", "--count", 40, "--resolution", 32, "--test", 10,
                 "--out", out)
    assert result.exit_code == 0, result.output
    return out


def write_predictions(reference, folder, noise=8.0, alpha=False, seed=0):
    """Noisy copies of the reference's test split, as template-named PNGs."""
    data = open_dataset(reference)
    folder.mkdir()
    rng = np.random.default_rng(seed)
    for i in data.split("test"):
        rgba = data.images[i].astype(float)
        rgba[..., :3] += rng.normal(0, noise, rgba[..., :3].shape)
        image = np.clip(rgba, 0, 255).astype(np.uint8)
        Image.fromarray(image if alpha else image[..., :3]).save(folder / template_image_name(data.frames[i]))
    return folder


def test_evaluate_writes_every_output(reference, tmp_path):
    preds = write_predictions(reference, tmp_path / "preds", alpha=True)
    out = tmp_path / "run"
    result = run("evaluate", "--reference", reference, "--predictions", preds, "--out", out, "--workers", 1,
                 "--metrics", "flip,ssim,hausdorff,silhouette_hausdorff,psnr,l1,masked_l1", "--name", "noisy")
    assert result.exit_code == 0, result.output
    assert "| noisy | 10 |" in result.output
    report = json.loads((out / "metrics.json").read_text())
    assert report["count"] == 10 and report["method"] == "noisy"
    for name in ("flip", "ssim", "hausdorff", "silhouette_hausdorff", "psnr", "l1", "masked_l1"):
        stats = report["metrics"][name]
        assert set(stats) >= {"mean", "median", "std", "p95", "count", "better", "convention"}
    assert report["metrics"]["silhouette_hausdorff"]["mean"] == 0.0  # alpha kept exactly
    assert 0 < report["metrics"]["flip"]["mean"] < 0.2
    assert {"torch", "flip-evaluator", "scikit-image"} <= set(report["versions"])
    rows = (out / "per_image.csv").read_text().splitlines()
    assert rows[0].startswith("frame,") and len(rows) == 11
    assert len(list((out / "flip_maps").glob("image_*.png"))) == 10
    assert (out / "side_by_side.png").stat().st_size > 0
    assert (out / "table.md").read_text().startswith("| Method |")


def test_predictions_without_alpha_skip_the_silhouette(reference, tmp_path):
    preds = write_predictions(reference, tmp_path / "preds")
    out = tmp_path / "run"
    result = run("evaluate", "--reference", reference, "--predictions", preds, "--out", out, "--workers", 1,
                 "--metrics", "l1,silhouette_hausdorff")
    assert result.exit_code == 0, result.output
    assert "skipped silhouette_hausdorff" in result.output
    assert "silhouette_hausdorff" in json.loads((out / "metrics.json").read_text())["skipped"]


def test_parallel_scoring_equals_serial(reference):
    data = open_dataset(reference)
    rgba = np.asarray(data.images)
    ref = to_float(rgba[..., :3])
    pred = np.clip(ref[::-1] * 0.9, 0, 1).astype(np.float32)
    pair = Pair(ref, pred, rgba[..., 3] > 0, rgba[::-1, ..., 3] > 0)
    names = ["flip", "ssim", "hausdorff", "silhouette_hausdorff", "l1"]
    serial, parallel = score(pair, names, workers=1), score(pair, names, workers=2)
    assert serial.keys() == parallel.keys()
    for key in serial:
        np.testing.assert_allclose(serial[key], parallel[key], rtol=1e-6, err_msg=key)


def test_compare_merges_runs_and_bolds_the_best(reference, tmp_path):
    runs = []
    for noise in (2.0, 20.0):
        preds = write_predictions(reference, tmp_path / f"p{noise:g}", noise=noise)
        runs.append(tmp_path / f"run{noise:g}")
        assert run("evaluate", "--reference", reference, "--predictions", preds, "--out", runs[-1], "--workers", 1,
                   "--metrics", "flip,l1", "--name", f"noise {noise:g}").exit_code == 0
    result = run("compare", runs[0], runs[1] / "metrics.json", "--out", tmp_path / "table.md")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "| Method | Images | FLIP ↓ | L1 ↓ |"
    assert "**" in lines[2] and "**" not in lines[3]  # the low-noise run is best in both columns
    assert (tmp_path / "table.md").read_text() == result.output
    assert_user_error(run("compare", runs[0], "--out", tmp_path / "table.md"), "already exists")


def test_evaluate_bad_input(reference, tmp_path):
    preds = write_predictions(reference, tmp_path / "preds")
    args = ["evaluate", "--reference", reference, "--predictions", preds, "--workers", 1]
    assert_user_error(run(*args, "--out", tmp_path / "o", "--metrics", "flip,nope"), "unknown metric 'nope'")
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine")
    assert_user_error(run(*args, "--out", existing), "already exists")
    assert (existing / "keep.txt").read_text() == "mine"
    min(preds.iterdir()).unlink()
    assert_user_error(run(*args, "--out", tmp_path / "o"), "have no prediction")
    assert_user_error(run("evaluate", "--reference", reference, "--predictions", tmp_path / "none",
                          "--out", tmp_path / "o"), "does not exist")
    (preds / "image_9999.png").write_bytes(b"garbage")
    assert_user_error(run(*args, "--out", tmp_path / "o"), "unreadable image")
    assert not (tmp_path / "o").exists()
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert_user_error(run("compare", bad), "not an evaluation")


def test_evaluate_all_metrics_in_worker_processes(reference, tmp_path, lpips_net):
    preds = write_predictions(reference, tmp_path / "preds", alpha=True)
    out = tmp_path / "run"
    result = run("evaluate", "--reference", reference, "--predictions", preds, "--out", out, "--workers", 2)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "metrics.json").read_text())
    assert not report["skipped"] and 0 < report["metrics"]["lpips"]["mean"] < 1
