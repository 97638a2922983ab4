"""Hausdorff distances in pixels: between Canny edges (the peers' convention) and between object silhouettes.

Convention: the symmetric Hausdorff distance between two sets of pixel centres, computed exactly from Euclidean
distance transforms. Edges: scikit-image ``canny`` (sigma 1, default thresholds) on luma (``rgb2gray``).
0 when neither set has a pixel; the image diagonal when exactly one has (counted, so reports can show it);
scipy's ``directed_hausdorff`` would return 0 or inf there.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import distance_transform_edt
from skimage.color import rgb2gray
from skimage.feature import canny

from neurender.metrics.images import check_masks, check_pair


def set_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Symmetric Hausdorff distance between the True pixels of two (H, W) bool arrays, with the edge cases above."""
    has_a, has_b = a.any(), b.any()
    if not (has_a or has_b):
        return 0.0
    if not (has_a and has_b):
        return math.hypot(*a.shape)
    return float(max(distance_transform_edt(~b)[a].max(), distance_transform_edt(~a)[b].max()))


def edges(images: np.ndarray) -> np.ndarray:
    """Canny edges on luma. images: (N, H, W, 3) float in [0, 1] -> (N, H, W) bool."""
    return np.stack([canny(rgb2gray(image), sigma=1.0) for image in images]) if len(images) else \
        np.zeros(images.shape[:3], bool)


def _distances(a: np.ndarray, b: np.ndarray, name: str) -> dict[str, np.ndarray]:
    has_a, has_b = a.any((1, 2)), b.any((1, 2))
    return {name: np.array([set_distance(x, y) for x, y in zip(a, b, strict=True)], dtype=np.float64),
            f"{name}_one_empty": has_a != has_b,
            f"{name}_both_empty": ~(has_a | has_b)}


def hausdorff(reference: np.ndarray, prediction: np.ndarray) -> dict[str, np.ndarray]:
    """Edge Hausdorff per image. reference, prediction: (N, H, W, 3) float in [0, 1].

    Returns {"hausdorff": (N,), "hausdorff_one_empty": (N,) bool, "hausdorff_both_empty": (N,) bool}.
    """
    reference, prediction = check_pair(reference, prediction)
    return _distances(edges(reference), edges(prediction), "hausdorff")


def silhouette_hausdorff(reference_mask: np.ndarray, prediction_mask: np.ndarray) -> dict[str, np.ndarray]:
    """Hausdorff between object masks. reference_mask, prediction_mask: (N, H, W) bool.

    Returns {"silhouette_hausdorff": (N,), and the one_empty / both_empty flags as above}.
    """
    reference_mask = check_masks(reference_mask, reference_mask[..., None], "reference mask")
    prediction_mask = check_masks(prediction_mask, reference_mask[..., None], "prediction mask")
    return _distances(reference_mask, prediction_mask, "silhouette_hausdorff")
