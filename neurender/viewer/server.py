"""``neurender view``'s server: Python's own ``http.server`` on 127.0.0.1, no web framework.

The page (``page.html``) asks for JSON:
- ``GET /api/info``: parameter names, each preset's ranges, the checkpoint's resolution, the image sizes it can
  draw and the one shown first;
- ``GET /api/render?scene=tx,ty,...&size=N``: the neural and the exact image (N x N, one of the sizes), the
  FLIP map (PNG data URLs), FLIP / SSIM / masked L1 of the neural image, and the milliseconds it took;
- ``GET /api/random?preset=easy&seed=N``: a scene of the preset;
- ``POST /api/invert`` (an image file as the body, at most MAX_UPLOAD bytes): the scene recovered from it by
  the analytic inversion, and its final loss.
A bad request is answered 400 (413: too large) with ``{"error": "..."}``; the server keeps serving.
"""

from __future__ import annotations

import base64
import io
import json
import math
import socket
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from urllib.parse import parse_qs, urlparse

import numpy as np
from PIL import Image

from neurender.animation.frames import compare
from neurender.animation.paths import parse_scene
from neurender.dataset.images import read_png
from neurender.errors import NeurenderError
from neurender.inference import Renderer
from neurender.inversion.fit import InversionConfig, analytic_backend, invert
from neurender.layout import PARAM_NAMES
from neurender.metrics.images import to_uint8
from neurender.presets import MAX_SEED, PRESETS
from neurender.report.figures import magma
from neurender.sampling import sample_scenes
from neurender.scene import scene_problem

METRICS = ("flip", "ssim", "masked_l1")  # scored on every update
MAX_UPLOAD = 4 << 20  # bytes
DRAIN_LIMIT = 64 << 20  # a larger upload is answered without reading it (the client may see a reset instead)
INVERSION = InversionConfig(starts=4, steps=150)  # about 6 s for one 128 px upload on 2 CPU cores
MAX_CONNECTIONS = 32  # open connections at once; more are closed at once
IDLE_SECONDS = 20  # a connection that sends nothing for this long is closed
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")  # the only Host names answered (DNS rebinding)
VIEW_SIZES = (128, 256, 512)  # offered beside the renderer's own by a generator that draws any size


class BadRequest(Exception):
    def __init__(self, message: str, status: HTTPStatus = HTTPStatus.BAD_REQUEST):
        super().__init__(message)
        self.status = status


def _png(image: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


class Viewer:
    """What the handlers answer; one lock keeps torch calls one at a time."""

    def __init__(self, renderer: Renderer, size: int | None = None):
        """size: the image size shown first (the renderer's own by default; ``Renderer.generator_at`` checks it)."""
        self.renderer = renderer
        self.size = size or renderer.resolution
        renderer.generator_at(self.size)
        own = {renderer.resolution, self.size}
        self.sizes = sorted(own | set(VIEW_SIZES)) if renderer.any_resolution else sorted(own)
        self.lock = threading.Lock()

    def info(self) -> dict:
        return {"names": list(PARAM_NAMES), "resolution": self.renderer.resolution, "sizes": self.sizes,
                "size": self.size, "presets": {name: p.ranges().tolist() for name, p in PRESETS.items()}}

    def render(self, query: dict) -> dict:
        scene = parse_scene(_one(query, "scene"), "scene")  # ValueError -> 400
        problem = scene_problem(scene.tolist())
        if problem:
            raise BadRequest(problem)
        size = _one(query, "size", str(self.size))
        if size not in map(str, self.sizes):
            raise BadRequest(f"size must be one of {', '.join(map(str, self.sizes))}, got {size!r}")
        start = time.perf_counter()
        with self.lock:
            images = compare(self.renderer, scene[None], METRICS, resolution=int(size))
        metrics = {k: float(images[k][0]) if np.isfinite(images[k][0]) else None for k in METRICS}  # NaN: no sphere
        return {"neural": _png(to_uint8(images["neural"][0])), "analytic": _png(to_uint8(images["analytic"][0])),
                "flip_map": _png(magma(images["flip_map"][0])), "metrics": metrics,
                "ms": round(1000 * (time.perf_counter() - start), 1)}

    def random(self, query: dict) -> dict:
        preset = _one(query, "preset", "easy")
        if preset not in PRESETS:
            raise BadRequest(f"unknown preset {preset!r}: use {' or '.join(PRESETS)}")
        seed = _one(query, "seed", "0")
        if not (seed.isascii() and seed.isdigit() and int(seed) <= MAX_SEED):
            raise BadRequest(f"seed must be a whole number from 0 to {MAX_SEED}, got {seed!r}")
        scene = sample_scenes(PRESETS[preset], int(seed), np.arange(1), self.renderer.resolution)[0]
        return {"scene": scene.tolist()}

    def invert(self, body: bytes) -> dict:
        r = self.renderer.resolution
        try:  # the command line's reader: the same modes, the same size limit, read from the header first
            rgba = read_png(io.BytesIO(body), r, name="the upload")
        except NeurenderError as e:
            raise BadRequest(str(e)) from None
        target = rgba[None, ..., :3].astype(np.float32) / 255
        with self.lock:
            found, loss = invert(target, analytic_backend(r, self.renderer.camera), "analytic", PRESETS["easy"],
                                  self.renderer.camera, INVERSION)
        return {"scene": found[0].tolist(), "loss": float(loss[0])}


def _one(query: dict, key: str, default: str | None = None) -> str:
    values = query.get(key)
    if not values:
        if default is None:
            raise BadRequest(f"missing query parameter {key!r}")
        return default
    return values[0]


class _DeadlineReader(io.RawIOBase):
    """A connection's bytes, each receive allowed only what is left of the time its request may take to arrive
    (``deadline``, a time.monotonic() value): a client that drips a byte at a time cannot hold its thread beyond
    it, as one that waits between bytes cannot (a socket timeout alone restarts with every byte)."""

    def __init__(self, connection: socket.socket):
        self.connection, self.deadline = connection, math.inf

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request took too long to arrive")
        self.connection.settimeout(left)
        return self.connection.recv_into(buffer)


def make_handler(viewer: Viewer) -> type[BaseHTTPRequestHandler]:
    page = files("neurender.viewer").joinpath("page.html").read_bytes()

    class Handler(BaseHTTPRequestHandler):
        timeout = IDLE_SECONDS  # on the socket: an idle or slow client does not hold a thread for ever

        def log_message(self, format, *args):  # quiet: the page polls often
            pass

        def setup(self):
            super().setup()
            self.rfile.close()  # the socket's own buffered reader; the connection stays open
            self.reader = _DeadlineReader(self.connection)
            self.rfile = io.BufferedReader(self.reader)

        def handle_one_request(self):
            """One request, which must arrive whole (request line, headers, body) within IDLE_SECONDS of the
            previous answer; a client that goes away before its answer ends its connection quietly."""
            self.reader.deadline = time.monotonic() + IDLE_SECONDS
            try:
                super().handle_one_request()
            except (ConnectionError, TimeoutError):  # BrokenPipe, reset, a request too slow to arrive
                self.close_connection = True

        def send_error(self, code, message=None, explain=None):
            """Every error the HTTP machinery answers (414, 431, 501, a bad request line) as JSON too."""
            self.close_connection = True
            status = HTTPStatus(code)
            self._error(status, f"{status.phrase.lower()}: {message or status.description}")

        def _addressed_here(self) -> bool:
            """The Host is a loopback name with this server's port, and a cross-origin request (any Origin but
            this page's) is refused: a web page elsewhere cannot drive the viewer (DNS rebinding, CSRF)."""
            port = self.server.server_address[1]
            here = {f"{name}:{port}" for name in LOOPBACK_NAMES}
            host, origin = self.headers.get("Host", ""), self.headers.get("Origin")
            if host not in here:
                self._error(HTTPStatus.FORBIDDEN, f"the viewer answers requests to 127.0.0.1:{port} or "
                                                  f"localhost:{port} only, not to host {host!r}")
                return False
            if origin is not None and origin not in {f"http://{name}" for name in here}:
                self._error(HTTPStatus.FORBIDDEN, f"requests from other pages ({origin}) are not accepted")
                return False
            return True

        def _send(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status: int, message: str) -> None:
            self._send(status, json.dumps({"error": message}).encode(), "application/json")

        def _json(self, work) -> None:
            try:
                status, answer = HTTPStatus.OK, work()
            except BadRequest as e:
                status, answer = e.status, {"error": str(e)}
            except ValueError as e:
                status, answer = HTTPStatus.BAD_REQUEST, {"error": str(e)}
            self._send(status, json.dumps(answer).encode(), "application/json")

        def do_GET(self):
            if not self._addressed_here():
                return
            url = urlparse(self.path)
            query = parse_qs(url.query)
            routes = {"/api/info": lambda: viewer.info(), "/api/render": lambda: viewer.render(query),
                      "/api/random": lambda: viewer.random(query)}
            if url.path in ("/", "/index.html"):
                self._send(HTTPStatus.OK, page, "text/html; charset=utf-8")
            elif url.path in routes:
                self._json(routes[url.path])
            else:
                self._error(HTTPStatus.NOT_FOUND, f"no page {url.path}")

        def do_POST(self):
            if not self._addressed_here():
                return
            if urlparse(self.path).path != "/api/invert":
                self._error(HTTPStatus.NOT_FOUND, f"no endpoint {self.path}")
                return
            length = self.headers.get("Content-Length", "")
            if not (length.isascii() and length.isdigit()):
                self._error(HTTPStatus.LENGTH_REQUIRED, "the upload needs a Content-Length")
                return
            if int(length) > MAX_UPLOAD:
                if int(length) <= DRAIN_LIMIT:  # read and drop it, so that the client reads the answer
                    for offset in range(0, int(length), 1 << 20):
                        self.rfile.read(min(1 << 20, int(length) - offset))
                self.close_connection = True
                self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                            f"the upload has {int(length):,} bytes; at most {MAX_UPLOAD:,} are accepted")
                return
            body = self.rfile.read(int(length))
            self._json(lambda: viewer.invert(body))

    return Handler


class _Server(ThreadingHTTPServer):
    """A thread per connection, at most MAX_CONNECTIONS of them: a further connection is closed unanswered."""

    daemon_threads = True

    def __init__(self, address, handler):
        super().__init__(address, handler)
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def process_request(self, request, client_address):
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def handle_error(self, request, client_address):
        """A connection that failed as connections do (closed, reset, timed out) is no news; anything else is
        printed as socketserver prints it."""
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


def serve(renderer: Renderer, port: int, size: int | None = None) -> ThreadingHTTPServer:
    """A server on 127.0.0.1:port (0: any free port) for ``renderer``, showing `size` px images first (``Viewer``);
    call serve_forever() on it."""
    return _Server(("127.0.0.1", port), make_handler(Viewer(renderer, size)))
