"""The code passes the lint rules that pyproject.toml pins (ruff, a dev dependency), so CI lints as it tests."""

import subprocess
import sys

from paths import ROOT


def test_ruff_finds_nothing():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise",
                             str(ROOT)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
