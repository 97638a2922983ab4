"""Per-pixel errors: PSNR, L1 and L1 over object pixels only."""

from __future__ import annotations

import numpy as np

from neurender.metrics.images import check_masks, check_pair


def psnr(reference: np.ndarray, prediction: np.ndarray) -> dict[str, np.ndarray]:
    """(N, H, W, 3) float in [0, 1] twice -> {"psnr": (N,) dB}."""
    reference, prediction = check_pair(reference, prediction)
    mse = np.square(reference.astype(np.float64) - prediction).mean((1, 2, 3))
    return {"psnr": 10 * np.log10(1.0 / np.maximum(mse, 1e-10))}


def l1(reference: np.ndarray, prediction: np.ndarray) -> dict[str, np.ndarray]:
    """(N, H, W, 3) float in [0, 1] twice -> {"l1": (N,)}."""
    reference, prediction = check_pair(reference, prediction)
    return {"l1": np.abs(reference.astype(np.float64) - prediction).mean((1, 2, 3))}


def masked_l1(reference: np.ndarray, prediction: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    """L1 over object pixels. images (N, H, W, 3) float in [0, 1]; mask (N, H, W) bool -> {"masked_l1": (N,)}."""
    reference, prediction = check_pair(reference, prediction)
    mask = check_masks(mask, reference)
    error = np.abs(reference.astype(np.float64) - prediction).mean(3)
    count = mask.sum((1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"masked_l1": np.where(count > 0, (error * mask).sum((1, 2)) / count, np.nan)}
