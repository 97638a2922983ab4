"""Evaluation speed: 600 test images at 128x128 (the easy preset's test split of 6000), every metric.

Predictions are the references with Gaussian noise (sigma 8 levels) and a 1-pixel shift, saved as 8-bit PNGs,
so every metric has real work. Measures each metric alone (in this process, torch's threads), the scoring suite
as `neurender evaluate` runs it (worker processes, including their start-up), and what a user waits for:
`neurender evaluate --reference REFS --predictions PREDS --out OUT` on two folders of 600 PNGs, timed from the
shell (start-up, PNG reading, scoring, FLIP maps, figure and tables). The suite and the command take turns,
`--repeats` times each, so that both meet the same machine; the ratio is of their best times (all are written).
Writes benchmarks/results/metrics_speed.json.

    python -m benchmarks.speed.metrics_speed [--workers 2] [--count 600] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from benchmarks.arguments import POSITIVE
from benchmarks.record import RESULTS, write_record
from neurender.dataset import GenerateSpec, generate_dataset, open_dataset
from neurender.metrics.images import quantize_8bit, to_float
from neurender.metrics.registry import DEFAULT_METRICS, METRICS, Pair
from neurender.metrics.suite import score
from neurender.presets import PRESETS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=POSITIVE, default=2)
    parser.add_argument("--count", type=POSITIVE, default=600, help="test images (the dataset has 10x as many)")
    parser.add_argument("--repeats", type=POSITIVE, default=3, help="turns of the suite and the command; best of each")
    parser.add_argument("--out", type=Path, default=RESULTS / "metrics_speed.json")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    tmp = Path(tempfile.mkdtemp(dir="."))
    root = tmp / "easy"
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
    for name, images in (("refs", rgba), ("preds", np.concatenate([(pred * 255).round().astype(np.uint8),
                                                                     np.roll(rgba[..., 3:], 1, axis=2)], -1))):
        (tmp / name).mkdir()
        for k, image in enumerate(images):
            Image.fromarray(image).save(tmp / name / f"image_{k:04d}.png")

    results = {"images": n, "resolution": 128, "workers": args.workers, "threads": torch.get_num_threads(),
               "metrics": {}}
    print(f"{n} images at 128x128, {os.cpu_count()} CPUs")
    print(f"{'metric':22s} {'seconds':>8s} {'images/s':>9s}   (alone, in-process)")
    for name in DEFAULT_METRICS:
        start = time.perf_counter()
        METRICS[name].compute(pair)
        seconds = time.perf_counter() - start
        results["metrics"][name] = {"seconds": round(seconds, 3), "images_per_s": round(n / seconds, 1)}
        print(f"{name:22s} {seconds:8.2f} {n / seconds:9.1f}")
    command = [sys.executable, "-m", "neurender", "evaluate", "--reference", str(tmp / "refs"), "--predictions",
               str(tmp / "preds"), "--workers", str(args.workers)]
    suite, end_to_end = [], []
    for turn in range(args.repeats):  # in turns, so that both meet the same machine
        start = time.perf_counter()
        score(pair, list(DEFAULT_METRICS), workers=args.workers)
        suite.append(time.perf_counter() - start)
        start = time.perf_counter()
        subprocess.run([*command, "--out", str(tmp / f"out-{turn}")], check=True, capture_output=True)
        end_to_end.append(time.perf_counter() - start)
    seconds = min(suite)
    results["suite"] = {"seconds": round(seconds, 3), "images_per_s": round(n / seconds, 1),
                        "turns": [round(t, 3) for t in suite]}
    print(f"{'full suite':22s} {seconds:8.2f} {n / seconds:9.1f}   ({args.workers} worker processes, "
          f"start-up included; best of {args.repeats}: {', '.join(f'{t:.2f}' for t in suite)})")
    seconds = min(end_to_end)
    results["end_to_end"] = {"seconds": round(seconds, 3), "images_per_s": round(n / seconds, 1),
                             "turns": [round(t, 3) for t in end_to_end],
                             "command": "neurender evaluate --reference REFS --predictions PREDS --out OUT "
                                        f"--workers {args.workers}"}
    print(f"{'neurender evaluate':22s} {seconds:8.2f} {n / seconds:9.1f}   (from the shell: start-up, PNG reading, "
          f"scoring, FLIP maps, figure; best of {args.repeats}: {', '.join(f'{t:.2f}' for t in end_to_end)})")
    ratio = seconds / results["suite"]["seconds"]
    results["end_to_end"]["overhead_ratio"] = round(ratio, 3)
    results["end_to_end"]["turn_ratios"] = [round(e / t, 3) for e, t in zip(end_to_end, suite, strict=True)]
    turns = ", ".join(f"{r:.2f}" for r in results["end_to_end"]["turn_ratios"])
    print(f"end to end / suite: {ratio:.2f} (target <= 1.25: the command's start-up, reading and pictures cost at "
          f"most a quarter of the scoring; turn by turn: {turns})")
    shutil.rmtree(tmp)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_record(args.out, results, None)


if __name__ == "__main__":
    main()
