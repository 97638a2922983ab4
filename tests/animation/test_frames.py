"""Scene paths and the animate command."""

import errno

import numpy as np
import pytest
from cli_helpers import assert_user_error, run
from PIL import Image

from neurender import outputs
from neurender.animation.paths import parse_scene, scene_path

START = np.array([1.0, 2.0, 3.0, 0.2, 0.4, 0.6, 5.0, 10.0, 2.0, -4.0])
END = np.array([-1.0, 0.0, 5.0, 0.6, 0.4, 0.2, 15.0, -10.0, 2.0, 4.0])


def test_paths():
    line = scene_path("line", START, END, 5)
    assert np.array_equal(line[0], START) and np.allclose(line[-1], END) and np.allclose(line[2], (START + END) / 2)
    orbit = scene_path("orbit-light", START, None, 9)
    radius = np.linalg.norm((orbit[:, [7, 9]] - START[[0, 2]]), axis=1)
    assert np.allclose(radius, radius[0]) and np.allclose(orbit[:, 8], 2.0)  # a level circle about the sphere
    assert np.allclose(orbit[:, :7], START[:7]) and np.allclose(orbit[-1], START)
    circle = scene_path("circle", START, None, 9)
    assert np.allclose(np.linalg.norm(circle[:, [0, 2]], axis=1), np.hypot(1, 3))
    assert np.allclose(circle[:, 3:], START[3:])
    sweep = scene_path("shininess", START, END, 3)
    assert np.allclose(sweep[:, 6], [5, 10, 15]) and np.allclose(np.delete(sweep, 6, 1), np.delete(START, 6)[None])


def test_parse_scene():
    assert np.array_equal(parse_scene(",".join(map(str, START)), "--from"), START)
    with pytest.raises(ValueError, match="10 comma-separated"):
        parse_scene("1,2,3", "--from")
    with pytest.raises(ValueError, match="not a number"):
        parse_scene("1,2,3,4,5,6,7,8,9,ten", "--from")


def test_animate_writes_a_gif_of_neural_analytic_and_flip_panels(tmp_path, tiny_renderer):
    out = tmp_path / "anim.gif"
    scene = "0,0,0,0.5,0.2,0.2,10,10,10,10"
    result = run("animate", "--checkpoint", tiny_renderer, "--from", scene, "--to", "1,0,0,0.2,0.5,0.2,10,10,10,10",
                 "--frames", 5, "--flip", "--out", out)
    assert result.exit_code == 0, result.output
    with Image.open(out) as gif:
        assert gif.n_frames == 5 and gif.size == (3 * 32 + 2 * 4, 32)
    result = run("animate", "--checkpoint", tiny_renderer, "--path", "orbit-light", "--frames", 3,
                 "--out", tmp_path / "orbit.gif")
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "orbit.gif") as gif:
        assert gif.n_frames == 3 and gif.size == (2 * 32 + 4, 32)
    result = run("animate", "--checkpoint", tiny_renderer, "--path", "orbit-light", "--frames", 2,
                 "--resolution", 48, "--out", tmp_path / "orbit48.gif")  # a field draws any size
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "orbit48.gif") as gif:
        assert gif.size == (2 * 48 + 4, 48)


def test_animate_bad_input(tmp_path, tiny_renderer):
    out = tmp_path / "anim.gif"
    ok = "0,0,0,0.5,0.2,0.2,10,10,10,10"
    assert_user_error(run("animate", "--checkpoint", tiny_renderer, "--from", "1,2", "--to", ok, "--out", out),
                      "10 comma-separated")
    assert_user_error(run("animate", "--checkpoint", tiny_renderer, "--from", ok, "--to", ok.replace("10", "x", 1),
                          "--out", out), "not a number")
    assert_user_error(run("animate", "--checkpoint", tiny_renderer, "--from", ok, "--frames", 0, "--to", ok,
                          "--out", out), "--frames")
    assert_user_error(run("animate", "--checkpoint", tiny_renderer, "--from", ok, "--out", out), "needs --to")
    assert_user_error(run("animate", "--checkpoint", tiny_renderer, "--path", "circle", "--out", tmp_path / "a.avi"),
                      "use a .gif or .mp4")
    assert_user_error(run("animate", "--checkpoint", tiny_renderer, "--from", ok, "--to",
                          "0,0,0,1.5,0.2,0.2,10,10,10,10", "--out", out), "diffuse r")
    assert_user_error(run("animate", "--checkpoint", "gan", "--path", "circle", "--resolution", 64, "--out", out),
                      "--resolution 64: conv_field draws only the 128 px grid")
    out.write_bytes(b"mine")
    assert_user_error(run("animate", "--checkpoint", tiny_renderer, "--path", "circle", "--out", out),
                      "already exists")
    assert_user_error(run("animate", "--checkpoint", tiny_renderer, "--path", "circle", "--out", tiny_renderer),
                      "is the input")
    assert out.read_bytes() == b"mine" and tiny_renderer.stat().st_size > 1000


def test_a_failed_write_keeps_the_old_file_and_stale_partials_go(tmp_path, tiny_renderer, monkeypatch):
    out = tmp_path / "anim.gif"
    out.write_bytes(b"old")
    stale = tmp_path / ".anim.gif.partial-999999999"
    stale.write_bytes(b"half")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setitem(Image.SAVE_ALL, "GIF", full)
    assert_user_error(run("animate", "--checkpoint", tiny_renderer, "--path", "circle", "--frames", 2, "--overwrite",
                          "--out", out), "the disk is full")
    assert out.read_bytes() == b"old" and not stale.exists()
    assert not list(tmp_path.glob(".anim.gif.*"))
    monkeypatch.undo()
    with outputs.output_lock(out):
        assert_user_error(run("animate", "--checkpoint", tiny_renderer, "--path", "circle", "--frames", 2,
                              "--overwrite", "--out", out), "another neurender process is writing")
    assert run("animate", "--checkpoint", tiny_renderer, "--path", "circle", "--frames", 2, "--overwrite",
               "--out", out).exit_code == 0
    assert out.read_bytes()[:3] == b"GIF"
