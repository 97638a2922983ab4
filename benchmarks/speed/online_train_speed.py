"""Online training throughput of the field generator: scenes/s through the real Trainer on fresh easy scenes
(drawing, rendering, sampling pixels and the G step; validation not counted), by width, batch, sampled pixels per
scene and loader processes, on this machine's GPU where there is one, else its CPU.
Writes benchmarks/results/online_train_speed-<device>.json.

    python -m benchmarks.speed.online_train_speed [--seconds 15] [--variants 96x64x256x0,128x1024x512x12]

A variant is WIDTHxBATCHxPIXELSxWORKERS.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.arguments import DURATION, POSITIVE
from benchmarks.record import RESULTS, write_record
from neurender.training.config import from_dict
from neurender.training.loop import Trainer

DEFAULT_VARIANTS = "96x64x256x0,96x1024x256x0,96x1024x256x12,96x1024x512x12,128x1024x512x12,128x2048x512x14"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def scenes_per_s(trainer: Trainer, seconds: float) -> float:
    for _ in range(3):  # warm-up: first-call allocations, loader processes starting
        trainer.iteration()
    synchronize(trainer.device)
    start, images = time.perf_counter(), trainer.counters.images
    while time.perf_counter() - start < seconds:
        trainer.iteration()
    synchronize(trainer.device)
    return (trainer.counters.images - images) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=DURATION, default=15.0, help="measuring time per variant")
    parser.add_argument("--variants", default=DEFAULT_VARIANTS, help="WIDTHxBATCHxPIXELSxWORKERS, comma-separated")
    parser.add_argument("--threads", type=POSITIVE, default=2, help="CPU threads of the training process")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    results = {"device": name, "torch": torch.__version__, "threads": args.threads, "seconds": args.seconds,
               "variants": []}
    print(f"field generator, online easy scenes, 128x128, {name}")
    print(f"{'width':>5s} {'batch':>6s} {'pixels':>6s} {'workers':>7s} {'scenes/s':>10s}")
    with tempfile.TemporaryDirectory() as tmp:
        for i, variant in enumerate(args.variants.split(",")):
            width, batch, pixels, workers = (int(x) for x in variant.split("x"))
            config = from_dict({"preset": "easy", "out": str(Path(tmp) / str(i)),
                                "model": {"arch": "field", "width": width},
                                "schedule": {"batch": batch, "warmup_images": 10**12, "adversarial_images": 0},
                                "sampling": {"pixels_per_image": pixels},
                                "run": {"threads": args.threads, "workers": workers, "val_images": 8}})
            trainer = Trainer(config)
            rate = scenes_per_s(trainer, args.seconds)
            del trainer  # its loader processes end with it
            row = {"width": width, "batch": batch, "pixels_per_image": pixels, "workers": workers,
                   "scenes_per_s": round(rate, 1)}
            results["variants"].append(row)
            print(f"{width:5d} {batch:6d} {pixels:6d} {workers:7d} {rate:10.1f}", flush=True)
    slug = "cuda" if device.type == "cuda" else "cpu"
    out = args.out or RESULTS / f"online_train_speed-{slug}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_record(out, results, args.threads)


if __name__ == "__main__":
    main()
