"""docs/architecture.md describes the layout as it is: every module of the package is listed there, each imports
only what is listed above it (the pipeline's order: no import runs back up), and none is over 350 lines."""

import ast
import re

from paths import ROOT

PACKAGE = ROOT / "neurender"


def listed() -> list[str]:
    """The top-level modules and subpackages in the order docs/architecture.md's layout lists them."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    return [m.group(1) for m in re.finditer(r"^  ([a-z_]+)(?:\.py|/)\s", text, re.MULTILINE)]


def test_every_module_is_listed_and_imports_only_what_is_listed_above_it():
    order = listed()
    present = {p.name.removesuffix(".py") for p in PACKAGE.iterdir()
               if p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").is_file())}
    assert present - {"__main__", "errors"} == set(order)  # errors.py: the one exception type, importable anywhere
    rank = {name: i for i, name in enumerate(order)}
    upward = []
    for path in PACKAGE.rglob("*.py"):
        mine = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("neurender."):
                theirs = node.module.split(".")[1]
                if theirs not in (mine, "errors") and mine in rank and rank[theirs] > rank[mine]:
                    upward.append(f"{path.relative_to(ROOT)} imports {node.module}")
    assert upward == []


def test_no_module_is_over_350_lines():
    long = {str(p.relative_to(ROOT)): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > 350}
    assert long == {}
