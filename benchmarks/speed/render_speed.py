"""Inference speed of the shipped neural renderers beside the rasterizer's, on the same scenes, at 128, 256 and
512 px, in one run, on CPU, and the memory a command's batch takes at each size.

For each (renderer, preset) pair and size S: images/s of ``Renderer.render`` (batch 64, float RGB out), of the
same network evaluated at every pixel (the reference that its fast frames equal; only renderers with a coverage
cap have fast frames), and of the exact ``render_spheres`` at S (float RGBA out), on the same scenes of the preset
(the first count x (128 / S)^2 of them at S, so each size takes about as long); the neural renderer's share of the
rasterizer's rate, and at 128 the goal (universal.pt: 1/30 on default scenes, 1/100 on easy). Then, in a fresh
process per renderer and size, the peak resident memory that rendering one batch of 64 of the preset's scenes adds
(the batch the commands use; the images returned are part of it). Writes benchmarks/results/render_speed.json.

    python -m benchmarks.speed.render_speed [--threads 2] [--count 512] [--repeats 3] [--sizes 128,256,512]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

from benchmarks.arguments import POSITIVE
from benchmarks.record import RESULTS, write_record
from neurender.inference import load_renderer
from neurender.models.field import INFERENCE_PIXELS, gated_image
from neurender.presets import load_preset
from neurender.raster import render_spheres
from neurender.sampling import sample_scenes
from neurender.scene import encode_params
from neurender.shipped import SHIPPED

BATCH = 64
PAIRS = [("universal", "easy"), ("universal", "default"), ("easy", "easy"), ("default", "default"),
         ("conv", "visible")]
GOAL = {"easy": 1 / 100, "default": 1 / 30}  # of the rasterizer's images/s at 128 px, for universal.pt (issue 22)


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
    """The network at all S x S pixels of every scene, INFERENCE_PIXELS pixels' worth of whole frames at a time
    (one frame at a time past 256 px), as the field's forward does without a coverage cap (what fast frames skip)."""
    encoded = encode_params(torch.from_numpy(params), camera).float()
    for chunk in encoded.split(max(1, INFERENCE_PIXELS // generator.resolution ** 2)):
        gated_image(*generator.pixel_outputs(chunk))


def status_kb(field: str) -> int:
    """A memory figure of this process from /proc/self/status (Linux), in KB: VmRSS now, VmHWM its peak."""
    line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith(field))
    return int(line.split()[1])


def batch_memory(name: str, preset: str, size: int, threads: int) -> float:
    """MB of peak resident memory that ``Renderer.render`` of BATCH scenes at size x size adds to what the process
    holds before it (run in a fresh process; the peak is reset first through /proc/self/clear_refs, Linux)."""
    torch.set_num_threads(threads)
    renderer = load_renderer(name)
    params = sample_scenes(load_preset(preset), 1, np.arange(BATCH))
    renderer.render(params[:1], device="cpu", resolution=size)  # the model built at this size, first-call buffers
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
    before = status_kb("VmRSS")
    renderer.render(params, batch=BATCH, device="cpu", resolution=size)
    return (status_kb("VmHWM") - before) / 1024


def sizes(text: str) -> list[int]:
    try:
        values = [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of sizes: {text!r}") from None
    if not values or any(not 8 <= v <= 2048 for v in values):
        raise argparse.ArgumentTypeError(f"sizes must be from 8 to 2048 px, got {text!r}")
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=POSITIVE, default=os.cpu_count())
    parser.add_argument("--count", type=POSITIVE, default=512, help="scenes per pair at 128 px")
    parser.add_argument("--repeats", type=POSITIVE, default=3)
    parser.add_argument("--sizes", type=sizes, default=[128, 256, 512])
    parser.add_argument("--out", type=Path, default=RESULTS / "render_speed.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = {"sizes": args.sizes, "batch": BATCH, "threads": args.threads, "count": args.count, "pairs": []}
    print(f"{args.count} scenes at 128 px (count x (128/S)^2 at S), batch {BATCH}, {args.threads} threads, CPU "
          f"(best of {args.repeats}); memory: one batch of {BATCH} in a fresh process")
    print(f"{'renderer':10s} {'preset':8s} {'size':>5s} {'neural img/s':>13s} {'every pixel':>12s} "
          f"{'rasterizer':>11s} {'share':>8s} {'batch MB':>9s} {'goal':>7s}")
    spawn = multiprocessing.get_context("spawn")
    for name, preset in PAIRS:
        if not SHIPPED[name].is_file():
            print(f"{name:10s} {preset:8s} (no {SHIPPED[name].name} in this checkout)")
            continue
        renderer = load_renderer(name)
        scenes = sample_scenes(load_preset(preset), 0, np.arange(args.count))
        for size in args.sizes:
            count = max(1, args.count * 128 ** 2 // size ** 2)
            params = scenes[:count]
            tensor = torch.from_numpy(params)
            neural = best_rate(lambda r=renderer, p=params, s=size: r.render(p, batch=BATCH, device="cpu",
                                                                              resolution=s), count, args.repeats)
            generator = renderer.generator_at(size)
            fast = getattr(generator, "coverage_cap", None) is not None
            full = best_rate(lambda g=generator, p=params, c=renderer.camera: every_pixel(g, p, c), count,
                             args.repeats) if fast else neural
            exact = best_rate(lambda t=tensor, s=size: render_spheres(t, s), count, args.repeats)
            with ProcessPoolExecutor(1, mp_context=spawn) as pool:
                memory = pool.submit(batch_memory, name, preset, size, args.threads).result()
            goal = GOAL[preset] if name == "universal" and size == 128 else None
            row = {"renderer": name, "preset": preset, "resolution": size, "scenes": count,
                   "arch": renderer.model["arch"], "fast_frames": fast, "neural_images_per_s": round(neural, 2),
                   "every_pixel_images_per_s": round(full, 2), "rasterizer_images_per_s": round(exact, 1),
                   "share_of_rasterizer": round(neural / exact, 6), "batch_memory_mb": round(memory, 1),
                   "goal_share": goal, "goal_met": None if goal is None else neural / exact >= goal}
            results["pairs"].append(row)
            goal_text = "" if goal is None else f"1/{round(1 / goal)} {'met' if row['goal_met'] else 'missed'}"
            print(f"{name:10s} {preset:8s} {size:5d} {neural:13.2f} {full:12.2f} {exact:11.1f} "
                  f"1/{exact / neural:<6.0f} {memory:9.0f} {goal_text}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_record(args.out, results, args.threads)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
