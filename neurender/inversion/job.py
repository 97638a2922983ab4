"""``neurender invert``'s work: read targets, recover their scenes, write parameters, images, errors, summary.

Output folder: params.csv (the template's columns and frame numbers), images/image_XXXX.png (the recovered
scenes re-rendered by the backend), errors.csv (per image: coverage, lit share, image L1 and, where the true
scene is known, the error of each parameter group), summary.md / summary.json (per parameter group, by
coverage and by lit share) and figure.png (target | recovered | difference).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from neurender.dataset import open_dataset, read_image_folder, read_png, template_image_name, write_params_csv
from neurender.dataset.names import FRAME_NUMBER
from neurender.errors import NeurenderError
from neurender.inference import Renderer, check_matches
from neurender.inversion.fit import COVERED, InversionConfig, Render, invert
from neurender.layout import DIFFUSE, LIGHT, SHININESS, TRANSLATION
from neurender.metrics.images import to_uint8
from neurender.presets import Preset
from neurender.report.figures import pyplot
from neurender.scene import Camera

LIT = 12 / 255  # a covered pixel brighter than this is lit by the light (ambient alone gives 8 / 255)
GROUPS = ("position", "colour", "shininess", "light")  # parameter-error columns (world units; [0,1]; exponent)
COVERAGE_BINS = ((0.0, 0.05), (0.05, 0.2), (0.2, 0.5), (0.5, 1.01))
FIGURE_ROWS = 8


@dataclass(frozen=True)
class Targets:
    images: np.ndarray  # (N, R, R, 3) float32 in [0, 1]
    frames: np.ndarray  # (N,) int64
    truth: np.ndarray | None  # (N, 10) world-space scenes, where known
    source: str  # what they came from, for the summary


ANALYTIC_MAX_RESOLUTION = 256  # image files larger than this are inverted at this size (memory grows with its square)


def load_targets(image: Path | None, dataset: Path | None, split: str, renderer: Renderer | None,
                 limit: int | None, note=print) -> tuple[Targets, Camera | None]:
    """Target images from a PNG file, a folder of PNGs (frames by name) or a dataset split (true scenes known),
    and the dataset's camera (None for image files). With a renderer, PNGs of another size are box-resized to
    its resolution with a note, and a dataset must match its resolution and camera (``check_matches``)."""
    camera, resolution = None, renderer.resolution if renderer else None
    if dataset is not None:
        data = open_dataset(dataset)
        if renderer is not None:
            check_matches(renderer, data.camera, str(dataset))
            if data.meta["resolution"] != renderer.resolution:
                raise NeurenderError(f"the checkpoint renders {renderer.resolution} px but {dataset} is "
                                     f"{data.meta['resolution']} px")
        chosen = data.split(split)
        chosen = range(chosen.start, min(chosen.stop, chosen.start + limit)) if limit else chosen
        if not len(chosen):
            raise NeurenderError(f"split {split} of {dataset} has no images")
        images = np.asarray(data.images[chosen.start:chosen.stop])
        frames, truth = data.frames[chosen.start:chosen.stop], data.params[chosen.start:chosen.stop]
        source, camera = f"{dataset} (split {split})", data.camera
    elif image.is_dir():
        frames, images, _, _ = read_image_folder(image)
        frames, images, truth, source = frames[:limit], images[:limit], None, str(image)
    else:
        match = FRAME_NUMBER.search(image.name)
        frames = np.array([int(match[1]) if match else 0], dtype=np.int64)
        images, truth, source = read_png(image)[None], None, str(image)
    if resolution is None and images.shape[1] > ANALYTIC_MAX_RESOLUTION:  # the descent renders at this size
        resolution = ANALYTIC_MAX_RESOLUTION
        note(f"note: {source} is {images.shape[1]} px; resized to {resolution} px for the analytic descent")
    elif resolution is not None and images.shape[1] != resolution:
        note(f"note: {source} is {images.shape[1]} px; resized to the renderer's {resolution} px")
    if resolution is not None and images.shape[1] != resolution:
        images = np.stack([np.asarray(Image.fromarray(im).resize((resolution, resolution), Image.Resampling.BOX))
                           for im in images])
    return Targets(images[..., :3].astype(np.float32) / 255, frames, truth, source), camera


def parameter_errors(found: np.ndarray, truth: np.ndarray) -> dict[str, np.ndarray]:
    """(N, 10) recovered and true scenes -> per image: position and light distance (world units), mean absolute
    colour error, absolute shininess error, each (N,)."""
    return {"position": np.linalg.norm(found[:, TRANSLATION] - truth[:, TRANSLATION], axis=1),
            "colour": np.abs(found[:, DIFFUSE] - truth[:, DIFFUSE]).mean(1),
            "shininess": np.abs(found[:, SHININESS] - truth[:, SHININESS]),
            "light": np.linalg.norm(found[:, LIGHT] - truth[:, LIGHT], axis=1)}


def image_facts(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, R, R, 3) targets -> the covered share of the frame (N,) and the lit share of the covered pixels (N,)
    (0 for a sphere seen only in ambient light: nothing tells where the light is)."""
    covered = images.max(-1) > COVERED
    lit = images.max(-1) > LIT
    area = covered.sum((1, 2))
    return area / covered[0].size, np.where(area > 0, lit.sum((1, 2)) / np.maximum(area, 1), 0.0)


def _group_rows(table: dict[str, np.ndarray], mask_by_label: dict[str, np.ndarray]) -> list[dict]:
    rows = []
    for label, mask in mask_by_label.items():
        row: dict = {"images": label, "count": int(mask.sum())}
        for key in ("image_l1", *GROUPS):
            if key in table and mask.any():
                row[f"{key}_median"] = float(np.median(table[key][mask]))
                row[f"{key}_mean"] = float(np.mean(table[key][mask]))
        rows.append(row)
    return rows


def summarise(table: dict[str, np.ndarray]) -> list[dict]:
    """Per-image columns -> summary rows: all images, by coverage bin, by lit share (lit / unlit)."""
    coverage, lit = table["coverage"], table["lit"]
    masks = {"all": np.ones(len(coverage), bool)}
    for lo, hi in COVERAGE_BINS:
        masks[f"coverage {lo:.0%}-{min(hi, 1):.0%}"] = (coverage >= lo) & (coverage < hi)
    masks["lit share >= 5%"] = lit >= 0.05
    masks["lit share < 5% (light unobservable)"] = lit < 0.05
    return _group_rows(table, masks)


def summary_markdown(rows: list[dict], header: str) -> str:
    keys = [k for k in ("image_l1", *GROUPS) if f"{k}_median" in rows[0]]
    units = {"image_l1": "image L1", "position": "position (world)", "colour": "colour",
             "shininess": "shininess", "light": "light (world)"}
    lines = [header, "", "Median (mean) error per parameter group.", "",
             "| images | count | " + " | ".join(units[k] for k in keys) + " |",
             "|---|---:|" + "---:|" * len(keys)]
    for row in rows:
        cells = [f"{row[f'{k}_median']:.4g} ({row[f'{k}_mean']:.4g})" if f"{k}_median" in row else "-" for k in keys]
        lines.append(f"| {row['images']} | {row['count']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def figure(targets: np.ndarray, recovered: np.ndarray, frames: np.ndarray, path: Path) -> None:
    """target | recovered | |difference| (x4, clipped) for the first FIGURE_ROWS images."""
    plt = pyplot()
    n = min(FIGURE_ROWS, len(targets))
    fig, axes = plt.subplots(n, 3, figsize=(6.6, 2.3 * n), squeeze=False)
    for k in range(n):
        difference = np.clip(np.abs(targets[k] - recovered[k]) * 4, 0, 1)
        for ax, image, name in zip(axes[k], (targets[k], recovered[k], difference),
                                   ("target", "recovered", "|difference| x 4"), strict=True):
            ax.imshow(image, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(name, fontsize=8)
        axes[k, 0].set_ylabel(f"frame {frames[k]}", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run_inversion(targets: Targets, render: Render, backend: str, preset: Preset, camera: Camera,
                  config: InversionConfig, out: Path, progress=None) -> list[dict]:
    """Invert every target and write the outputs listed in the module docstring into the folder ``out``
    (which must exist). Returns the summary rows."""
    found, _ = invert(targets.images, render, backend, preset, camera, config, progress=progress)
    with torch.no_grad():
        recovered = render(torch.from_numpy(found).float(), 0.0)[0].clamp(0, 1).numpy()
    image_l1 = np.abs(recovered - targets.images).mean((1, 2, 3))
    coverage, lit = image_facts(targets.images)
    table = {"frame": targets.frames, "coverage": coverage, "lit": lit, "image_l1": image_l1}
    if targets.truth is not None:
        table.update(parameter_errors(found, targets.truth))
    write_params_csv(out / "params.csv", targets.frames, found)
    (out / "images").mkdir()
    for frame, image in zip(targets.frames.tolist(), recovered, strict=True):
        Image.fromarray(to_uint8(image)).save(out / "images" / template_image_name(frame))
    columns = list(table)
    lines = [",".join(columns)] + [",".join(f"{table[c][i]:.6g}" if c != "frame" else str(table[c][i])
                                            for c in columns) for i in range(len(found))]
    (out / "errors.csv").write_text("\n".join(lines) + "\n")
    rows = summarise(table)
    header = (f"Inversion of {len(found)} images from {targets.source} through the {backend} renderer "
              f"({config.starts} starts x {config.steps} steps, seed {config.seed}).")
    (out / "summary.md").write_text(summary_markdown(rows, header))
    (out / "summary.json").write_text(json.dumps({"source": targets.source, "backend": backend,
                                                  "config": asdict(config), "rows": rows}, indent=2) + "\n")
    figure(targets.images, recovered, targets.frames, out / "figure.png")
    return rows
