"""Training throughput of every architecture at 128x128, batch 32, on this machine's CPU threads.

For each generator: images/s in the warm-up phase (G alone, masked L1) and in the adversarial phase (a D step
and a G step per batch, balancing off so every architecture does the same work), through the real Trainer
(data loading from a memory-mapped dataset included). Writes benchmarks/results/train_speed.json.

    python -m benchmarks.speed.train_speed [--threads 2] [--seconds 20]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.arguments import DURATION, POSITIVE, names_in
from benchmarks.record import RESULTS, write_record
from neurender.dataset import GenerateSpec, generate_dataset
from neurender.models.registry import GENERATORS
from neurender.presets import PRESETS
from neurender.training.config import from_dict
from neurender.training.loop import Trainer

BATCH = 32


def images_per_s(trainer: Trainer, seconds: float) -> float:
    trainer.iteration()  # warm-up: first-call allocations
    start, images = time.perf_counter(), trainer.counters.images
    while time.perf_counter() - start < seconds:
        trainer.iteration()
    return (trainer.counters.images - images) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=POSITIVE, default=os.cpu_count())
    parser.add_argument("--seconds", type=DURATION, default=20.0, help="measuring time per architecture and phase")
    parser.add_argument("--archs", type=names_in(GENERATORS, "architecture"), default=",".join(GENERATORS),
                        help="comma-separated [default: all]")
    parser.add_argument("--out", type=Path, default=RESULTS / "train_speed.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = {"resolution": 128, "batch": BATCH, "threads": args.threads, "architectures": {}}
    print(f"128x128, batch {BATCH}, {args.threads} threads, CPU")
    print(f"{'arch':10s} {'params G':>10s} {'warm-up img/s':>14s} {'adversarial img/s':>18s}")
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        root = Path(tmp) / "easy"
        generate_dataset(GenerateSpec(PRESETS["easy"], 1024, 0, 128, 0.1, 0.1), root)
        for arch in args.archs:
            row = {}
            for phase, schedule in (("warmup", {"warmup_images": 10**9}),
                                    ("adversarial", {"warmup_images": 0, "adversarial_images": 10**9})):
                config = from_dict({"dataset": str(root), "out": str(Path(tmp) / arch), "model": {"arch": arch},
                                    "schedule": {"batch": BATCH, **schedule}, "balance": {"enabled": False},
                                    "run": {"threads": args.threads}})
                trainer = Trainer(config)
                row[f"{phase}_images_per_s"] = round(images_per_s(trainer, args.seconds), 1)
                row["generator_parameters"] = sum(p.numel() for p in trainer.g.parameters())
            results["architectures"][arch] = row
            print(f"{arch:10s} {row['generator_parameters']:10,d} {row['warmup_images_per_s']:14.1f} "
                  f"{row['adversarial_images_per_s']:18.1f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_record(args.out, results, args.threads)


if __name__ == "__main__":
    main()
