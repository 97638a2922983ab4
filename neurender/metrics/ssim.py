"""SSIM with the settings of Wang et al. 2004, numerically scikit-image's ``structural_similarity``.

Convention: Gaussian window sigma 1.5 truncated at 3.5 sigma (11 taps), population covariance, K1 0.01, K2 0.03,
data_range 1, the map's mean over the region the window fits in (5 pixels in from each edge), mean over RGB.
scikit-image computes this one image and channel at a time; the same arithmetic batched in torch (the filter as
two band-matrix products) agrees with it to about 1e-7 and is several times faster, which matters for validation
during training.
"""

from __future__ import annotations

import numpy as np
import torch

from neurender.metrics.images import MetricInputError, check_pair

SIGMA = 1.5
RADIUS = int(3.5 * SIGMA + 0.5)  # scipy.ndimage's truncation rule, as scikit-image uses it
K1, K2 = 0.01, 0.03


def _window_matrix(size: int) -> torch.Tensor:
    """(size, size - 2R) float32 band matrix: x @ M applies the truncated Gaussian along the last axis, 'valid'."""
    x = torch.arange(-RADIUS, RADIUS + 1, dtype=torch.float64)
    w = torch.exp(-0.5 * (x / SIGMA) ** 2)
    w /= w.sum()
    m = torch.zeros(size, size - 2 * RADIUS, dtype=torch.float64)
    for j in range(size - 2 * RADIUS):
        m[j:j + 2 * RADIUS + 1, j] = w
    return m.float()


def ssim(reference: np.ndarray, prediction: np.ndarray, batch: int = 8) -> dict[str, np.ndarray]:
    """Mean SSIM per image. reference, prediction: (N, H, W, 3) float in [0, 1], H and W >= 11.

    Returns {"ssim": (N,) float64}. Computed in float32, as scikit-image does for float32 input.
    """
    reference, prediction = check_pair(reference, prediction)
    n, h, w, _ = reference.shape
    if min(h, w) < 2 * RADIUS + 1:
        raise MetricInputError(f"SSIM needs images of at least {2 * RADIUS + 1}x{2 * RADIUS + 1} pixels")
    rows, cols = _window_matrix(h).T.contiguous(), _window_matrix(w)
    c1, c2 = K1 ** 2, K2 ** 2
    out = []
    for start in range(0, n, batch):
        x, y = (torch.from_numpy(a[start:start + batch]).permute(0, 3, 1, 2) for a in (reference, prediction))
        mx, my, mxx, myy, mxy = (rows @ torch.stack([x, y, x * x, y * y, x * y]) @ cols).unbind(0)
        vx, vy, vxy = mxx - mx * mx, myy - my * my, mxy - mx * my
        s = (2 * mx * my + c1) * (2 * vxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2))
        out.append(s.double().mean((2, 3)).mean(1))
    return {"ssim": torch.cat(out).numpy() if out else np.empty(0)}
