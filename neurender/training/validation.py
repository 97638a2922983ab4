"""What a run shows of itself while it trains: validation scores and sample grids of G_ema on the source's
fixed validation scenes, with the shared metric registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from neurender.metrics.images import quantize_8bit, to_float, to_uint8
from neurender.metrics.registry import METRICS, Pair
from neurender.outputs import written

SAMPLE_SCENES = 8  # fixed validation scenes in each sample grid
VALIDATION_METRICS = ("masked_l1", "ssim")  # from the shared registry; the first one picks `best`


def validation_scores(reference_rgba: np.ndarray, prediction: np.ndarray) -> dict[str, float | None]:
    """Mean of each VALIDATION_METRICS value over the images (8-bit quantized predictions; None where no image
    has a value). reference_rgba (N, R, R, 4) uint8, prediction (N, R, R, 3) float in [0, 1]."""
    pair = Pair(to_float(reference_rgba[..., :3]), quantize_8bit(prediction), reference_rgba[..., 3] > 0)
    scores = {}
    for name in VALIDATION_METRICS:
        values = METRICS[name].compute(pair)[name]
        scores[name] = float(np.nanmean(values)) if np.isfinite(values).any() else None
    return scores


def save_sample_grid(reference_rgba: np.ndarray, prediction: np.ndarray, path: Path) -> Path:
    """The references above the predictions, side by side: (N, R, R, 4) uint8 and (N, R, R, 3) float -> PNG."""
    refs = reference_rgba[..., :3]
    grid = np.concatenate([np.concatenate(list(refs), 1), np.concatenate(list(to_uint8(prediction)), 1)], 0)
    path.parent.mkdir(exist_ok=True)
    with written(path) as tmp:
        Image.fromarray(grid).save(tmp, format="PNG")
    return path
