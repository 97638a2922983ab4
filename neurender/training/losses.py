"""Loss functions of images and sampled pixels, and where the pixels are drawn (the GAN losses: ``gan``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def masked_l1(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
              object_weight: float = 1.0, background_weight: float = 1.0) -> torch.Tensor:
    """Weighted mean absolute error. prediction, target: (B, 3, H, W); mask: (B, 1, H, W) in [0, 1] (object).

    Each pixel's |error| (mean over RGB) is weighted by object_weight on the object and background_weight
    elsewhere, then averaged over all pixels. Returns a scalar.
    """
    error = (prediction - target).abs().mean(1, keepdim=True)
    weights = background_weight + (object_weight - background_weight) * mask
    return (weights * error).mean()


def detail(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """How fast the shading changes at each object pixel away from the silhouette: the largest over RGB of
    |central difference| summed over x and y, 0 on the silhouette band and the background.
    image (B, 3, H, W), mask (B, 1, H, W) -> (B, H, W)."""
    m = (mask[:, 0] > 0.5).float()
    inner = -F.max_pool2d(-m[:, None], 5, 1, 2)[:, 0]  # 2 pixels in from the silhouette
    padded = F.pad(image, (1, 1, 1, 1), mode="replicate")
    dx = (padded[..., 1:-1, 2:] - padded[..., 1:-1, :-2]).abs()
    dy = (padded[..., 2:, 1:-1] - padded[..., :-2, 1:-1]).abs()
    return (dx + dy).amax(1) * inner


def sample_pixels(mask: torch.Tensor, count: int, silhouette_share: float = 0.5, object_share: float = 0.25,
                  detail_share: float = 0.0, image: torch.Tensor | None = None) -> torch.Tensor:
    """Pixels to train on, per scene: a share on the silhouette (pixels whose 3x3 neighbourhood is mixed), a
    share on the object, a share on the object's shading detail (drawn in proportion to ``detail``: highlights and
    terminators), the rest uniform over the frame; drawn with replacement from torch's generator.

    mask (B, 1, H, W) in [0, 1], image (B, 3, H, W) (needed when detail_share > 0) -> (B, count) int64 flat pixel
    indices (row * W + column). Scenes without an object, a silhouette or detail give those shares to the
    uniform draw.
    """
    m = (mask[:, 0] > 0.5).float()
    edge = (F.max_pool2d(m[:, None], 3, 1, 1) != -F.max_pool2d(-m[:, None], 3, 1, 1))[:, 0].float()
    b, h, w = m.shape

    def share(x: torch.Tensor, weight: float) -> torch.Tensor:
        total = x.sum((1, 2), keepdim=True)
        return torch.where(total > 0, weight * x / total.clamp(min=1e-12), weight / (h * w))

    uniform = 1 - silhouette_share - object_share - detail_share
    weights = share(edge, silhouette_share) + share(m, object_share) + uniform / (h * w)
    if detail_share:
        weights = weights + share(detail(image, mask), detail_share)
    return torch.multinomial(weights.view(b, -1), count, replacement=True)


def pixel_losses(colour: torch.Tensor, logit: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sampled-pixel losses: (binary cross-entropy of the coverage logits against the mask, mean L1 of the
    colour over object pixels). colour (B, K, 3), logit (B, K), target (B, K, 4) RGBA."""
    mask = target[..., 3]
    coverage = F.binary_cross_entropy_with_logits(logit, (mask > 0.5).float())
    l1 = ((colour - target[..., :3]).abs().mean(-1) * mask).sum() / mask.sum().clamp(min=1)
    return coverage, l1
