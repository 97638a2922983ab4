"""No gigabytes from a few kilobytes: every image reader refuses images larger than MAX_SIDE from their header
(decompression bombs among them), the analytic inversion descends at a bounded size, and the viewer's upload
uses the same reader (its 16-bit files included). Each case: one error line (JSON for the viewer), inputs
intact, and the memory of a separate process bounded."""

import io
import json
import subprocess
import sys
import urllib.error
import urllib.request

import numpy as np
import pytest
from cli_helpers import assert_user_error, run
from PIL import Image

from neurender.dataset.images import MAX_SIDE


def flat_png(path, side: int, mode: str = "L", value: int = 0):
    """A PNG of one value: a few kilobytes on disk, side x side pixels decoded."""
    Image.new(mode, (side, side), value).save(path, optimize=True)
    return path


@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    root = tmp_path_factory.mktemp("bombs")
    big = flat_png(root / "image_0000.png", 8000)
    assert big.stat().st_size < 100_000  # kilobytes on disk
    folder = root / "folder"
    folder.mkdir()
    flat_png(folder / "image_0001.png", MAX_SIDE + 1)
    (folder / "params.csv").write_text("1,0,0,-3,0.5,0.5,0.5,10,0,3,0\n")  # the template's CSV, no header
    return root


def test_oversized_images_are_refused_by_every_reader(bombs, tmp_path):
    big = bombs / "image_0000.png"
    assert_user_error(run("invert", "--image", big, "--out", tmp_path / "o"), f"larger than the {MAX_SIDE} px")
    assert_user_error(run("invert", "--image", bombs / "folder", "--out", tmp_path / "o"), "larger than")
    assert_user_error(run("dataset", "import", bombs / "folder", "--out", tmp_path / "o"), "larger than")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("side", [13000, 20000], ids=["pillow-warns", "pillow-refuses"])
def test_a_decompression_bomb_is_one_line(tmp_path, side):
    """Past Pillow's warning (89 million pixels) and past its own refusal (twice that): one error line, in a fresh
    process, so that a warning printed to stderr would show."""
    bomb = flat_png(tmp_path / "image_0000.png", side, "1")
    result = subprocess.run([sys.executable, "-m", "neurender", "invert", "--image", str(bomb), "--out",
                             str(tmp_path / "o")], capture_output=True, text=True, check=False)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [f"error: {bomb}: image is larger than the {MAX_SIDE} px a side that "
                                          "neurender reads" if side == 20000 else
                                          f"error: {bomb}: image is {side}x{side}, larger than the {MAX_SIDE} px a "
                                          "side that neurender reads; downscale it first"]
    assert not (tmp_path / "o").exists()


def peak_memory_gb(*args) -> tuple[int, str, float]:
    """Run the CLI in a fresh process: exit code, output, and its peak resident memory in GB (its own: the peak a
    forked process inherits from its parent, a pytest worker holding models, is reset first; Linux /proc)."""
    code = ("import pathlib, sys\npathlib.Path('/proc/self/clear_refs').write_text('5')\n"
            "from neurender.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    code = e.code\n"
            "hwm = [l for l in pathlib.Path('/proc/self/status').read_text().splitlines() if l.startswith('VmHWM')]\n"
            "print('peak', hwm[0].split()[1])\nsys.exit(code)")
    result = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                            check=False)
    peak = int(result.stdout.strip().splitlines()[-1].split()[1]) / 2**20
    return result.returncode, result.stdout + result.stderr, peak


def test_large_images_stay_within_a_memory_ceiling(bombs, tmp_path):
    code, output, peak = peak_memory_gb("invert", "--image", bombs / "image_0000.png", "--out", tmp_path / "o")
    assert code == 2 and "larger than" in output and peak < 1.0, (output, peak)
    image = flat_png(tmp_path / "image_0000.png", MAX_SIDE, "RGB", 40)  # the largest read: descended at 256 px
    code, output, peak = peak_memory_gb("invert", "--image", image, "--starts", 1, "--steps", 2,
                                        "--out", tmp_path / "o")
    assert code == 0 and "resized to 256 px" in output and peak < 2.0, (output, peak)


def post(url, data):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def test_the_viewer_refuses_oversized_uploads_and_reads_16_bit_as_the_cli_does(viewer, tmp_path):
    status, answer = post(viewer + "/api/invert", png_bytes(Image.new("L", (13000, 13000), 128)))
    assert status == 400 and "larger than" in answer["error"]
    grey = np.full((32, 32), 1400, np.uint16)  # 16-bit: 1400 / 65535 of full scale, about 5 in 8 bits
    path = tmp_path / "image_0000.png"
    Image.fromarray(grey).save(path)
    status, answer = post(viewer + "/api/invert", path.read_bytes())
    assert status == 200, answer
    result = run("invert", "--image", path, "--starts", 1, "--steps", 200, "--out", tmp_path / "cli")
    assert result.exit_code == 0, result.output
    cli = np.loadtxt(tmp_path / "cli" / "params.csv", delimiter=",", skiprows=1)[1:]
    # the same reader: the same dim target, so neither finds a bright (saturated) sphere
    assert np.allclose(cli[3:6], answer["scene"][3:6], atol=0.5)
