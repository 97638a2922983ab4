"""The worst test images of each arm of an ablation, side by side: for every renderer given, its `--per-arm`
images of highest FLIP among ``neurender results``' fresh test images of one preset and seed; each case drawn as
the exact image beside every arm's, cropped around the sphere (small spheres fill a few pixels of the frame) and
labelled with each arm's FLIP. Writes the figure and benchmarks/results/worst_cases-NAME.json (each case's frame
and per-arm FLIP, LPIPS and Hausdorff).

    python -m benchmarks.studies.worst_cases --checkpoint l1=PATH --checkpoint fixed=PATH ... [--preset visible]
        [--seed 1] [--count 600] [--per-arm 2] --out docs/results/conv-arms-worst.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from benchmarks.record import RESULTS, write_record
from neurender.errors import NeurenderError
from neurender.inference import load_renderer
from neurender.metrics.pool import scoring_pool
from neurender.report.figures import comparison_grid, sphere_crop
from neurender.report.results import fresh_test_set, score_images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", action="append", required=True, metavar="NAME=PATH")
    parser.add_argument("--preset", default="visible")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--count", type=int, default=600)
    parser.add_argument("--per-arm", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--record", type=Path, default=None, help=f"its JSON record [default: {RESULTS.name}/...]")
    args = parser.parse_args()
    if args.count < 1 or args.per_arm < 1 or args.seed < 0:
        parser.error("--count and --per-arm must be 1 or more, --seed 0 or more")
    if any("=" not in item for item in args.checkpoint):
        parser.error("--checkpoint takes NAME=PATH")
    arms = dict(item.split("=", 1) for item in args.checkpoint)
    try:
        renderers = {name: load_renderer(path) for name, path in arms.items()}
        params, reference = fresh_test_set(args.preset, args.seed, args.count)
    except NeurenderError as e:
        parser.error(str(e))
    predictions, scores = {}, {}
    with scoring_pool(2) as pool:
        for name, renderer in renderers.items():
            predictions[name] = renderer.render(params)
            values, pair = score_images(reference, predictions[name], pool)
            scores[name] = values
            predictions[name] = pair.prediction
    cases = list(dict.fromkeys(int(i) for name in arms
                               for i in np.argsort(scores[name]["flip"], kind="stable")[::-1][:args.per_arm]))
    rows, record = [], []
    for i in cases:
        rows_, cols = sphere_crop(reference[i, :, :, 3] > 0)
        flips = ", ".join(f"{name} {scores[name]['flip'][i]:.4f}" for name in arms)
        rows.append((f"frame {i}\nFLIP: {flips.replace(', ', chr(10))}",
                     [reference[i, rows_, cols, :3] / 255.0] + [predictions[n][i, rows_, cols] for n in arms]))
        record.append({"frame": i, **{n: {m: float(scores[n][m][i]) for m in ("flip", "lpips", "hausdorff")}
                                      for n in arms}})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    comparison_grid(rows, ["exact", *arms], args.out,
                    f"{args.preset}, seed {args.seed}: each arm's {args.per_arm} worst by FLIP (cropped)")
    result = args.record or RESULTS / f"worst_cases-{args.out.stem}.json"
    write_record(result, {"preset": args.preset, "seed": args.seed, "count": args.count, "arms": arms,
                          "cases": record})
    print(json.dumps(record, indent=2))
    print(f"wrote {args.out} and {result}")


if __name__ == "__main__":
    main()
