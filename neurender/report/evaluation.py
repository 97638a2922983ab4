"""``neurender evaluate``: score predicted images against a dataset split or a folder, write tables and pictures.

Outputs (in one directory, written to a staging folder and moved into place): metrics.json, per_image.csv,
table.md, flip_maps/ (one magma PNG per image) and side_by_side.png (best, median and worst images by FLIP).
"""

from __future__ import annotations

import csv
import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from neurender import __version__
from neurender.dataset.images import read_image_folder
from neurender.dataset.names import META, template_image_name
from neurender.errors import NeurenderError
from neurender.metrics.images import check_pair, quantize_8bit, to_float, to_uint8
from neurender.metrics.lpips_weights import weights_path
from neurender.metrics.registry import DEFAULT_METRICS, METRICS, Pair, available
from neurender.metrics.suite import score, summary
from neurender.outputs import check_output, staging
from neurender.report.figures import save_flip_maps, side_by_side
from neurender.report.plots import read_jsonl
from neurender.report.tables import metrics_table

FORMAT_VERSION = 1
PICKS = 3  # images per group (best, median, worst) in the side-by-side figure


@dataclass(frozen=True)
class Images:
    """Images to score, by frame number: uint8 (N, H, W, 4) RGBA, and whether the alpha is a real object mask."""

    frames: np.ndarray  # int64 (N,)
    rgba: np.ndarray  # uint8 (N, H, W, 4)
    has_mask: bool
    source: str  # how to find them again: a dataset and split, or a folder
    run_images: int | None = None  # a checkpoint's renders: the images of the run that trained it (``run_images``)


def load_reference(path: Path, split: str = "test") -> Images:
    """A dataset's split (checksums verified) when `path` holds meta.json, else a folder of PNG images."""
    if (path / META).is_file():
        from neurender.dataset.format import open_dataset  # torch: only for datasets, not for image folders

        data = open_dataset(path)
        indices = data.split(split)
        if len(indices) == 0:
            raise NeurenderError(f"split {split!r} of {path} is empty")
        rgba = np.asarray(data.images[indices.start:indices.stop])
        return Images(data.frames[indices.start:indices.stop], rgba, True, f"{path} (dataset, split {split})")
    return _folder_images(path)


def _folder_images(path: Path) -> Images:
    frames, rgba, has_alpha, converted = read_image_folder(path)
    note = f"; converted to 8-bit RGBA: {converted}" if converted else ""
    return Images(frames, rgba, has_alpha, f"{path} (folder{note})")


def load_predictions(path: Path) -> Images:
    return _folder_images(path)


def rendered_predictions(checkpoint: Path, reference: Path, split: str) -> Images:
    """A trained renderer's images of a dataset split's scenes (no alpha: generators output RGB)."""
    from neurender.dataset.format import open_dataset
    from neurender.inference import check_matches, load_renderer

    renderer = load_renderer(checkpoint)
    data = open_dataset(reference)
    check_matches(renderer, data.camera, str(reference))
    size = data.meta["resolution"]  # drawn at the references' size: any size for the fields and window
    try:
        renderer.generator_at(size)
    except NeurenderError as e:
        raise NeurenderError(f"{reference} is {size} px: {e}") from None
    indices = data.split(split)
    rgb = renderer.render(data.params[indices.start:indices.stop], resolution=size)
    rgba = np.concatenate([to_uint8(rgb), np.full((*rgb.shape[:3], 1), 255, np.uint8)], -1)
    return Images(data.frames[indices.start:indices.stop], rgba, False,
                  f"{checkpoint} (checkpoint, {renderer.model['arch']}, {renderer.images_seen} images seen)",
                  renderer.run_images)


def pair_up(reference: Images, prediction: Images) -> Pair:
    """Match predictions to references by frame number; every reference needs one, extras are ignored."""
    position = {f: i for i, f in enumerate(prediction.frames.tolist())}
    missing = [f for f in reference.frames.tolist() if f not in position]
    if missing:
        raise NeurenderError(f"{len(missing)} of {len(reference.frames)} reference frames have no prediction "
                             f"(first: {template_image_name(missing[0])})")
    pred = prediction.rgba[[position[f] for f in reference.frames.tolist()]]
    if pred.shape[1:] != reference.rgba.shape[1:]:
        raise NeurenderError(f"predictions are {pred.shape[1]}x{pred.shape[2]} but references are "
                             f"{reference.rgba.shape[1]}x{reference.rgba.shape[2]}")
    return Pair(to_float(reference.rgba[..., :3]), to_float(pred[..., :3]),  # 8-bit already: quantize_8bit is a no-op
                reference.rgba[..., 3] > 0 if reference.has_mask else None,
                pred[..., 3] > 0 if prediction.has_mask else None)


def _versions() -> dict[str, str]:
    out = {"neurender": __version__, "python": platform.python_version()}
    for package in ("torch", "numpy", "scipy", "scikit-image", "flip-evaluator"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "not installed"
    return out


def score_pair(pair: Pair, names: tuple[str, ...], method: str, reference: str, predictions: str, workers: int = 2,
               progress: Callable[[int], None] | None = None, pool=None) -> tuple[dict, dict[str, np.ndarray]]:
    """Score a pair with the named metrics: (the metrics.json record, {metric or case: per-image values}).
    Metrics that cannot run on this pair (no masks, no LPIPS weights) are listed under "skipped"; none that can
    is one NeurenderError. pool: an open ``pool.scoring_pool`` (else one is started here)."""
    runnable, skipped = available(names, pair)
    if "lpips" in runnable and not weights_path().is_file():
        skipped["lpips"] = f"weights not found at {weights_path()}; run `neurender weights fetch`"
        runnable.remove("lpips")
    if not runnable:
        raise NeurenderError("none of the requested metrics can run: " + "; ".join(f"{k}: {v}"
                                                                                 for k, v in skipped.items()))
    start = time.perf_counter()
    values = score(pair, runnable, workers, progress, pool)
    report = {
        "format_version": FORMAT_VERSION,
        "method": method,
        "reference": reference,
        "predictions": predictions,
        "count": len(pair),
        "metrics": {n: {**summary(values[n]), "better": METRICS[n].better, "convention": METRICS[n].convention}
                    for n in runnable},
        "cases": {k: int(v.sum()) for k, v in values.items() if v.dtype == np.bool_},
        "skipped": skipped,
        "seconds": round(time.perf_counter() - start, 3),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": _versions(),
    }
    return report, values


def evaluate(reference: Images, prediction: Images, out: Path, method: str, names: tuple[str, ...],
             workers: int = 2, overwrite: bool = False, progress: Callable[[int], None] | None = None,
             inputs: list[Path] = (), pool=None) -> dict:
    """Score, then write the outputs into `out` (never one of `inputs`). Returns the metrics.json contents.
    pool: an open ``pool.scoring_pool`` (else one is started here)."""
    check_output(out, inputs, overwrite)  # before the slow part
    pair = pair_up(reference, prediction)
    report, values = score_pair(pair, names, method, reference.source, prediction.source, workers, progress, pool)
    with staging(out, overwrite, inputs) as stage:
        (stage / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")
        _write_per_image(stage / "per_image.csv", reference.frames, values)
        (stage / "table.md").write_text(metrics_table([report]))
        if "flip" in values:
            _write_flip_pictures(stage, pair, reference.frames, values, method)
    return report


def _rgb_and_mask(images) -> tuple[np.ndarray, np.ndarray | None]:
    """(N, H, W, 3 or 4) images -> their RGB (uint8 as floats in [0, 1]; checked by ``check_pair``) and the
    fourth channel as an object mask (or None)."""
    images = np.asarray(images)
    rgb, mask = (images[..., :3], images[..., 3] > 0) if images.ndim == 4 and images.shape[-1] == 4 else (images, None)
    return (to_float(rgb) if rgb.dtype == np.uint8 else rgb), mask


def evaluate_images(reference: np.ndarray, predictions: np.ndarray, metrics: tuple[str, ...] = DEFAULT_METRICS,
                    method: str = "predictions", workers: int = 1) -> dict:
    """Score images in memory: the record that ``neurender evaluate`` writes as metrics.json (per metric: mean,
    std, median, ...; "skipped" for those that cannot run).

    reference, predictions: (N, H, W, 3 or 4) uint8, or float in [0, 1]; a fourth channel is the object mask (the
    rasterizer's and a dataset's alpha), which masked L1 and the silhouette Hausdorff need. Predictions are
    quantized to 8 bits first, as a PNG would store them. workers: scoring processes (1: this one).
    """
    if isinstance(metrics, str) or not all(isinstance(name, str) for name in metrics):
        raise NeurenderError(f"metrics must be a sequence of metric names, e.g. ('flip', 'ssim'), got {metrics!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise NeurenderError(f"workers must be a positive integer, got {workers!r}")
    (ref, ref_mask), (pred, pred_mask) = _rgb_and_mask(reference), _rgb_and_mask(predictions)
    ref, pred = check_pair(ref, pred)
    if not len(ref):
        raise NeurenderError("no images to score (reference and predictions are empty)")
    pair = Pair(ref, quantize_8bit(pred), ref_mask, pred_mask)
    return score_pair(pair, tuple(metrics), method, "arrays", "arrays", workers)[0]


def _write_per_image(path: Path, frames: np.ndarray, values: dict[str, np.ndarray]) -> None:
    keys = [k for k, v in values.items() if v.ndim == 1]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["frame", *keys])
        for i, frame in enumerate(frames.tolist()):
            writer.writerow([frame, *(int(values[k][i]) if values[k].dtype == np.bool_ else f"{values[k][i]:.6g}"
                                      for k in keys)])


def _write_flip_pictures(stage: Path, pair: Pair, frames: np.ndarray, values: dict[str, np.ndarray],
                         method: str) -> None:
    maps = stage / "flip_maps"
    maps.mkdir()
    save_flip_maps(values["flip_map"], [maps / template_image_name(frame) for frame in frames.tolist()])
    side_by_side(side_by_side_rows(pair, frames, values), stage / "side_by_side.png",
                 f"{method}: reference | prediction | FLIP error")


def side_by_side_rows(pair: Pair, frames: np.ndarray, values: dict[str, np.ndarray]
                      ) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """The best, median and worst images by FLIP: (caption, reference, prediction, FLIP map) rows."""
    order = np.argsort(values["flip"], kind="stable")
    mid = len(order) // 2
    groups = {"best": order[:PICKS], "median": order[max(0, mid - PICKS // 2):][:PICKS], "worst": order[-PICKS:][::-1]}
    rows, seen = [], set()
    for group, picks in groups.items():
        for i in picks.tolist():
            if i not in seen:
                seen.add(i)
                rows.append((f"{group}: frame {frames[i]}\nFLIP {values['flip'][i]:.4f}",
                             pair.reference[i], pair.prediction[i], values["flip_map"][i]))
    return rows


def append_to_run_history(checkpoint: Path, report: dict, run_images: int) -> Path | None:
    """One JSON line for this evaluation in the metrics.jsonl of the checkpoint's run folder (the folder holds
    config.json): checkpoint, the run's own images (as its validation lines count them), references, time, each
    metric's mean and std. Returns the file, or None when the checkpoint is not in a run folder (a shipped
    checkpoint)."""
    run = Path(checkpoint).parent
    if not (run / "config.json").is_file():
        return None
    record = {"kind": "evaluation", "checkpoint": Path(checkpoint).name, "images": run_images,
              "reference": report["reference"], "count": report["count"], "time": time.time(),
              "metrics": {n: {"mean": v["mean"], "std": v["std"]} for n, v in report["metrics"].items()}}
    with open(run / "metrics.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")
    return run / "metrics.jsonl"


def load_evaluations(path: Path) -> list[dict]:
    """Tables rows for `neurender compare`: an evaluation's metrics.json (given itself or its folder), or a run
    folder's history of `evaluate --checkpoint` results (its metrics.jsonl), one row per evaluation."""
    if path.is_dir() and not (path / "metrics.json").exists() and (path / "metrics.jsonl").is_file():
        rows = [{"method": f"{path.name} @ {r['images']:,} images ({r['checkpoint']})", "count": r["count"],
                 "metrics": r["metrics"]} for r in read_jsonl(path / "metrics.jsonl") if r.get("kind") == "evaluation"]
        if not rows:
            raise NeurenderError(f"{path} has no evaluations in its metrics.jsonl (run evaluate --checkpoint)")
        return rows
    return [load_evaluation(path)]


def load_evaluation(path: Path) -> dict:
    """A metrics.json, given itself or the folder holding it (for `neurender compare`)."""
    path = path / "metrics.json" if path.is_dir() else path
    try:
        report = json.loads(path.read_text())
        if not isinstance(report, dict) or not {"method", "count", "metrics"} <= report.keys():
            raise ValueError("missing method, count or metrics")
    except (OSError, ValueError) as e:
        raise NeurenderError(f"{path} is not an evaluation's metrics.json ({e})") from None
    return report
