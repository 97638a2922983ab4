"""Time to quality: every generator trained for the same wall-clock budget on fresh easy scenes, with the
validation FLIP and SSIM of G_ema against training time (validation itself is not counted).

Each architecture runs its recipe from configs/ (upsample, deconv, hybrid, cspup: the report's, also for their
CoordConv twins; field and phong_field: quick.toml, the main job's short schedule; coord: hybrid.toml; conv_field: the
GAN's warm-up on crops from scratch, ablations/gan-scratch-warmup.toml), from scratch (a recipe's init_from is
dropped), on CPU threads.
Writes benchmarks/results/time_to_quality.json and time_to_quality.png.

    python -m benchmarks.studies.time_to_quality [--seconds 120] [--every 30] [--archs field,hybrid] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.arguments import DURATION, POSITIVE, names_in
from benchmarks.record import RESULTS, ROOT, write_record
from neurender.metrics.images import quantize_8bit, to_float
from neurender.metrics.registry import METRICS, Pair
from neurender.models.registry import GENERATORS, REPORT_NAMES
from neurender.report.figures import pyplot
from neurender.training.config import TrainConfig, from_dict, load_toml, merge, to_dict
from neurender.training.loop import Trainer

CONFIGS = ROOT / "configs"
RECIPE = {**{arch: arch.removesuffix("_coord") for arch in REPORT_NAMES}, "coord": "hybrid",
          "field": "quick", "phong_field": "quick", "conv_field": "ablations/gan-scratch-warmup"}
VAL_IMAGES = 64


def config_for(arch: str, out: Path, threads: int) -> TrainConfig:
    data = merge(to_dict(TrainConfig()), load_toml(CONFIGS / f"{RECIPE[arch]}.toml"))
    data = merge(data, {"out": str(out), "init_from": None, "model": {"arch": arch, "width": None},
                        "run": {"threads": threads, "val_images": VAL_IMAGES}})
    return from_dict(data)


def validate(trainer: Trainer) -> dict:
    rgba = trainer.source.val_rgba
    pair = Pair(to_float(rgba[..., :3]), quantize_8bit(trainer.predict(trainer.source.val_encoded)))
    return {name: float(np.mean(METRICS[name].compute(pair)[name])) for name in ("flip", "ssim")}


def run_arch(arch: str, seconds: float, every: float, threads: int, tmp: Path) -> list[dict]:
    trainer = Trainer(config_for(arch, tmp / arch, threads))
    trainer.out.mkdir(parents=True)
    points = [{"seconds": 0.0, "images": 0, **validate(trainer)}]
    trained = 0.0
    while trained < seconds:
        start = time.perf_counter()
        while time.perf_counter() - start < min(every, seconds - trained):
            trainer.iteration()
        trained += time.perf_counter() - start
        points.append({"seconds": round(trained, 1), "images": trainer.counters.images, **validate(trainer)})
        print(f"{arch:9s} {trained:7.1f} s {trainer.counters.images:8d} images  FLIP {points[-1]['flip']:.4f}  "
              f"SSIM {points[-1]['ssim']:.4f}", flush=True)
    return points


def plot(results: dict, out: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for arch, points in results["architectures"].items():
        t = [p["seconds"] / 60 for p in points]
        axes[0].plot(t, [p["flip"] for p in points], marker="o", label=arch)
        axes[1].plot(t, [p["ssim"] for p in points], marker="o", label=arch)
    axes[0].set(xlabel="training minutes", ylabel="validation FLIP (lower is better)", yscale="log")
    axes[1].set(xlabel="training minutes", ylabel="validation SSIM (higher is better)")
    axes[1].legend()
    fig.suptitle(f"time to quality on fresh easy scenes, {results['threads']} CPU threads")
    fig.tight_layout()
    fig.savefig(out, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=DURATION, default=120.0, help="training budget per architecture")
    parser.add_argument("--every", type=DURATION, default=30.0, help="seconds of training between validations")
    parser.add_argument("--archs", type=names_in(RECIPE, "architecture"), default=",".join(GENERATORS))
    parser.add_argument("--threads", type=POSITIVE, default=os.cpu_count())
    parser.add_argument("--out", type=Path, default=RESULTS / "time_to_quality.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = {"seconds": args.seconds, "threads": args.threads, "val_images": VAL_IMAGES, "architectures": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for arch in args.archs:
            results["architectures"][arch] = run_arch(arch, args.seconds, args.every, args.threads, Path(tmp))
    print(f"\nafter {args.seconds:.0f} s of training ({args.threads} threads):")
    name = max(len(arch) for arch in results["architectures"])
    print(f"{'arch':{name}s} {'images':>8s} {'FLIP':>7s} {'SSIM':>7s}")
    for arch, points in results["architectures"].items():
        print(f"{arch:{name}s} {points[-1]['images']:8d} {points[-1]['flip']:7.4f} {points[-1]['ssim']:7.4f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_record(args.out, results, args.threads)
    plot(results, args.out.with_suffix(".png"))
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
