"""The command line starts without the heavy libraries: --help and usage errors answer at once."""

import json
import subprocess
import sys

import numpy as np
import pytest

HEAVY = ("torch", "matplotlib", "scipy", "skimage", "flip_evaluator")

PROBE = """
import sys
from neurender.cli import main
for args in ARGS:
    try:
        main(args, standalone_mode=False)
    except BaseException:
        pass
print("heavy:" + ",".join(m for m in HEAVY if m in sys.modules))
"""


def test_help_and_usage_errors_import_no_heavy_library():
    args = [["--help"], ["dataset", "--help"], ["dataset", "generate", "--help"], ["evaluate", "--bogus"],
            ["train", "--out"], ["dataset", "generate", "--count", "x", "--out", "o"], ["results", "--seeds"]]
    code = PROBE.replace("ARGS", repr(args)).replace("HEAVY", repr(HEAVY))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines()[-1] == "heavy:", result.stdout[-500:]


def test_help_lists_every_preset():
    from neurender.presets import PRESETS

    result = subprocess.run([sys.executable, "-m", "neurender", "dataset", "generate", "--help"],
                            capture_output=True, text=True, check=True)
    assert all(name in result.stdout for name in PRESETS)


CHECK = """
import sys
from neurender.cli import main
try:
    main(ARGS, prog_name="neurender")
except SystemExit as e:
    code = e.code
print("heavy:" + ",".join(m for m in HEAVY if m in sys.modules), "exit:", code)
"""

# one bad name or path per command: each is refused before torch (or any other heavy library) is imported
BAD_ARGUMENTS = {
    "dataset generate, preset": ["dataset", "generate", "--preset", "nosuch", "--count", "4", "--out", "NEW"],
    "dataset generate, output": ["dataset", "generate", "--count", "4", "--out", "EXISTS"],
    "dataset merge, input": ["dataset", "merge", "MISSING", "--out", "NEW"],
    "dataset import, input": ["dataset", "import", "MISSING", "--out", "NEW"],
    "dataset info, input": ["dataset", "info", "MISSING"],
    "dataset preview, output": ["dataset", "preview", "EXISTS", "--out", "EXISTS/kept.txt"],
    "train, architecture": ["train", "--arch", "nope", "--preset", "easy", "--out", "NEW"],
    "train, preset": ["train", "--preset", "nosuch", "--out", "NEW"],
    "train, mixture": ["train", "--preset", "easy:1,default:none", "--out", "NEW"],
    "train, mixture preset": ["train", "--preset", "easy:1,nosuch:1", "--out", "NEW"],
    "train, config": ["train", "--config", "MISSING", "--out", "NEW"],
    "train, output": ["train", "--preset", "easy", "--out", "EXISTS"],
    "train, resume": ["train", "--resume", "MISSING", "--out", "NEW"],
    "evaluate, reference": ["evaluate", "--reference", "MISSING", "--predictions", "EXISTS", "--out", "NEW"],
    "evaluate, metric": ["evaluate", "--reference", "EXISTS", "--predictions", "EXISTS", "--metrics", "nope",
                         "--out", "NEW"],
    "evaluate, split": ["evaluate", "--reference", "EXISTS", "--checkpoint", "easy", "--split", "nope", "--out", "NEW"],
    "compare, input": ["compare", "MISSING"],
    "results, preset": ["results", "--presets", "easy,nosuch", "--out", "NEW"],
    "results, checkpoint": ["results", "--checkpoint", "a=MISSING", "--out", "NEW"],
    "render, checkpoint": ["render", "--checkpoint", "MISSING", "--params-csv", "EXISTS", "--out", "NEW"],
    "render, output": ["render", "--checkpoint", "easy", "--params-csv", "EXISTS", "--out", "EXISTS"],
    "animate, preset": ["animate", "--checkpoint", "easy", "--preset", "nosuch", "--out", "NEW.gif"],
    "invert, image": ["invert", "--image", "MISSING", "--out", "NEW"],
    "view, checkpoint": ["view", "--checkpoint", "MISSING"],
    "plot, run": ["plot", "MISSING"],
    "weights fetch, source": ["weights", "fetch", "--source", "MISSING", "--force"],
}


@pytest.mark.parametrize("case", list(BAD_ARGUMENTS))
def test_bad_names_and_paths_are_refused_before_torch_is_imported(case, tmp_path):
    (tmp_path / "exists").mkdir()
    (tmp_path / "exists" / "kept.txt").write_text("an earlier output")  # an empty folder may be written into
    places = {"NEW": str(tmp_path / "new"), "EXISTS": str(tmp_path / "exists"), "MISSING": str(tmp_path / "missing")}
    args = [places.get(a, a.replace("NEW", places["NEW"])) for a in BAD_ARGUMENTS[case]]
    code = CHECK.replace("ARGS", repr(args)).replace("HEAVY", repr(HEAVY))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert result.stdout.splitlines()[-1] == "heavy: exit: 2", (result.stdout[-500:], result.stderr[-500:])
    assert result.stderr.startswith("error:") and len(result.stderr.splitlines()) == 1, result.stderr
    assert not (tmp_path / "new").exists() and not (tmp_path / "new.gif").exists()


def test_evaluate_on_image_folders_leaves_torch_to_its_workers(tmp_path):
    """`neurender evaluate --predictions` scores in worker processes; its own process reads the PNGs and writes
    the outputs without importing torch or scipy (seconds of start-up that would compete with the workers')."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for name in ("refs", "preds"):
        (tmp_path / name).mkdir()
        for frame in range(4):
            image = rng.integers(0, 256, (32, 32, 4), np.uint8)
            Image.fromarray(image).save(tmp_path / name / f"image_{frame:04d}.png")
    args = ["evaluate", "--reference", str(tmp_path / "refs"), "--predictions", str(tmp_path / "preds"),
            "--out", str(tmp_path / "out"), "--workers", "2", "--metrics", "flip,ssim,psnr"]
    code = CHECK.replace("ARGS", repr(args)).replace("HEAVY", repr(("torch", "scipy", "skimage")))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    assert result.stdout.splitlines()[-1] == "heavy: exit: 0", (result.stdout[-500:], result.stderr[-500:])
    report = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert report["count"] == 4 and set(report["metrics"]) == {"flip", "ssim", "psnr"}
