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

    python -m benchmarks.studies.dim_rims [--checkpoint universal ...] [--shrink 0.0012 ...] [--seeds 101-130]
        [--max-luma 0.4]
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from skimage.color import rgb2gray

from benchmarks.arguments import POSITIVE
from benchmarks.record import RESULTS, write_record
from neurender.errors import NeurenderError
from neurender.inference import load_renderer
from neurender.layout import LIGHT, TRANSLATION
from neurender.metrics.hausdorff import edges, set_distance
from neurender.metrics.images import quantize_8bit, to_float
from neurender.raster import render_spheres_uint8
from neurender.report.results import fresh_test_set
from neurender.scene import DEFAULT_CAMERA

COUNT = 600  # test images per seed, as neurender results draws them


def seed_range(text: str) -> list[int]:
    """--seeds: "101-130" -> [101, ..., 130]; "1,2,3" -> [1, 2, 3]."""
    try:
        if "-" in text:
            first, last = (int(x) for x in text.split("-"))
            seeds = list(range(first, last + 1))
        else:
            seeds = [int(x) for x in text.split(",")]
    except ValueError:
        seeds = []
    if not seeds or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"expected FIRST-LAST or a comma-separated list of seeds, got {text!r}")
    return seeds


def shrink_fraction(text: str) -> float:
    """--shrink: EPS in [0, 1), so that the radius 1 - EPS is positive."""
    try:
        eps = float(text)
    except ValueError:
        eps = math.nan
    if not 0 <= eps < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return eps


def smaller_sphere(params: np.ndarray, eps: float) -> np.ndarray:
    """(N, 10) world-space scenes -> scenes whose exact image is that of a sphere of radius 1 - eps in the given
    scene: centre and light scaled about the camera by 1 / (1 - eps)."""
    camera, scaled = np.array(DEFAULT_CAMERA.position), params.copy()
    for columns in (TRANSLATION, LIGHT):
        scaled[:, columns] = camera + (params[:, columns] - camera) / (1 - eps)
    return scaled


def count_one_sided(renderers: list[tuple[str, Callable, bool]], seeds: list[int], max_luma: float) -> list[dict]:
    """Per renderer (label; render: (n, 10) scenes -> (n, R, R, 3) 8-bit float images; every_image): dim scenes,
    one-sided Canny maps among them, and those with edges in the exact image only; with every_image, the mean
    Hausdorff over all the seeds' images too. Each seed's exact images and their edges are computed once."""
    tallies = [{"dim_scenes": 0, "one_sided": 0, "edges_in_exact_only": 0, "distances": []} for _ in renderers]
    any_every_image = any(every_image for _, _, every_image in renderers)
    for seed in seeds:
        params, reference = fresh_test_set("easy", seed, COUNT)
        exact = to_float(reference[..., :3])
        dim = rgb2gray(exact).max((1, 2)) < max_luma  # the luma the Hausdorff metric's Canny reads
        everything = np.ones(len(params), bool)
        exact_edges = edges(exact[everything if any_every_image else dim])
        dim_edges = exact_edges[dim] if any_every_image else exact_edges
        for (_, render, every_image), tally in zip(renderers, tallies, strict=True):
            predicted_edges = edges(render(params[everything if every_image else dim]))
            if every_image:
                tally["distances"] += [set_distance(a, b) for a, b in zip(exact_edges, predicted_edges, strict=True)]
                predicted_edges = predicted_edges[dim]
            in_exact, in_predicted = dim_edges.any((1, 2)), predicted_edges.any((1, 2))
            tally["dim_scenes"] += int(dim.sum())
            tally["one_sided"] += int((in_exact != in_predicted).sum())
            tally["edges_in_exact_only"] += int((in_exact & ~in_predicted).sum())
    rows = []
    for (label, _, every_image), tally in zip(renderers, tallies, strict=True):
        distances = tally.pop("distances")
        row = {"renderer": label, **tally,  # per_600_images: of a 600-image easy test set, from its dim scenes
               "per_600_images": round(tally["one_sided"] / len(seeds), 2)}
        if every_image:
            row["hausdorff_every_image"] = round(float(np.mean(distances)), 3)
        rows.append(row)
    return rows


def network(name: str):
    renderer = load_renderer(name)
    return lambda params: quantize_8bit(renderer.render(params))


def shrunk(eps: float):
    return lambda params: to_float(render_spheres_uint8(torch.from_numpy(smaller_sphere(params, eps))).numpy()[..., :3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", action="append", help="shipped name or path (repeatable; default universal)")
    parser.add_argument("--shrink", type=shrink_fraction, action="append", default=[],
                        help="add the exact renderer with the sphere's radius 1 - EPS (repeatable)")
    parser.add_argument("--seeds", type=seed_range, default="101-130",
                        help="test seeds: FIRST-LAST or a comma-separated list")
    parser.add_argument("--max-luma", type=float, default=0.4, help="a scene is dim below this brightest luma")
    parser.add_argument("--threads", type=POSITIVE, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS / "dim_rims.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    seeds = args.seeds
    try:
        renderers = [(name, network(name), False)
                     for name in args.checkpoint or ([] if args.shrink else ["universal"])]
    except NeurenderError as e:
        parser.error(str(e))
    renderers += [(f"exact, sphere radius 1 - {eps}", shrunk(eps), True) for eps in args.shrink]
    rows = count_one_sided(renderers, seeds, args.max_luma)
    for row in rows:
        every = row.get("hausdorff_every_image")
        extra = "" if every is None else f"; mean Hausdorff of every image {every} px"
        print(f"{row['renderer']}: {row['one_sided']} one-sided of {row['dim_scenes']} dim scenes "
              f"({row['edges_in_exact_only']} with edges in the exact image only){extra}")
    results = {"preset": "easy", "seeds": seeds, "count_per_seed": COUNT, "max_luma": args.max_luma, "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_record(args.out, results, args.threads)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
