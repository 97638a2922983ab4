"""Easy Hausdorff's tail, counted finely: one-sided Canny maps over the dim easy scenes of many test seeds.

An image whose Canny edges exist on one side only (the exact image or the prediction) scores the diagonal, 181 px,
and adds 0.30 px to a 600-image set's mean Hausdorff; nearly all of them are dim spheres lit from behind whose only
edge is the specular halo on the outline (docs/experiments.md, entries 25, 27 and 33). A 600-image set holds 0-5,
too few to compare renderers by; this counts them over every dim scene (the exact image's brightest luma below
--max-luma) of --seeds x 600 fresh easy test images, the same images ``neurender results`` scores for those seeds.
Writes benchmarks/results/dim_rims.json.

    python benchmarks/dim_rims.py [--checkpoint universal ...] [--seeds 101-130] [--max-luma 0.4]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from skimage.color import rgb2gray

from neurender.inference import load_renderer
from neurender.metrics.hausdorff import edges
from neurender.metrics.images import quantize_8bit, to_float
from neurender.report.results import fresh_test_set

COUNT = 600  # test images per seed, as neurender results draws them


def seed_range(text: str) -> list[int]:
    """"101-130" -> [101, ..., 130]; "1,2,3" -> [1, 2, 3]."""
    if "-" in text:
        first, last = (int(x) for x in text.split("-"))
        return list(range(first, last + 1))
    return [int(x) for x in text.split(",")]


def count_one_sided(name: str, seeds: list[int], max_luma: float) -> dict:
    """Per renderer: dim scenes, one-sided Canny maps among them, and those with edges in the exact image only."""
    renderer = load_renderer(name)
    dim_scenes = one_sided = exact_only = 0
    for seed in seeds:
        params, reference = fresh_test_set("easy", seed, COUNT)
        exact = to_float(reference[..., :3])
        dim = rgb2gray(exact).max((1, 2)) < max_luma  # the luma the Hausdorff metric's Canny reads
        if not dim.any():
            continue
        predicted = quantize_8bit(renderer.render(params[dim]))
        in_exact, in_predicted = edges(exact[dim]).any((1, 2)), edges(predicted).any((1, 2))
        dim_scenes += int(dim.sum())
        one_sided += int((in_exact != in_predicted).sum())
        exact_only += int((in_exact & ~in_predicted).sum())
    return {"checkpoint": name, "dim_scenes": dim_scenes, "one_sided": one_sided, "edges_in_exact_only": exact_only,
            "per_600_images": round(one_sided / len(seeds), 2)}  # of a 600-image easy test set, from its dim scenes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", action="append", help="shipped name or path (repeatable; default universal)")
    parser.add_argument("--seeds", default="101-130", help="test seeds: FIRST-LAST or a comma-separated list")
    parser.add_argument("--max-luma", type=float, default=0.4, help="a scene is dim below this brightest luma")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "dim_rims.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    seeds = seed_range(args.seeds)
    rows = []
    for name in args.checkpoint or ["universal"]:
        row = count_one_sided(name, seeds, args.max_luma)
        rows.append(row)
        print(f"{name}: {row['one_sided']} one-sided of {row['dim_scenes']} dim scenes "
              f"({row['edges_in_exact_only']} with edges in the exact image only)")
    results = {"preset": "easy", "seeds": seeds, "count_per_seed": COUNT, "max_luma": args.max_luma, "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
