"""Inverse rendering: recovery error and seconds per image, neural vs analytic backend, on each preset.

For each preset (easy, default): the first --count images of a fresh test set (``neurender dataset generate
--preset P --seed 9``, indices 0 ...), inverted with the CLI's defaults (4 starts x 200 steps) through the
analytic renderer, through the default neural renderer (universal.pt; only the pixels whose coverage can be more
than negligible) and through the same renderer evaluating every pixel (the reference: the same descent, slower).
Prints per backend the median error of each parameter group, the image L1 of the re-render and seconds per
image, and how far apart the two neural paths' recovered scenes are (per parameter group, the largest of the
errors ``parameter_errors`` would give one against the other); writes benchmarks/results/inversion.json.

    python -m benchmarks.studies.inversion [--count 6] [--threads 2]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from benchmarks.arguments import NONNEGATIVE, POSITIVE
from benchmarks.record import RESULTS, write_record
from neurender.inference import load_renderer
from neurender.inversion.fit import InversionConfig, analytic_backend, invert, neural_backend
from neurender.inversion.job import GROUPS, image_facts, parameter_errors
from neurender.presets import load_preset
from neurender.report.results import fresh_test_set


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=POSITIVE, default=6)
    parser.add_argument("--threads", type=POSITIVE, default=2)
    parser.add_argument("--seed", type=NONNEGATIVE, default=9)
    parser.add_argument("--starts", type=POSITIVE, default=InversionConfig.starts, help="per image (the CLI's)")
    parser.add_argument("--steps", type=POSITIVE, default=InversionConfig.steps, help="per start (the CLI's)")
    parser.add_argument("--out", type=Path, default=RESULTS / "inversion.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = InversionConfig(starts=args.starts, steps=args.steps)
    renderer = load_renderer("universal")
    results = {"count": args.count, "seed": args.seed, "threads": args.threads, "config": asdict(config),
               "renderer": "universal", "renderer_images_seen": renderer.images_seen, "presets": {}}
    print(f"{args.count} test images per preset (seed {args.seed}), {config.starts} starts x {config.steps} steps, "
          f"{args.threads} threads, CPU; medians")
    print(f"{'preset':8s} {'backend':18s} {'position':>9s} {'colour':>7s} {'shininess':>9s} {'light':>7s} "
          f"{'image L1':>9s} {'s/image':>8s}")
    for name in ("easy", "default"):
        truth, rgba = fresh_test_set(name, args.seed, args.count)
        targets = rgba[..., :3].astype(np.float32) / 255
        coverage, lit = image_facts(targets)
        results["presets"][name] = {"coverage": coverage.tolist(), "lit": lit.tolist(), "backends": {}}
        found_by = {}
        for backend, kind, render in (
                ("analytic", "analytic", analytic_backend(128, renderer.camera)),
                ("neural", "neural", neural_backend(renderer.generator, 128, renderer.camera)),
                ("neural_every_pixel", "neural",
                 neural_backend(renderer.generator, 128, renderer.camera, every_pixel=True))):
            start = time.perf_counter()
            found, _ = invert(targets, render, kind, load_preset(name), renderer.camera, config)
            found_by[backend] = found
            seconds = (time.perf_counter() - start) / args.count
            with torch.no_grad():
                recovered = render(torch.from_numpy(found).float(), 0.0)[0].numpy()
            errors = parameter_errors(found, truth)
            errors["image_l1"] = np.abs(recovered - targets).mean((1, 2, 3))
            row = {key: float(np.median(errors[key])) for key in (*GROUPS, "image_l1")}
            row["seconds_per_image"] = round(seconds, 2)
            row["per_image"] = {key: errors[key].tolist() for key in (*GROUPS, "image_l1")}
            results["presets"][name]["backends"][backend] = row
            print(f"{name:8s} {backend:18s} {row['position']:9.3f} {row['colour']:7.3f} {row['shininess']:9.2f} "
                  f"{row['light']:7.2f} {row['image_l1']:9.4f} {seconds:8.1f}")
        apart = parameter_errors(found_by["neural"], found_by["neural_every_pixel"])
        apart = {key: float(apart[key].max()) for key in GROUPS}
        results["presets"][name]["neural_paths_largest_difference"] = apart
        print(f"{name:8s} the two neural paths' recovered scenes differ by at most: "
              + ", ".join(f"{key} {value:.2g}" for key, value in apart.items()))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_record(args.out, results, args.threads)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
