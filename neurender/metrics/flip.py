"""FLIP (Andersson et al. 2020) through NVIDIA's ``flip-evaluator``, LDR mode.

Convention: float32 (H, W, 3) sRGB images in [0, 1] (never uint8), default 67.02 pixels per degree, the
per-image score is the mean of the error map.
"""

from __future__ import annotations

import flip_evaluator
import numpy as np

from neurender.metrics.images import check_pair


def flip(reference: np.ndarray, prediction: np.ndarray, ppd: float | None = None) -> dict[str, np.ndarray]:
    """Mean FLIP error per image, and the error maps.

    reference, prediction: (N, H, W, 3) float in [0, 1]. ppd: pixels per degree (None: FLIP's default).
    Returns {"flip": (N,) float64, "flip_map": (N, H, W) float32 in [0, 1]}.
    """
    reference, prediction = check_pair(reference, prediction)
    parameters = {} if ppd is None else {"ppd": float(ppd)}
    n, h, w, _ = reference.shape
    values = np.empty(n)
    maps = np.empty((n, h, w), np.float32)
    for i in range(n):
        error_map, values[i], _ = flip_evaluator.evaluate(
            np.ascontiguousarray(reference[i]), np.ascontiguousarray(prediction[i]), "LDR",
            applyMagma=False, parameters=parameters)
        maps[i] = error_map[..., 0]
    return {"flip": values, "flip_map": maps}
