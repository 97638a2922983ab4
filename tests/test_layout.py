"""The ten-parameter layout lives in neurender/layout.py alone: no code elsewhere spells a parameter's index or
the count as a number (comments and docstrings may: they describe shapes)."""

import io
import re
import tokenize
from pathlib import Path

from paths import ROOT

from neurender.layout import CSV_COLUMNS, DIFFUSE, LIGHT, N_PARAMS, PARAM_NAMES, SHININESS, TRANSLATION

LITERALS = [  # how a parameter index or the count was spelled before it had a name
    re.compile(r"\bslice\(\s*(0|3|6|7)\s*,\s*(3|6|7|10)\s*\)"),  # a group's slice
    re.compile(r"\[\s*:\s*,\s*(0:3|:3|3:6|7:10|7:|6)\s*\]"),  # a group's columns of a batch of scenes
    re.compile(r"\b(empty|zeros|ones|full|rand|randn|reshape|view)\(\(?[^()]*\b10\s*\)"),  # N x 10 arrays
    re.compile(r"\b(range\(10\)|arange\(1,\s*11\b)"),
]


def code_of(path: Path) -> str:
    """The file's code without comments and strings."""
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
    return " ".join(t.string if t.type not in (tokenize.COMMENT, tokenize.STRING) else '""' for t in tokens)


def test_no_parameter_index_literal_outside_the_layout():
    found = []
    for folder in ("neurender", "benchmarks", "examples"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.name == "layout.py":
                continue
            code = code_of(path)
            found += [f"{path.relative_to(ROOT)}: {m.group(0)}" for pattern in LITERALS for m in pattern.finditer(code)]
    assert found == []


def test_the_layout_names_every_parameter_once_in_the_template_order():
    assert PARAM_NAMES == ("tx", "ty", "tz", "r", "g", "b", "shininess", "lx", "ly", "lz")
    assert ("frame", *PARAM_NAMES) == CSV_COLUMNS and N_PARAMS == len(PARAM_NAMES) == 10
    groups = [*range(N_PARAMS)[TRANSLATION], *range(N_PARAMS)[DIFFUSE], SHININESS, *range(N_PARAMS)[LIGHT]]
    assert groups == list(range(N_PARAMS))


def test_the_patterns_find_what_they_are_for():
    code = "x[:, 3:6] + p[:, 6]; np.empty((n, 10)); slice(7, 10); scene_uniforms(s, i, a, slice(0, 10))"
    assert sum(len(pattern.findall(code)) for pattern in LITERALS) == 5
