"""One scene at several resolutions, exact beside neural: the picture for docs/results.md (any resolution).

For each size S: the rasterizer's image and the renderer's (``Renderer.render(resolution=S)``), cropped around the
sphere (the same part of the frame at every size) and shown at one size with sharp pixels, with the pair's FLIP and
masked L1. Writes the figure and benchmarks/results/resolution_figure.json.

    python -m benchmarks.studies.resolution_figure [--checkpoint universal] [--preset easy] [--seed 1] [--index 0]
        [--sizes 128,256,512] --out docs/results/resolutions.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.record import RESULTS, write_record
from neurender.errors import NeurenderError
from neurender.inference import load_renderer
from neurender.report.figures import comparison_grid, sphere_crop
from neurender.report.results import fresh_test_set, score_images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="universal")
    parser.add_argument("--preset", default="easy")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--sizes", default="128,256,512")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--record", type=Path, default=None, help=f"its JSON record [default: {RESULTS.name}/...]")
    args = parser.parse_args()
    if args.index < 0:
        parser.error("--index must be 0 or more")
    try:
        sizes = [int(s) for s in args.sizes.split(",")]
    except ValueError:
        parser.error("--sizes must be comma-separated integers, e.g. 128,256,512")
    if args.seed < 0 or not all(8 <= size <= 2048 for size in sizes):
        parser.error("--sizes must lie in 8-2048 and --seed be 0 or more")
    try:
        renderer = load_renderer(args.checkpoint)
        for size in sizes:
            renderer.generator_at(size)
    except NeurenderError as e:
        parser.error(str(e))
    rows, record = [], []
    for size in sizes:
        params, reference = fresh_test_set(args.preset, args.seed, args.index + 1, size)
        params, reference = params[args.index:], reference[args.index:]
        neural = renderer.render(params, resolution=size)
        values, pair = score_images(reference, neural, None)
        rows_, cols = sphere_crop(reference[0, :, :, 3] > 0, least=size // 4, margin=size // 16)
        rows.append((f"{size} x {size}\nFLIP {values['flip'][0]:.4f}\nmasked L1 {values['masked_l1'][0]:.4f}",
                     [reference[0, rows_, cols, :3] / 255.0, pair.prediction[0, rows_, cols]]))
        record.append({"size": size, "flip": float(values["flip"][0]), "masked_l1": float(values["masked_l1"][0])})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    comparison_grid(rows, ["exact", f"neural ({args.checkpoint})"], args.out,
                    f"{args.preset} seed {args.seed}, image {args.index}: one scene at {args.sizes} px", cell=256)
    result = args.record or RESULTS / "resolution_figure.json"
    write_record(result, {"checkpoint": args.checkpoint, "preset": args.preset, "seed": args.seed,
                          "index": args.index, "sizes": record})
    print(json.dumps(record, indent=2))
    print(f"wrote {args.out} and {result}")


if __name__ == "__main__":
    main()
