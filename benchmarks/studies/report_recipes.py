"""The course report's recipes within a wall-clock budget: one recipe from configs/ (upsample, deconv, hybrid,
cspup, or one of them with coordinate channels: `--arch hybrid_coord` on configs/hybrid.toml) trained on fresh
easy scenes until its schedule ends or `--seconds` of training have passed, then exported as a renderer whose
`training` record says how many images each phase saw.

Score the exports with `neurender results --presets easy --checkpoint NAME=RUN/renderer.pt ...` (600 images x 3
seeds). Writes the run's record (recipe, arch, device, wall seconds, images, last validation) with the shared
header to RUN/report_recipes.json, or to `--record`.

    python -m benchmarks.studies.report_recipes --recipe hybrid --arch hybrid_coord --seconds 3600 --out RUN
        [--device cuda] [--shading phong] [--film] [--frame]   (the report networks' options, docs/generators.md)
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

import neurender as nr
from benchmarks.arguments import DURATION, NONNEGATIVE, POSITIVE
from benchmarks.record import ROOT, write_record
from neurender.models.registry import REPORT_NAMES
from neurender.models.report import SHADINGS
from neurender.training.config import load_config

CONFIGS = ROOT / "configs"
RECIPES = ("upsample", "deconv", "hybrid", "cspup")


def train(recipe: str, arch: str, seconds: float, out: Path, device: str, threads: int, workers: int,
          schedule: dict, options: dict) -> dict:
    """Train `arch` with generator `options` on configs/<recipe>.toml (its [schedule] updated with `schedule`) for
    at most `seconds` (``neurender.train``'s budget: the schedule ends where the run is, which then validates and
    exports out/renderer.pt as at its end) and return the run's record."""
    config = load_config(CONFIGS / f"{recipe}.toml", out=str(out), model={"arch": arch, "options": options},
                         schedule=schedule, run={"device": device, "threads": threads, "workers": workers})
    planned = config.schedule
    start = time.perf_counter()
    trainer = nr.train(config, stop_after_s=seconds, progress=True)
    wall, images = time.perf_counter() - start, trainer.counters.images
    validation = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])  # the run's last validation
    record = {"recipe": recipe, "arch": arch, "options": options, "schedule": schedule, "device": str(trainer.device),
              "gpu": torch.cuda.get_device_name() if trainer.device.type == "cuda" else None,
              "machine": platform.processor() or platform.machine(), "threads": threads,
              "seconds": round(wall, 1), "budget_seconds": seconds, "images": images,
              "schedule_images": planned.total_images, "finished": images >= planned.total_images,
              "phases": {"warmup": min(images, planned.warmup_images),
                         "adversarial": max(0, images - planned.warmup_images)},
              "validation": {k: validation[k] for k in ("masked_l1", "ssim")}}
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipe", choices=RECIPES, required=True, help="configs/<recipe>.toml")
    parser.add_argument("--arch", choices=list(REPORT_NAMES), help="generator [default: the recipe's]")
    parser.add_argument("--seconds", type=DURATION, default=3600.0, help="wall-clock training budget")
    parser.add_argument("--out", type=Path, required=True, help="run directory (new)")
    parser.add_argument("--record", type=Path, default=None, help="its JSON record [default: RUN/report_recipes.json]")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--threads", type=POSITIVE, default=2)
    parser.add_argument("--workers", type=NONNEGATIVE, default=1, help="processes that draw the scenes ahead")
    parser.add_argument("--warmup-images", type=NONNEGATIVE, help="the recipe's masked-L1 warm-up length, changed")
    parser.add_argument("--adversarial-images", type=NONNEGATIVE, help="the recipe's adversarial phase length, changed")
    parser.add_argument("--lr-decay", choices=("none", "cosine"), help="the recipe's learning-rate decay, changed")
    parser.add_argument("--shading", choices=SHADINGS, default="free", help="the last convolution's channels")
    parser.add_argument("--film", action="store_true", help="FiLM on each stage from the parameters")
    parser.add_argument("--frame", action="store_true", help="coordinates in a frame that follows the sphere")
    args = parser.parse_args()
    if args.out.exists():
        parser.error(f"{args.out} exists")
    changes = {"warmup_images": args.warmup_images, "adversarial_images": args.adversarial_images,
               "lr_decay": args.lr_decay}
    record = train(args.recipe, args.arch or args.recipe, args.seconds, args.out, args.device, args.threads,
                   args.workers, {k: v for k, v in changes.items() if v is not None},
                   {"shading": args.shading, "film": args.film, "frame": args.frame})
    write_record(args.record or args.out / "report_recipes.json", record, args.threads)
    print(json.dumps(record))


if __name__ == "__main__":
    main()
