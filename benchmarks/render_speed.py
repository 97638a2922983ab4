"""Inference speed of the shipped neural renderers beside the rasterizer's, on the same scenes, in one run, on CPU.

For each (renderer, preset) pair: images/s of ``Renderer.render`` (batch 64, float RGB out), of the same network
evaluated at every pixel (the reference that its fast frames equal; only renderers with a coverage cap have fast
frames), and of the exact ``render_spheres`` (float RGBA out), on the same scenes of the preset; the neural
renderer's share of the rasterizer's rate, and the goal (universal.pt: 1/30 on default scenes, 1/100 on easy).
Writes benchmarks/results/render_speed.json.

    python benchmarks/render_speed.py [--threads 2] [--count 512] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from neurender.inference import load_renderer
from neurender.models.field import INFERENCE_IMAGES, gated_image
from neurender.presets import load_preset, sample_scenes
from neurender.raster import render_spheres
from neurender.scene import encode_params
from neurender.shipped import SHIPPED

BATCH = 64
PAIRS = [("universal", "easy"), ("universal", "default"), ("easy", "easy"), ("default", "default")]
GOAL = {"easy": 1 / 100, "default": 1 / 30}  # of the rasterizer's images/s, for universal.pt (issue 22)


def best_rate(fn, count: int, repeats: int) -> float:
    fn()  # first-call allocations
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return count / min(times)


@torch.no_grad()
def every_pixel(generator, params: np.ndarray, camera) -> None:
    """The network at all R x R pixels of every scene, INFERENCE_IMAGES scenes at a time, as the field's forward
    does without a coverage cap (what fast frames skip)."""
    encoded = encode_params(torch.from_numpy(params), camera).float()
    for chunk in encoded.split(INFERENCE_IMAGES):
        gated_image(*generator.pixel_outputs(chunk))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--count", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "render_speed.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = {"resolution": 128, "batch": BATCH, "threads": args.threads, "count": args.count,
               "machine": platform.processor() or platform.machine(), "torch": torch.__version__, "pairs": []}
    print(f"128x128, {args.count} scenes, batch {BATCH}, {args.threads} threads, CPU (best of {args.repeats})")
    print(f"{'renderer':10s} {'preset':8s} {'neural img/s':>13s} {'every pixel':>12s} {'rasterizer':>11s} "
          f"{'share':>8s} {'goal':>7s}")
    for name, preset in PAIRS:
        if not SHIPPED[name].is_file():
            print(f"{name:10s} {preset:8s} (no {SHIPPED[name].name} in this checkout)")
            continue
        renderer = load_renderer(name)
        params = sample_scenes(load_preset(preset), 0, np.arange(args.count))
        tensor = torch.from_numpy(params)
        neural = best_rate(lambda r=renderer, p=params: r.render(p, batch=BATCH, device="cpu"), args.count,
                           args.repeats)
        fast = getattr(renderer.generator, "coverage_cap", None) is not None
        full = best_rate(lambda g=renderer.generator, p=params, c=renderer.camera: every_pixel(g, p, c), args.count,
                         args.repeats) if fast else neural
        exact = best_rate(lambda t=tensor: render_spheres(t), args.count, args.repeats)
        goal = GOAL[preset] if name == "universal" else None
        row = {"renderer": name, "preset": preset, "arch": renderer.model["arch"], "fast_frames": fast,
               "neural_images_per_s": round(neural, 1), "every_pixel_images_per_s": round(full, 1),
               "rasterizer_images_per_s": round(exact, 1), "share_of_rasterizer": round(neural / exact, 5),
               "goal_share": goal, "goal_met": None if goal is None else neural / exact >= goal}
        results["pairs"].append(row)
        goal_text = "" if goal is None else f"1/{round(1 / goal)} {'met' if row['goal_met'] else 'missed'}"
        print(f"{name:10s} {preset:8s} {neural:13.1f} {full:12.1f} {exact:11.1f} 1/{exact / neural:<6.0f} {goal_text}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
