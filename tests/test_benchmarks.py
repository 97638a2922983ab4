"""benchmarks/ as a suite: the runner runs every benchmark on tiny inputs and each writes its record with the
shared header; the GPU run scripts name configs that exist; bad arguments are argparse's one error line and exit
code 2, before any work (no traceback, no run that writes zeros with exit 0)."""

import json
import re
import subprocess
import sys

import pytest
from paths import ROOT

BENCHMARKS = ROOT / "benchmarks"
MODULES = {p.stem: f"benchmarks.{p.parent.name}.{p.stem}" for kind in ("speed", "studies")
           for p in (BENCHMARKS / kind).glob("*.py") if p.stem != "__init__"}
BAD = [
    ("dim_rims.py", ["--threads", "0"]), ("inversion.py", ["--count", "0"]), ("inversion.py", ["--seed", "-1"]),
    ("metrics_speed.py", ["--repeats", "-2"]), ("online_train_speed.py", ["--seconds", "0"]),
    ("raster_speed.py", ["--seconds", "-1"]), ("render_speed.py", ["--count", "0"]),
    ("render_speed.py", ["--sizes", "4"]), ("report_recipes.py", ["--recipe", "deconv", "--out", "x",
                                                                   "--seconds", "nan"]),
    ("time_to_quality.py", ["--every", "0"]), ("train_speed.py", ["--threads", "-3"]),
    ("viewer_latency.py", ["--moves", "0"]), ("worst_cases.py", ["--count", "0"]),
    ("resolution_figure.py", ["--sizes", "5"]),
]


@pytest.mark.parametrize("script, args", BAD, ids=[f"{s}{' '.join(a)}" for s, a in BAD])
def test_a_bad_argument_is_one_line_and_exit_2(script, args):
    result = subprocess.run([sys.executable, "-m", MODULES[script.removesuffix(".py")], *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "error:" in result.stderr.strip().splitlines()[-1]


@pytest.mark.slow
def test_the_runner_runs_every_benchmark_on_tiny_inputs_and_each_writes_its_record(tmp_path):
    """About a minute on 2 cores: every script in speed/ and studies/, through the runner, as a user runs them."""
    result = subprocess.run([sys.executable, "-m", "benchmarks", "all", "--quick", "--results", str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    suite = json.loads((tmp_path / "suite-all-quick.json").read_text())
    assert set(suite["benchmarks"]) == set(MODULES)  # a new script is in the runner, or this fails
    for name, row in suite["benchmarks"].items():
        record = json.loads((tmp_path / f"{name}.json").read_text())
        assert row["exit"] == 0 and row["results"] == record["results"] and record["results"], name
        assert {"commit", "changed", "date", "machine", "cpus", "threads", "python", "torch"} <= set(record["header"])
        assert record["header"]["commit"] == suite["header"]["commit"]  # one run, one commit
    assert (tmp_path / "resolution_figure-output.png").is_file() and (tmp_path / "worst_cases-output.png").is_file()
    assert suite["not_run"]["runs"] == sorted(p.name for p in (BENCHMARKS / "runs").glob("*.sh"))


@pytest.mark.parametrize("script", sorted(p.name for p in (BENCHMARKS / "runs").glob("*.sh")))
def test_the_gpu_run_scripts_parse_and_name_configs_that_exist(script):
    path = BENCHMARKS / "runs" / script
    assert subprocess.run(["bash", "-n", str(path)], check=False).returncode == 0
    for config in re.findall(r"^\s*train (configs/\S+\.toml)", path.read_text(), re.MULTILINE):
        assert (ROOT / config).is_file(), config


def test_the_runner_refuses_an_unknown_benchmark():
    result = subprocess.run([sys.executable, "-m", "benchmarks", "speed", "--only", "nope"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2 and "no speed benchmark nope" in result.stderr.strip().splitlines()[-1]
