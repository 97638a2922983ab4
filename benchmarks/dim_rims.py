"""Easy Hausdorff's tail, counted finely: one-sided Canny maps over the dim easy scenes of many test seeds.

An image whose Canny edges exist on one side only (the exact image or the prediction) scores the diagonal, 181 px,
and adds 0.30 px to a 600-image set's mean Hausdorff; nearly all of them are dim spheres lit from behind whose only
edge is the specular halo on the outline (docs/experiments.md, entries 25, 27 and 33). A 600-image set holds 0-5,
too few to compare renderers by; this counts them over every dim scene (the exact image's brightest luma below
--max-luma) of --seeds x 600 fresh easy test images, the same images ``neurender results`` scores for those seeds.

``--shrink EPS`` adds a row that is no network: the exact renderer's image of a sphere whose radius is 1 - EPS
(the scene scaled about the camera by 1 / (1 - EPS), which keeps every direction and so the shading; the near plane
moves by the same factor), with the mean Hausdorff over all the seeds' images. It measures how far the statistic
moves under an outline change of a few hundredths of a pixel: the course template draws a 64 x 64 UV sphere, whose
outline lies up to 1 - cos(pi / 64) = 0.12% inside the true one. Writes benchmarks/results/dim_rims.json.

    python benchmarks/dim_rims.py [--checkpoint universal ...] [--shrink 0.0012 ...] [--seeds 101-130]
        [--max-luma 0.4]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from skimage.color import rgb2gray

from neurender.inference import load_renderer
from neurender.metrics.hausdorff import edges, set_distance
from neurender.metrics.images import quantize_8bit, to_float
from neurender.raster import render_spheres_uint8
from neurender.report.results import fresh_test_set
from neurender.scene import DEFAULT_CAMERA, LIGHT, TRANSLATION

COUNT = 600  # test images per seed, as neurender results draws them


def seed_range(text: str) -> list[int]:
    """"101-130" -> [101, ..., 130]; "1,2,3" -> [1, 2, 3]."""
    if "-" in text:
        first, last = (int(x) for x in text.split("-"))
        return list(range(first, last + 1))
    return [int(x) for x in text.split(",")]


def smaller_sphere(params: np.ndarray, eps: float) -> np.ndarray:
    """(N, 10) world-space scenes -> scenes whose exact image is that of a sphere of radius 1 - eps in the given
    scene: centre and light scaled about the camera by 1 / (1 - eps)."""
    camera, scaled = np.array(DEFAULT_CAMERA.position), params.copy()
    for columns in (TRANSLATION, LIGHT):
        scaled[:, columns] = camera + (params[:, columns] - camera) / (1 - eps)
    return scaled


def count_one_sided(label: str, render, seeds: list[int], max_luma: float, every_image: bool) -> dict:
    """Per renderer (render: (n, 10) scenes -> (n, R, R, 3) 8-bit float images): dim scenes, one-sided Canny maps
    among them, and those with edges in the exact image only; with every_image, the mean Hausdorff over all."""
    dim_scenes = one_sided = exact_only = 0
    distances = []
    for seed in seeds:
        params, reference = fresh_test_set("easy", seed, COUNT)
        exact = to_float(reference[..., :3])
        dim = rgb2gray(exact).max((1, 2)) < max_luma  # the luma the Hausdorff metric's Canny reads
        chosen = np.ones(len(params), bool) if every_image else dim
        exact_edges, predicted_edges = edges(exact[chosen]), edges(render(params[chosen]))
        if every_image:
            distances += [set_distance(a, b) for a, b in zip(exact_edges, predicted_edges, strict=True)]
        in_exact, in_predicted = exact_edges.any((1, 2))[dim[chosen]], predicted_edges.any((1, 2))[dim[chosen]]
        dim_scenes += int(dim.sum())
        one_sided += int((in_exact != in_predicted).sum())
        exact_only += int((in_exact & ~in_predicted).sum())
    row = {"renderer": label, "dim_scenes": dim_scenes, "one_sided": one_sided, "edges_in_exact_only": exact_only,
           "per_600_images": round(one_sided / len(seeds), 2)}  # of a 600-image easy test set, from its dim scenes
    if every_image:
        row["hausdorff_every_image"] = round(float(np.mean(distances)), 3)
    return row


def network(name: str):
    renderer = load_renderer(name)
    return lambda params: quantize_8bit(renderer.render(params))


def shrunk(eps: float):
    return lambda params: to_float(render_spheres_uint8(torch.from_numpy(smaller_sphere(params, eps))).numpy()[..., :3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", action="append", help="shipped name or path (repeatable; default universal)")
    parser.add_argument("--shrink", type=float, action="append", default=[],
                        help="add the exact renderer with the sphere's radius 1 - EPS (repeatable)")
    parser.add_argument("--seeds", default="101-130", help="test seeds: FIRST-LAST or a comma-separated list")
    parser.add_argument("--max-luma", type=float, default=0.4, help="a scene is dim below this brightest luma")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "dim_rims.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    seeds = seed_range(args.seeds)
    rows = []
    renderers = [(name, network(name), False) for name in args.checkpoint or ([] if args.shrink else ["universal"])]
    renderers += [(f"exact, sphere radius 1 - {eps}", shrunk(eps), True) for eps in args.shrink]
    for label, render, every_image in renderers:
        row = count_one_sided(label, render, seeds, args.max_luma, every_image)
        rows.append(row)
        extra = f"; mean Hausdorff of every image {row['hausdorff_every_image']} px" if every_image else ""
        print(f"{label}: {row['one_sided']} one-sided of {row['dim_scenes']} dim scenes "
              f"({row['edges_in_exact_only']} with edges in the exact image only){extra}")
    results = {"preset": "easy", "seeds": seeds, "count_per_seed": COUNT, "max_luma": args.max_luma, "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
