"""The live viewer's update time on CPU, with a shipped renderer (the viewer's default, universal): server and
real browser.

1. Server: GET /api/render for --count random scenes of --preset (one neural + one exact 128x128 image, FLIP map,
   FLIP / SSIM / masked L1, three PNGs); the server's own milliseconds and the client's round trip.
2. Browser (headless Debian Chromium through Selenium): a slider moved --moves times; milliseconds from the
   input event to the new images being set, measured in the page.
Writes benchmarks/results/viewer_latency.json and a screenshot of the page beside it (--screenshot docs/viewer.png
for the docs' picture).

    python -m benchmarks.speed.viewer_latency [--checkpoint universal] [--preset easy] [--count 50] [--moves 20]
        [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import torch

from benchmarks.arguments import POSITIVE
from benchmarks.record import RESULTS, ROOT, write_record
from neurender.inference import load_renderer
from neurender.presets import PRESETS
from neurender.sampling import sample_scenes
from neurender.viewer.server import serve

MOVE = """
const done = arguments[arguments.length - 1];
const slider = document.getElementById(arguments[0]);
const before = Number(document.body.dataset.renders || 0);
const start = performance.now();
slider.value = arguments[1];
slider.dispatchEvent(new Event("input"));
const poll = () => Number(document.body.dataset.renders || 0) > before ? done(performance.now() - start)
                                                                        : setTimeout(poll, 1);
poll();
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=POSITIVE, default=50)
    parser.add_argument("--moves", type=POSITIVE, default=20)
    parser.add_argument("--threads", type=POSITIVE, default=2)
    parser.add_argument("--checkpoint", default="universal", help="a shipped renderer's name or a renderer file")
    parser.add_argument("--preset", default="easy", choices=sorted(PRESETS))
    parser.add_argument("--out", type=Path, default=RESULTS / "viewer_latency.json")
    parser.add_argument("--screenshot", type=Path, default=None, help="[default: --out with .png]")
    parser.add_argument("--no-browser", action="store_true", help="the server and its round trip only (no Chromium)")
    args = parser.parse_args()
    args.screenshot = args.screenshot or args.out.with_suffix(".png")
    torch.set_num_threads(args.threads)
    server = serve(load_renderer(args.checkpoint), 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    scenes = sample_scenes(PRESETS[args.preset], 1, np.arange(args.count + 1))
    server_ms, round_trip_ms = [], []
    for k, scene in enumerate(scenes):
        start = time.perf_counter()
        with urllib.request.urlopen(f"{url}/api/render?scene=" + ",".join(map(repr, scene.tolist()))) as answer:
            body = json.loads(answer.read())
        if k:  # the first call warms up
            round_trip_ms.append(1000 * (time.perf_counter() - start))
            server_ms.append(body["ms"])
    page_ms = [] if args.no_browser else browser_updates(url, args.moves, args.screenshot)
    server.shutdown()
    results = {"threads": args.threads, "resolution": 128, "checkpoint": args.checkpoint, "preset": args.preset}
    for name, values in (("server_ms", server_ms), ("round_trip_ms", round_trip_ms), ("browser_update_ms", page_ms)):
        if not values:
            continue
        results[name] = {"median": round(float(np.median(values)), 1),
                         "p95": round(float(np.percentile(values, 95)), 1), "count": len(values)}
        print(f"{name:18s} median {results[name]['median']:6.1f} ms, 95th percentile {results[name]['p95']:6.1f} ms "
              f"({len(values)} updates)")
    write_record(args.out, results, args.threads)
    print(f"wrote {args.out}" + ("" if args.no_browser else f" and {args.screenshot}"))


def browser_updates(url: str, moves: int, screenshot: Path) -> list[float]:
    """Milliseconds from a slider move to the page's new image, `moves` times in headless Chromium; then a
    screenshot of a lit scene."""
    sys.path.insert(0, str(ROOT / "tests"))
    from browser import chromium

    browser = chromium()
    try:
        browser.set_window_size(1400, 640)
        browser.get(url + "/")
        time.sleep(2)
        browser.set_script_timeout(30)
        values = np.linspace(-2.0, 6.0, moves + 1)
        page_ms = [browser.execute_async_script(MOVE, "s_tx", str(v)) for v in values][1:]
        for name, value in (("s_tx", "4.4"), ("s_ly", "15"), ("s_lx", "8")):  # a lit scene for the screenshot
            browser.execute_async_script(MOVE, name, value)
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(screenshot))
    finally:
        browser.quit()
    return page_ms


if __name__ == "__main__":
    main()
