"""The benchmark scripts refuse bad arguments with argparse's one error line and exit code 2, before any work
(no traceback, no run that writes zeros with exit 0)."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
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
    result = subprocess.run([sys.executable, str(BENCHMARKS / script), *args], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and result.stderr.strip().splitlines()[-1].startswith(script)
    assert "error:" in result.stderr.strip().splitlines()[-1]
