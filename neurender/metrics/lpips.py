"""LPIPS v0.1 with the AlexNet trunk (Zhang et al. 2018), in torch, numerically the ``lpips`` package's.

Convention: RGB scaled to [-1, 1]; the scaling layer; AlexNet relu1..relu5; each feature vector normalised to
unit length (eps 1e-10); squared difference; the v0.1 1x1 linear weights (no bias); spatial mean; sum over layers.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from neurender.metrics.images import check_pair
from neurender.metrics.lpips_weights import CHANNELS, load_weights

SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
TAPS = (1, 4, 7, 9, 11)  # indices of relu1..relu5 in the trunk below


class LPIPS(nn.Module):
    """Perceptual distance between batches: forward(a, b) with (N, 3, H, W) in [0, 1] -> (N,) distances."""

    def __init__(self) -> None:
        super().__init__()
        self.trunk = nn.Sequential(  # torchvision's alexnet.features, without the last max-pool
            nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
            nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(),
        )
        self.linear = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in CHANNELS)
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1))
        self.requires_grad_(False)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(N, 3, H, W) in [0, 1] -> five unit-normalised feature maps (N, C_k, H_k, W_k)."""
        x = ((x * 2 - 1) - self.shift) / self.scale
        taps = []
        for i, layer in enumerate(self.trunk):
            x = layer(x)
            if i in TAPS:
                taps.append(x / (x.square().sum(1, keepdim=True).sqrt() + 1e-10))
        return taps

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        both = self.features(torch.cat([a, b]))
        n = a.shape[0]
        return sum(lin((f[:n] - f[n:]).square()).mean((1, 2, 3)) for lin, f in zip(self.linear, both, strict=True))


def load_lpips(device: torch.device | str = "cpu") -> LPIPS:
    """An LPIPS network with the cached v0.1 weights, in eval mode (raises with fetch advice when missing)."""
    net = LPIPS()
    net.load_state_dict(load_weights(), strict=False)  # shift/scale buffers are constants, not in the file
    return net.eval().to(device)


def lpips(reference: np.ndarray, prediction: np.ndarray, net: LPIPS | None = None,
          batch: int = 64) -> dict[str, np.ndarray]:
    """LPIPS per image. reference, prediction: (N, H, W, 3) float in [0, 1]. Returns {"lpips": (N,)}."""
    reference, prediction = check_pair(reference, prediction)
    net = net or load_lpips()
    device = net.shift.device
    out = []
    with torch.inference_mode():
        for start in range(0, len(reference), batch):
            a, b = (torch.from_numpy(x[start:start + batch]).permute(0, 3, 1, 2).to(device)
                    for x in (reference, prediction))
            out.append(net(a, b).double().cpu())
    return {"lpips": torch.cat(out).numpy() if out else np.empty(0)}
