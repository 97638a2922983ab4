import os
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
sys.path.insert(0, str(Path(__file__).parent))  # for spec_reference


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def lpips_net():
    """The LPIPS network with the cached weights. CI must have them (its set-up runs `neurender weights fetch`);
    elsewhere the tests that need them are skipped with that advice."""
    from neurender.metrics.lpips import load_lpips
    from neurender.metrics.lpips_weights import weights_path

    if not weights_path().is_file():
        message = f"LPIPS weights not at {weights_path()}: run `neurender weights fetch`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return load_lpips()
