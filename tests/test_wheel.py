"""A wheel renders: built from this checkout and installed outside it in a fresh environment (its dependencies taken
from this one), `nr.load_renderer("universal")` and `neurender render` work with the shipped renderers, which the
wheel carries as package data."""

import subprocess
import sys
import venv
from pathlib import Path

from paths import DATA, ROOT


def test_the_wheel_carries_the_shipped_renderers(tmp_path):
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                            str(tmp_path / "dist"), str(ROOT)], capture_output=True, text=True, check=False,
                           cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    wheel = next((tmp_path / "dist").glob("neurender-*.whl"))
    env = tmp_path / "env"
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env)  # torch and the rest from here
    python = env / "bin" / "python"
    installed = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)],
                               capture_output=True, text=True, check=False, cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr
    code = ("import numpy as np, neurender as nr; r = nr.load_renderer('universal'); "
            "print(nr.__file__); print(r.render(nr.sample_scenes(nr.PRESETS['easy'], 1, np.arange(2))).shape)")
    used = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False, cwd=tmp_path)
    assert used.returncode == 0, used.stderr
    where, shape = used.stdout.split()[:2]
    assert Path(where).is_relative_to(env) and shape == "(2,"  # the installed copy, not this checkout
    render = subprocess.run([str(env / "bin" / "neurender"), "render", "--params-csv", str(DATA / "template" /
                             "params.csv"), "--out", str(tmp_path / "renders")], capture_output=True, text=True,
                            check=False, cwd=tmp_path)
    assert render.returncode == 0, render.stderr
    assert len(list((tmp_path / "renders").glob("image_*.png"))) > 0
