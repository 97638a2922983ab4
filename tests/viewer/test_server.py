"""The viewer's HTTP answers: pages, renders, random scenes, inversion uploads and bad requests."""

import contextlib
import io
import json
import socket
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import torch
from cli_helpers import assert_user_error, run
from PIL import Image

from neurender.presets import PRESETS
from neurender.raster import render_spheres_uint8
from neurender.sampling import sample_scenes
from neurender.viewer.server import MAX_UPLOAD


def get(url, data=None):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=60) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_page_info_random_and_render(viewer):
    status, page = get(viewer + "/")
    assert status == 200 and b"<input type=\"file\"" in page
    info = json.loads(get(viewer + "/api/info")[1])
    assert info["names"][0] == "tx" and info["resolution"] == 32 and len(info["presets"]["easy"]) == 10
    scene = json.loads(get(viewer + "/api/random?preset=easy&seed=4")[1])["scene"]
    assert np.allclose(scene, sample_scenes(PRESETS["easy"], 4, np.arange(1), 32)[0])
    status, body = get(viewer + "/api/render?scene=" + ",".join(map(str, scene)))
    answer = json.loads(body)
    assert status == 200 and set(answer["metrics"]) == {"flip", "ssim", "masked_l1"}
    exact = np.asarray(Image.open(io.BytesIO(__import__("base64").b64decode(answer["analytic"].split(",")[1]))))
    expected = render_spheres_uint8(torch.tensor([scene], dtype=torch.float64), 32).numpy()[0, ..., :3]
    assert np.array_equal(exact[..., :3], expected)
    assert info["sizes"] == [32, 128, 256, 512] and info["size"] == 32  # a field draws any size
    status, body = get(viewer + "/api/render?size=128&scene=" + ",".join(map(str, scene)))
    neural = json.loads(body)["neural"].split(",")[1]
    neural = np.asarray(Image.open(io.BytesIO(__import__("base64").b64decode(neural))))
    assert status == 200 and neural.shape[:2] == (128, 128)
    status, body = get(viewer + "/api/render?size=64&scene=" + ",".join(map(str, scene)))
    assert status == 400 and b"size must be one of 32, 128, 256, 512" in body


def test_inversion_upload(viewer):
    scene = sample_scenes(PRESETS["easy"], 1, np.arange(1), 32)
    buffer = io.BytesIO()
    Image.fromarray(render_spheres_uint8(torch.from_numpy(scene), 32).numpy()[0]).save(buffer, format="PNG")
    status, body = get(viewer + "/api/invert", buffer.getvalue())
    answer = json.loads(body)
    assert status == 200 and len(answer["scene"]) == 10 and answer["loss"] < 0.05


@pytest.mark.parametrize("path, data, status, fragment", [
    ("/api/render?scene=1,2,3", None, 400, "10 comma-separated"),
    ("/api/render?scene=1,2,3,4,5,6,7,8,9,x", None, 400, "not a number"),
    ("/api/render?scene=0,0,0,2,0,0,10,0,0,0", None, 400, "diffuse r"),
    ("/api/render?scene=0,0,0,0,0,0,10,0,0,nan", None, 400, "not finite"),
    ("/api/render", None, 400, "missing query parameter"),
    ("/api/random?preset=hard", None, 400, "unknown preset"),
    ("/api/random?seed=-1", None, 400, "whole number"),
    ("/api/invert", b"plain text", 400, "unreadable image"),
    ("/api/invert", b"x" * (MAX_UPLOAD + 1), 413, "at most"),
    ("/elsewhere", None, 404, "no page"),
])
def test_bad_requests_get_a_clear_answer_and_the_server_lives_on(viewer, path, data, status, fragment):
    code, body = get(viewer + path, data)
    assert code == status and fragment in json.loads(body)["error"]
    assert get(viewer + "/api/info")[0] == 200


def test_a_scene_without_a_sphere_renders_with_undefined_metrics_as_null(viewer):
    status, body = get(viewer + "/api/render?scene=0,0,40,0.5,0.5,0.5,10,0,0,0")  # behind the camera
    answer = json.loads(body)
    assert status == 200 and answer["metrics"]["masked_l1"] is None and answer["metrics"]["flip"] == 0


def test_view_on_a_port_in_use_is_one_line(tiny_renderer):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert_user_error(run("view", "--checkpoint", tiny_renderer, "--port", port),
                          f"cannot serve on 127.0.0.1:{port}")
    assert_user_error(run("view", "--checkpoint", tiny_renderer.parent / "missing.pt"), "no such file")
    assert_user_error(run("view", "--checkpoint", "gan", "--resolution", 256),
                      "--resolution 256: conv_field draws only the 128 px grid")
    assert_user_error(run("view", "--checkpoint", tiny_renderer, "--resolution", 4), "--resolution")


def raw(viewer: str, request: bytes, wait: float = 30) -> tuple[int, dict]:
    """Send raw bytes; the status and the JSON body of the answer."""
    port = int(viewer.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(1 << 16):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


@pytest.mark.parametrize("request_bytes, status, fragment", [
    (b"GET /api/info HTTP/1.1\r\nHost: evil.example\r\n\r\n", 403, "not to host"),
    ((b"POST /api/invert HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nOrigin: http://evil.example\r\n"
      b"Content-Type: text/plain\r\nContent-Length: 4\r\n\r\nabcd"), 403, "other pages"),
    (b"PUT /api/invert HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\n\r\n", 501, "not implemented"),
    (b"DELETE / HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\n\r\n", 501, "not implemented"),
    (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", 414, "uri too long"),
    (b"GET / HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nX: " + b"a" * 70000 + b"\r\n\r\n", 431, "too large"),
    (b"POST /api/invert HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nContent-Length: \xc2\xb2\r\n\r\n", 411,
     "Content-Length"),
    (b"GET /api/random?seed=%C2%B2 HTTP/1.1\r\nHost: localhost:PORT\r\n\r\n", 400, "whole number"),
])
def test_the_viewer_answers_only_its_own_pages_and_every_error_in_json(viewer, request_bytes, status, fragment):
    port = viewer.rsplit(":", 1)[1].encode()
    code, answer = raw(viewer, request_bytes.replace(b"PORT", port))
    assert code == status and fragment in answer["error"], answer
    assert get(viewer + "/api/info")[0] == 200


@pytest.mark.slow
def test_idle_connections_are_closed_and_bounded(viewer):
    from neurender.viewer import server as server_module

    port = int(viewer.rsplit(":", 1)[1])
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(server_module.MAX_CONNECTIONS + 8)]
    try:  # the extra connections are closed at once, and the server still answers once the idle ones time out
        closed = 0
        for connection in idle[-8:]:
            connection.settimeout(5)
            closed += connection.recv(1) == b""
        assert closed == 8
        idle[0].settimeout(server_module.IDLE_SECONDS + 15)  # an idle connection is closed by the server
        start = time.monotonic()
        assert idle[0].recv(1) == b"" and time.monotonic() - start < server_module.IDLE_SECONDS + 10
    finally:
        for connection in idle:
            connection.close()
    assert get(viewer + "/api/info")[0] == 200


@pytest.mark.slow
def test_clients_that_drip_bytes_or_leave_early_cannot_hold_the_server(viewer, monkeypatch, capfd):
    """Every slot held by a client that sends one header byte at a time is freed once its request has taken
    IDLE_SECONDS (here 1 s) to arrive, and a client that goes away before its answer prints no traceback."""
    from neurender.viewer import server as server_module

    monkeypatch.setattr(server_module, "IDLE_SECONDS", 1.0)
    port = int(viewer.rsplit(":", 1)[1])
    drips = [socket.create_connection(("127.0.0.1", port)) for _ in range(server_module.MAX_CONNECTIONS)]
    try:
        start = time.monotonic()
        while time.monotonic() - start < 2.5:
            for connection in drips:
                with contextlib.suppress(OSError):
                    connection.sendall(b"G")
            time.sleep(0.2)
        assert get(viewer + "/api/info")[0] == 200  # while they still drip
        for connection in drips:  # closed by the server, unanswered
            connection.settimeout(5)
            with contextlib.suppress(ConnectionResetError):  # the server closed it with our drip unread
                assert connection.recv(1 << 16) == b""
    finally:
        for connection in drips:
            connection.close()
    early = socket.create_connection(("127.0.0.1", port))
    early.sendall(f"GET /api/random?preset=easy HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    early.close()  # before the answer
    time.sleep(1.0)
    assert get(viewer + "/api/info")[0] == 200
    assert "Traceback" not in capfd.readouterr().err
