"""Evaluation-suite speed: 600 test images at 128x128 (the easy preset's test split of 6000), every metric.

Predictions are the references with Gaussian noise (sigma 8 levels) and a 1-pixel shift, saved as 8-bit PNGs,
so every metric has real work. Measures each metric alone (in this process, torch's threads) and the full suite
as `neurender evaluate` runs it (worker processes, including their start-up), and writes
benchmarks/results/metrics_speed.json.

    python benchmarks/metrics_speed.py [--workers 2] [--count 600]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from neurender.dataset import GenerateSpec, generate_dataset, open_dataset
from neurender.metrics.images import quantize_8bit, to_float
from neurender.metrics.registry import DEFAULT_METRICS, METRICS, Pair
from neurender.metrics.suite import score
from neurender.presets import PRESETS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--count", type=int, default=600, help="test images (the dataset has 10x as many)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "metrics_speed.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        root = Path(tmp) / "easy"
        generate_dataset(GenerateSpec(PRESETS["easy"], 10 * args.count, 0, 128, 0.1, 0.1), root)
        data = open_dataset(root)
        split = data.split("test")
        rgba = np.asarray(data.images[split.start:split.stop])
    ref = to_float(rgba[..., :3])
    rng = np.random.default_rng(0)
    pred = quantize_8bit(np.clip(np.roll(ref, 1, axis=2) + rng.normal(0, 8 / 255, ref.shape), 0, 1).astype(np.float32))
    mask = rgba[..., 3] > 0
    pair = Pair(ref, pred, mask, np.roll(mask, 1, axis=2))
    n = len(pair)

    results = {"images": n, "resolution": 128, "workers": args.workers, "threads": torch.get_num_threads(),
               "cpus": os.cpu_count(), "machine": platform.processor() or platform.machine(), "metrics": {}}
    print(f"{n} images at 128x128, {os.cpu_count()} CPUs")
    print(f"{'metric':22s} {'seconds':>8s} {'images/s':>9s}   (alone, in-process)")
    for name in DEFAULT_METRICS:
        start = time.perf_counter()
        METRICS[name].compute(pair)
        seconds = time.perf_counter() - start
        results["metrics"][name] = {"seconds": round(seconds, 3), "images_per_s": round(n / seconds, 1)}
        print(f"{name:22s} {seconds:8.2f} {n / seconds:9.1f}")
    start = time.perf_counter()
    score(pair, list(DEFAULT_METRICS), workers=args.workers)
    seconds = time.perf_counter() - start
    results["suite"] = {"seconds": round(seconds, 3), "images_per_s": round(n / seconds, 1)}
    print(f"{'full suite':22s} {seconds:8.2f} {n / seconds:9.1f}   ({args.workers} worker processes, "
          f"start-up included; target <= 20 s)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
