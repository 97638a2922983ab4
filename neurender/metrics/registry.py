"""The metric registry: one entry per metric, the same for training-time validation and ``neurender evaluate``.

An entry names its metric, how the value is computed (its convention, written into metrics.json) and how tables
show it; the implementations (one module each: flip, lpips, ssim, hausdorff, pixel) are imported on first use,
so that reading the registry (tables, `neurender evaluate`'s own process) costs neither torch nor scipy.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from neurender.metrics.images import MetricInputError


@dataclass(frozen=True)
class Pair:
    """What the metrics score: references and predictions (N, H, W, 3) float in [0, 1], optional (N, H, W) masks."""

    reference: np.ndarray
    prediction: np.ndarray
    reference_mask: np.ndarray | None = None  # object pixels of the reference (a dataset's alpha)
    prediction_mask: np.ndarray | None = None  # object pixels of the prediction (an RGBA prediction's alpha)

    def __len__(self) -> int:
        return len(self.reference)

    def slice(self, start: int, stop: int) -> Pair:
        parts = (self.reference, self.prediction, self.reference_mask, self.prediction_mask)
        return Pair(*(None if a is None else a[start:stop] for a in parts))


@dataclass(frozen=True)
class Metric:
    name: str
    better: str  # "lower" or "higher"
    label: str  # column title in tables
    convention: str  # exactly how the value is computed, written into metrics.json
    compute: Callable[[Pair], dict[str, np.ndarray]]  # per-image values under `name`, plus diagnostics
    decimals: int  # shown in tables
    needs: str | None = None  # "reference_mask", "both_masks" or None
    per_image: bool = False  # a loop of single-threaded per-image work: spread over worker processes
    min_side: int = 1  # the smallest image side it can score (its windows or network's pooling): skipped below


def _module(name: str):
    """The implementing module neurender.metrics.<name>, imported on first use."""
    return importlib.import_module(f"neurender.metrics.{name}")


@functools.cache
def _lpips_net():
    """The LPIPS network (``lpips.LPIPS``), built once per process."""
    return _module("lpips").load_lpips()


def _masks(pair: Pair) -> tuple[np.ndarray, np.ndarray]:
    if pair.reference_mask is None or pair.prediction_mask is None:
        raise MetricInputError("silhouette Hausdorff needs object masks (alpha) for references and predictions")
    return pair.reference_mask, pair.prediction_mask


def _reference_mask(pair: Pair) -> np.ndarray:
    if pair.reference_mask is None:
        raise MetricInputError("masked L1 needs the references' object masks (alpha)")
    return pair.reference_mask


METRICS: dict[str, Metric] = {m.name: m for m in [
    Metric("flip", "lower", "FLIP",
           "flip_evaluator.evaluate(ref, test, 'LDR'), float32 HxWx3 sRGB in [0,1], 67.02 ppd, mean of the map",
           lambda p: _module("flip").flip(p.reference, p.prediction), 4, per_image=True),
    Metric("lpips", "lower", "LPIPS",
           "LPIPS v0.1, AlexNet trunk, inputs x*2-1, linear layers v0.1, spatial mean, sum over 5 layers",
           lambda p: _module("lpips").lpips(p.reference, p.prediction, _lpips_net()), 4, min_side=31),
    Metric("ssim", "higher", "SSIM",
           "skimage structural_similarity(channel_axis=-1, data_range=1, gaussian_weights=True, sigma=1.5, "
           "use_sample_covariance=False), mean over RGB",
           lambda p: _module("ssim").ssim(p.reference, p.prediction), 4, min_side=11),
    Metric("hausdorff", "lower", "Hausdorff (px)",
           "symmetric Hausdorff (px) between skimage canny(sigma=1) edges of rgb2gray luma; 0 if neither image has "
           "edges, the diagonal if one has",
           lambda p: _module("hausdorff").hausdorff(p.reference, p.prediction), 2, per_image=True),
    Metric("silhouette_hausdorff", "lower", "Silhouette Hausdorff (px)",
           "symmetric Hausdorff (px) between the object masks; 0 if both empty, the diagonal if one is",
           lambda p: _module("hausdorff").silhouette_hausdorff(*_masks(p)), 2, needs="both_masks", per_image=True),
    Metric("psnr", "higher", "PSNR (dB)",
           "10 log10(1 / MSE) over RGB, data range 1; MSE floored at 1e-10 (identical images: 100 dB)",
           lambda p: _module("pixel").psnr(p.reference, p.prediction), 2),
    Metric("l1", "lower", "L1", "mean |reference - prediction| over all pixels and RGB, data range 1",
           lambda p: _module("pixel").l1(p.reference, p.prediction), 4),
    Metric("masked_l1", "lower", "Masked L1",
           "mean |reference - prediction| over RGB of the reference's object pixels; NaN if none",
           lambda p: _module("pixel").masked_l1(p.reference, p.prediction, _reference_mask(p)), 4,
           needs="reference_mask"),
]}
DEFAULT_METRICS = tuple(METRICS)  # what `evaluate` computes unless told otherwise: all of them


def available(names: tuple[str, ...], pair: Pair) -> tuple[list[str], dict[str, str]]:
    """Split metric names into those this pair can be scored with and {name: why not} for the rest."""
    runnable, skipped = [], {}
    for name in names:
        if name not in METRICS:
            raise MetricInputError(f"unknown metric {name!r}; known: {', '.join(METRICS)}")
        needs, side = METRICS[name].needs, min(pair.reference.shape[1:3], default=0)
        if side < METRICS[name].min_side:
            skipped[name] = f"needs images of at least {METRICS[name].min_side} px a side, not {side}"
        elif needs == "reference_mask" and pair.reference_mask is None:
            skipped[name] = "the references have no object masks"
        elif needs == "both_masks" and (pair.reference_mask is None or pair.prediction_mask is None):
            skipped[name] = "references and predictions both need alpha masks"
        else:
            runnable.append(name)
    return runnable, skipped
