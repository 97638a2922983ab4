"""The metric registry: one entry per metric, the same for training-time validation and ``neurender evaluate``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from neurender.metrics import flip, hausdorff, lpips, pixel, ssim
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
        cut = (lambda a: None if a is None else a[start:stop])
        return Pair(*(cut(a) for a in (self.reference, self.prediction, self.reference_mask, self.prediction_mask)))


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


@functools.cache
def _lpips_net() -> lpips.LPIPS:
    return lpips.load_lpips()


def _masks(pair: Pair) -> tuple[np.ndarray, np.ndarray]:
    if pair.reference_mask is None or pair.prediction_mask is None:
        raise MetricInputError("silhouette Hausdorff needs object masks (alpha) for references and predictions")
    return pair.reference_mask, pair.prediction_mask


def _reference_mask(pair: Pair) -> np.ndarray:
    if pair.reference_mask is None:
        raise MetricInputError("masked L1 needs the references' object masks (alpha)")
    return pair.reference_mask


METRICS: dict[str, Metric] = {m.name: m for m in [
    Metric("flip", "lower", "FLIP", flip.CONVENTION, lambda p: flip.flip(p.reference, p.prediction), 4,
           per_image=True),
    Metric("lpips", "lower", "LPIPS", lpips.CONVENTION,
           lambda p: lpips.lpips(p.reference, p.prediction, _lpips_net()), 4),
    Metric("ssim", "higher", "SSIM", ssim.CONVENTION, lambda p: ssim.ssim(p.reference, p.prediction), 4),
    Metric("hausdorff", "lower", "Hausdorff (px)", hausdorff.CONVENTION,
           lambda p: hausdorff.hausdorff(p.reference, p.prediction), 2, per_image=True),
    Metric("silhouette_hausdorff", "lower", "Silhouette Hausdorff (px)", hausdorff.SILHOUETTE_CONVENTION,
           lambda p: hausdorff.silhouette_hausdorff(*_masks(p)), 2, needs="both_masks", per_image=True),
    Metric("psnr", "higher", "PSNR (dB)", pixel.PSNR_CONVENTION, lambda p: pixel.psnr(p.reference, p.prediction),
           2),
    Metric("l1", "lower", "L1", pixel.L1_CONVENTION, lambda p: pixel.l1(p.reference, p.prediction), 4),
    Metric("masked_l1", "lower", "Masked L1", pixel.MASKED_L1_CONVENTION,
           lambda p: pixel.masked_l1(p.reference, p.prediction, _reference_mask(p)), 4, needs="reference_mask"),
]}
DEFAULT_METRICS = tuple(METRICS)  # what `evaluate` computes unless told otherwise: all of them


def available(names: tuple[str, ...], pair: Pair) -> tuple[list[str], dict[str, str]]:
    """Split metric names into those this pair can be scored with and {name: why not} for the rest."""
    runnable, skipped = [], {}
    for name in names:
        if name not in METRICS:
            raise MetricInputError(f"unknown metric {name!r}; known: {', '.join(METRICS)}")
        needs = METRICS[name].needs
        if needs == "reference_mask" and pair.reference_mask is None:
            skipped[name] = "the references have no object masks"
        elif needs == "both_masks" and (pair.reference_mask is None or pair.prediction_mask is None):
            skipped[name] = "references and predictions both need alpha masks"
        else:
            runnable.append(name)
    return runnable, skipped
