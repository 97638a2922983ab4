"""configs/: every recipe resolves to exactly the configuration it resolved to before its file was shortened with
`extends` (tests/data/configs-resolved.json, written from the files as they were), and `extends` itself."""

import json
from pathlib import Path

import pytest
from paths import DATA, ROOT

from neurender.errors import NeurenderError
from neurender.training.config import TrainConfig, from_dict, load_toml, merge, to_dict

RESOLVED = json.loads((DATA / "configs-resolved.json").read_text())
# settings added after the record was written, which every recipe leaves at their defaults
ADDED = {"loss": {"objectives": {}}, "balance": {"rule": "adaptive", "options": {}}}


def resolve(path: Path) -> dict:
    config = from_dict(merge(to_dict(TrainConfig()), {**load_toml(path), "out": "RUN"}))
    return json.loads(json.dumps(to_dict(config), sort_keys=True))  # tuples as JSON lists, as recorded


@pytest.mark.parametrize("name", sorted(RESOLVED))
def test_every_recipe_resolves_as_it_did(name):
    assert resolve(ROOT / name) == merge(RESOLVED[name], ADDED)


def test_every_config_file_is_recorded_or_a_base_that_recipes_extend():
    files = {str(p.relative_to(ROOT)) for p in (ROOT / "configs").rglob("*.toml")}
    bases = {name for name in files if name.startswith("configs/base/")}
    assert files - bases == set(RESOLVED)
    extended = {str((path.parent / line.split('"')[1]).resolve().relative_to(ROOT))
                for path in map(ROOT.joinpath, files) for line in path.read_text().splitlines()
                if line.startswith("extends = ")}
    assert bases <= extended


def test_extends_merges_section_by_section_and_refuses_cycles(tmp_path):
    (tmp_path / "base.toml").write_text('preset = "easy"\n[schedule]\nbatch = 8\nwarmup_images = 64\n')
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "arm.toml").write_text('extends = "../base.toml"\n[schedule]\nwarmup_images = 32\n')
    assert load_toml(tmp_path / "sub" / "arm.toml") == {"preset": "easy", "schedule": {"batch": 8,
                                                                                        "warmup_images": 32}}
    (tmp_path / "a.toml").write_text('extends = "b.toml"\n')
    (tmp_path / "b.toml").write_text('extends = "a.toml"\n')
    with pytest.raises(NeurenderError, match="makes a cycle"):
        load_toml(tmp_path / "a.toml")
    (tmp_path / "c.toml").write_text("extends = 3\n")
    with pytest.raises(NeurenderError, match="extends must name another config file"):
        load_toml(tmp_path / "c.toml")
    (tmp_path / "d.toml").write_text('extends = "missing.toml"\n')
    with pytest.raises(NeurenderError, match="config not found"):
        load_toml(tmp_path / "d.toml")
