"""The command line starts without the heavy libraries: --help and usage errors answer at once."""

import subprocess
import sys

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
