"""Inference speed of the shipped neural renderers beside the rasterizer's, on the same scenes, on CPU.

For each shipped checkpoint: images/s of ``Renderer.render`` (batch 64, float RGB out) and of the exact
``render_spheres`` (float RGBA out) on 512 scenes of its preset. Writes benchmarks/results/render_speed.json.

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
from neurender.presets import load_preset, sample_scenes
from neurender.raster import render_spheres

CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"
BATCH = 64


def best_rate(fn, count: int, repeats: int) -> float:
    fn()  # first-call allocations
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return count / min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--count", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "render_speed.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = {"resolution": 128, "batch": BATCH, "threads": args.threads, "count": args.count,
               "machine": platform.processor() or platform.machine(), "renderers": {}}
    print(f"128x128, {args.count} scenes, batch {BATCH}, {args.threads} threads, CPU (best of {args.repeats})")
    print(f"{'checkpoint':12s} {'arch':6s} {'neural img/s':>13s} {'rasterizer img/s':>17s}")
    for name in ("easy", "default"):
        renderer = load_renderer(CHECKPOINTS / f"{name}.pt")
        params = sample_scenes(load_preset(name), 0, np.arange(args.count))
        tensor = torch.from_numpy(params)
        neural = best_rate(lambda r=renderer, p=params: r.render(p, batch=BATCH), args.count, args.repeats)
        exact = best_rate(lambda t=tensor: render_spheres(t), args.count, args.repeats)
        results["renderers"][name] = {"arch": renderer.model["arch"], "neural_images_per_s": round(neural, 1),
                                      "rasterizer_images_per_s": round(exact, 1)}
        print(f"{name:12s} {renderer.model['arch']:6s} {neural:13.1f} {exact:17.1f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
