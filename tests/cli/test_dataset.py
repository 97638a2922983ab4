import shutil

import pytest
from cli_helpers import assert_user_error, run


@pytest.fixture
def small(tmp_path):
    out = tmp_path / "small"
    result = run("dataset", "generate", "--preset", "easy", "--count", 12, "--resolution", 16, "--out", out)
    assert result.exit_code == 0, result.output
    return out


def test_generate_info_preview(small, tmp_path):
    result = run("dataset", "info", small)
    assert result.exit_code == 0 and "12 images, 16x16" in result.output and "empty images: 0.00%" in result.output
    grid = tmp_path / "grid.png"
    result = run("dataset", "preview", small, "--out", grid, "--count", 4)
    assert result.exit_code == 0 and grid.stat().st_size > 1000


def test_python_dash_m_entry_point():
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-m", "neurender", "--help"], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0 and "dataset" in done.stdout


@pytest.mark.parametrize("args, fragment", [
    (["--preset", "medium"], "unknown preset 'medium'"),
    (["--preset", "missing.toml"], "no such preset file"),
    (["--count", 0], "--count"),
    (["--resolution", 4], "--resolution"),
    (["--shard", "3/2"], "shard 3/2"),
    (["--shard", "x"], "--shard must look like"),
    (["--val", 0.6, "--test", 0.6], "splits need"),
])
def test_generate_rejects_bad_input_and_writes_nothing(tmp_path, args, fragment):
    out = tmp_path / "never"
    result = run("dataset", "generate", "--count", 10, "--out", out, *args)
    assert_user_error(result, fragment)
    assert list(tmp_path.iterdir()) == []


def test_impossible_preset_writes_nothing(tmp_path):
    preset = tmp_path / "far.toml"
    preset.write_text("translation = [[-20, -15], [-20, -15], [-20, -15]]\nmin_coverage = 0.5\n")
    result = run("dataset", "generate", "--preset", preset, "--count", 10, "--out", tmp_path / "out")
    assert_user_error(result, "cover")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["far.toml"]


def test_existing_output_is_kept_unless_overwrite(small):
    before = {p.name: p.read_bytes() for p in small.iterdir()}
    result = run("dataset", "generate", "--preset", "easy", "--count", 3, "--resolution", 16, "--out", small)
    assert_user_error(result, "already exists")
    assert {p.name: p.read_bytes() for p in small.iterdir()} == before
    result = run("dataset", "generate", "--count", 3, "--resolution", 16, "--out", small, "--overwrite")
    assert result.exit_code == 0
    assert "3 images" in run("dataset", "info", small).output
    assert [p.name for p in small.parent.iterdir()] == ["small"]  # no staging leftovers


def test_tampered_dataset(small):
    (small / "params.csv").write_text((small / "params.csv").read_text().replace("0.", "1.", 1))
    assert_user_error(run("dataset", "info", small), "checksum")
    (small / "meta.json").write_text("{not json")
    assert_user_error(run("dataset", "info", small), "corrupt")
    assert_user_error(run("dataset", "info", small.parent / "nothing"), "does not exist")


def test_import_errors(tmp_path, data_dir):
    src = tmp_path / "tmpl"
    shutil.copytree(data_dir / "template", src)
    (src / "image_0007.png").unlink()
    assert_user_error(run("dataset", "import", src, "--out", tmp_path / "a"), "missing, first image_0007.png")
    shutil.copy(data_dir / "template" / "image_0007.png", src)
    lines = (src / "params.csv").read_text().splitlines()
    (src / "params.csv").write_text("\n".join(lines[:3] + ["3,1.0,2.0"] + lines[4:]) + "\n")
    assert_user_error(run("dataset", "import", src, "--out", tmp_path / "a"), "params.csv:4: expected 11 values")
    (src / "params.csv").write_text("\n".join(lines[:3] + ["3,a,b,c,d,e,f,g,h,i,j"] + lines[4:]) + "\n")
    assert_user_error(run("dataset", "import", src, "--out", tmp_path / "a"), "not a number")
    (src / "params.csv").write_text("\n".join(lines) + "\n")
    (src / "image_0002.png").write_bytes(b"not a png")
    assert_user_error(run("dataset", "import", src, "--out", tmp_path / "a"), "unreadable image")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tmpl"]
    assert_user_error(run("dataset", "import", tmp_path / "nope", "--out", tmp_path / "a"), "does not exist")


def test_import_then_merge_errors(tmp_path, data_dir, small):
    result = run("dataset", "import", data_dir / "template", "--out", tmp_path / "t")
    assert result.exit_code == 0
    assert_user_error(run("dataset", "merge", small, "--out", tmp_path / "m"), "is not a shard")
