"""Where the tests find the repository's files, wherever in tests/ they sit."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"  # reference frames and images (tests/data/SOURCES.md)
CONFIGS = ROOT / "configs"
EXAMPLES = ROOT / "examples"
