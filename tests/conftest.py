import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
sys.path.insert(0, str(Path(__file__).parent))  # for spec_reference


@pytest.fixture
def data_dir() -> Path:
    return DATA
