"""The results table: renderers scored on freshly drawn test sets of each preset, beside the all-black baseline
and the published figures.

Test scenes are a preset's images 0 ... count - 1 for each seed, exactly what ``dataset generate --preset P
--seed S --count N`` writes (online training never draws those indices, see ``training.sources``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from neurender.inference import Renderer
from neurender.metrics.images import quantize_8bit, to_float
from neurender.metrics.pool import scoring_pool
from neurender.metrics.registry import METRICS, Pair
from neurender.metrics.suite import score
from neurender.presets import load_preset
from neurender.raster import render_spheres_uint8
from neurender.report.evaluation import side_by_side_rows
from neurender.report.figures import side_by_side
from neurender.sampling import sample_scenes

RESULT_METRICS = ("flip", "lpips", "ssim", "hausdorff", "masked_l1")
PUBLISHED_SIZE = 128  # every published figure is of 128 x 128 images: shown only in tables of that size


def our_protocol(size: int) -> str:
    """The line that heads each table: how neurender's rows were scored, and how to read the published ones."""
    return ("neurender's rows and the all-black row: the template's camera, this preset's ranges and filter; "
            f"Hausdorff scores the image diagonal ({math.hypot(size, size):.0f} px) when exactly one image has no "
            "edge, 0 when neither has. " + ("Published rows give their own protocol: compare them where it matches."
                                            if size == PUBLISHED_SIZE else
                                            f"Published figures are of {PUBLISHED_SIZE} px images: not shown."))
BLACK = "all black"


@dataclass(frozen=True)
class Published:
    """A published figure and its protocol: compare it only in the tables of `presets`, whose test sets match
    that protocol (the template's camera and ranges; which frames were dropped; how the report scored Hausdorff
    when one image has no edge, where neurender scores the image diagonal, 181 px)."""

    method: str
    presets: tuple[str, ...]  # the tables it is shown in
    figures: dict[str, float]
    camera: str  # the template's, or the report's own
    frames: str  # which test frames the report kept
    hausdorff: str  # its convention for an image whose edge map is empty (ours: the image diagonal)
    data: str  # training data and compute, where the report says

    @property
    def note(self) -> str:
        return f"{self.camera}; {self.frames}; Hausdorff {self.hausdorff}; {self.data}"


TEMPLATE_CAMERA = "template camera"
NO_EMPTY = "empty frames removed"
# shared/spec/scene.md and the issues that measured them; their test sets are their own, not ours
PUBLISHED = (
    Published("seed report, model 1", ("default", "visible"), {"flip": 0.347, "lpips": 0.243, "ssim": 0.104,
                                                                 "hausdorff": 102.5},
              TEMPLATE_CAMERA, "the template's frames", "convention not stated", "600 test images"),
    Published("seed report, model 3", ("easy",), {"flip": 0.057, "lpips": 0.156, "ssim": 0.728, "hausdorff": 43.4},
              TEMPLATE_CAMERA, "easy ranges (coverage >= 20%)", "convention not stated", "600 test images"),
    Published("public report: per-pixel MLP + 3x3 refinement, cGAN", ("visible",),
              {"flip": 0.0428, "lpips": 0.0933, "ssim": 0.9648, "hausdorff": 27.07}, TEMPLATE_CAMERA,
              f"{NO_EMPTY} (centre outside the frame rejected)", "strict (an empty map scores the maximum)",
              "2,400 training images"),
    Published("public report: DCGAN transposed convolutions (LSGAN, spectral norm, x50 object L1)", ("visible",),
              {"flip": 0.0125, "lpips": 0.1303, "ssim": 0.9650, "hausdorff": 19.63}, TEMPLATE_CAMERA, NO_EMPTY,
              "0 when an edge map is empty", "3,000 training images, 59 min on a T4"),
    Published("public report v2: CoordConv, LPIPS x 10, object/background L1 100:1", ("visible",),
              {"flip": 0.0286, "lpips": 0.1266, "ssim": 0.9082, "hausdorff": 13.49}, TEMPLATE_CAMERA, NO_EMPTY,
              "convention not stated", "3,000 training images"),
    Published("public report: FiLM + CoordConv blocks, R1, LPIPS loss", ("visible",),
              {"flip": 0.0075, "lpips": 0.0483, "ssim": 0.9747, "hausdorff": 10.77},
              "its own camera, spheres of similar size", f"{NO_EMPTY}, sphere kept inside the frustum",
              "convention not stated", "15k training images, 80 GPU minutes; 3,000 test images"),
)


def fresh_test_set(preset: str, seed: int, count: int, resolution: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """A fresh test set: (count, 10) world-space scenes and (count, R, R, 4) uint8 exact renders."""
    params = sample_scenes(load_preset(preset), seed, np.arange(count), resolution)
    return params, render_spheres_uint8(torch.from_numpy(params), resolution).numpy()


def score_images(reference: np.ndarray, prediction: np.ndarray, pool) -> tuple[dict, Pair]:
    """reference (N, R, R, 4) uint8, prediction (N, R, R, 3) float in [0, 1] -> per-image values, the pair.
    pool: a ``scoring_pool`` (None: in this process)."""
    pair = Pair(to_float(reference[..., :3]), quantize_8bit(prediction), reference[..., 3] > 0)
    return score(pair, list(RESULT_METRICS), 1, pool=pool), pair


def results(renderers: dict[str, Renderer], presets: list[str], seeds: list[int], count: int, out: Path,
            workers: int = 2, log=print, resolution: int = 128) -> dict:
    """Score every renderer and the all-black baseline on `count` fresh images of each preset and seed.

    Writes results.json (per preset, method and seed: each metric's mean; edge cases), results.md and, per
    preset, side_by_side-PRESET.png (best, median and worst by FLIP of the renderer named like the preset, else
    the first one, on the first seed).
    At another `resolution` than 128 the test sets are rasterized at that size and each renderer draws it
    (``Renderer.generator_at``).
    Returns the results.json contents.
    """
    for renderer in renderers.values():
        renderer.generator_at(resolution)  # one that cannot draw this size says so before any work
    report = {"count": count, "seeds": seeds, "resolution": resolution, "metrics": list(RESULT_METRICS),
              "presets": {}}
    with scoring_pool(workers) as pool:
        for preset in presets:
            report["presets"][preset] = _preset_table(renderers, preset, seeds, count, out, pool, log, resolution)
    (out / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "results.md").write_text(results_markdown(report, renderers))
    return report


def _preset_table(renderers: dict[str, Renderer], preset: str, seeds: list[int], count: int, out: Path, pool,
                  log, resolution: int) -> dict:
    """One preset's rows: per method, each seed's metric means, their mean and spread."""
    table: dict[str, dict] = {}
    shown = preset if preset in renderers else next(iter(renderers), None)  # in the side-by-side figure
    for seed in seeds:
        params, reference = fresh_test_set(preset, seed, count, resolution)
        methods = {name: r.render(params, resolution=resolution) for name, r in renderers.items()}
        methods[BLACK] = np.zeros((*reference.shape[:3], 3), np.float32)
        for name, prediction in methods.items():
            values, pair = score_images(reference, prediction, pool)
            entry = table.setdefault(name, {"per_seed": {}})
            entry["per_seed"][str(seed)] = {m: float(np.nanmean(values[m])) for m in RESULT_METRICS}
            entry["per_seed"][str(seed)]["no_edges"] = int(values["hausdorff_one_empty"].sum())
            if seed == seeds[0] and name == shown:
                rows = side_by_side_rows(pair, np.arange(count), values)
                side_by_side(rows, out / f"side_by_side-{preset}.png",
                             f"{name} on {preset} (seed {seed}): reference | prediction | FLIP error")
            log(f"{preset} seed {seed} {name}: " + ", ".join(f"{m} {entry['per_seed'][str(seed)][m]:.4f}"
                                                             for m in RESULT_METRICS))
    for entry in table.values():
        runs = list(entry["per_seed"].values())
        entry["mean"] = {m: float(np.mean([r[m] for r in runs])) for m in RESULT_METRICS}
        entry["spread"] = {m: float(np.std([r[m] for r in runs])) for m in RESULT_METRICS}
    return table


def results_markdown(report: dict, renderers: dict[str, Renderer]) -> str:
    """One table per preset: our rows (mean ± std over seeds), the all-black row, then the published rows."""
    arrow = {"lower": "↓", "higher": "↑"}
    head = "| Method | " + " | ".join(f"{METRICS[m].label} {arrow[METRICS[m].better]}" for m in RESULT_METRICS)
    lines = []
    for preset, table in report["presets"].items():
        over = "; mean ± std over the seeds" if len(report["seeds"]) > 1 else ""
        size = report.get("resolution", 128)
        at = f" at {size}x{size} (Hausdorff in pixels of that size)" if size != 128 else ""
        lines += [(f"**{preset}** preset: {report['count']} fresh test images{at} for each seed "
                   f"({', '.join(map(str, report['seeds']))}){over}"), "",
                  our_protocol(size), "", head + " |", "|---|" + "---:|" * len(RESULT_METRICS)]
        for name, entry in table.items():
            label = name
            if name in renderers:
                label = f"{name} ({renderers[name].model['arch']}, {renderers[name].images_seen:,} images seen)"
            spread = len(report["seeds"]) > 1  # a spread over one seed says nothing
            cells = [f"{entry['mean'][m]:.{METRICS[m].decimals}f}"
                     + (f" ± {entry['spread'][m]:.{METRICS[m].decimals}f}" if spread else "") for m in RESULT_METRICS]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        for p in PUBLISHED:
            if preset in p.presets and size == PUBLISHED_SIZE:
                cells = [f"{p.figures[m]:.{METRICS[m].decimals}f}" if m in p.figures else "-" for m in RESULT_METRICS]
                lines.append(f"| {p.method} ({p.note}) | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)
