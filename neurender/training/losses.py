"""Losses: masked L1, sampled-pixel losses, the edge term and the GAN objectives (non-saturating BCE, least squares,
hinge, paired relativistic)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

LUMA = (0.2125, 0.7154, 0.0721)  # skimage's rgb2gray, which the Hausdorff metric's Canny reads
EDGE_SIGMA, EDGE_TRUNCATE = 1.0, 4.0  # the metric's Canny smoothing: a Gaussian of sigma 1, cut at 4 sigma
EDGE_REACH = int(EDGE_TRUNCATE * EDGE_SIGMA + 0.5) + 1  # pixels a gradient magnitude sees each side (+1: Sobel)
EDGE_WINDOW = 5  # gradient magnitudes compared per scene: a 5 x 5 window at the exact image's strongest edge
EDGE_CROP = EDGE_WINDOW + 2 * EDGE_REACH  # the pixels G renders for it, a side
EDGE_THRESHOLD = 0.2  # Canny's high threshold on that magnitude (skimage's default for float images)


def masked_l1(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
              object_weight: float = 1.0, background_weight: float = 1.0) -> torch.Tensor:
    """Weighted mean absolute error. prediction, target: (B, 3, H, W); mask: (B, 1, H, W) in [0, 1] (object).

    Each pixel's |error| (mean over RGB) is weighted by object_weight on the object and background_weight
    elsewhere, then averaged over all pixels. Returns a scalar.
    """
    error = (prediction - target).abs().mean(1, keepdim=True)
    weights = background_weight + (object_weight - background_weight) * mask
    return (weights * error).mean()


def d_loss(real: torch.Tensor, fake: torch.Tensor, kind: str, smoothing: float = 0.0) -> torch.Tensor:
    """Discriminator loss from logits on real and generated images (any equal shapes).

    smoothing: one-sided label smoothing, the real target becomes 1 - smoothing (bce and lsgan; hinge ignores it).
    rpgan (paired relativistic): real and fake are pairs of the same scene and crop, and D is scored on the
    difference of their logits, so what both images share (almost all of a good renderer's image) cancels.
    """
    if kind == "bce":
        return (F.binary_cross_entropy_with_logits(real, torch.full_like(real, 1 - smoothing))
                + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
    if kind == "lsgan":
        return ((real - (1 - smoothing)) ** 2).mean() + (fake ** 2).mean()
    if kind == "hinge":
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    if kind == "rpgan":
        return F.softplus(fake - real).mean()
    raise ValueError(f"unknown GAN loss {kind!r}")


def g_loss(fake: torch.Tensor, kind: str, real: torch.Tensor | None = None) -> torch.Tensor:
    """Generator's adversarial loss from D's logits on its images (and, for rpgan, on the paired real ones)."""
    if kind == "bce":  # non-saturating
        return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))
    if kind == "lsgan":
        return ((fake - 1) ** 2).mean()
    if kind == "hinge":
        return -fake.mean()
    if kind == "rpgan":
        return F.softplus(real - fake).mean()
    raise ValueError(f"unknown GAN loss {kind!r}")


def accuracy(real: torch.Tensor, fake: torch.Tensor, kind: str = "bce") -> tuple[float, float]:
    """D's accuracy on real (logit > 0) and on generated images (logit < 0); for rpgan, where only differences
    count, both are the share of pairs whose real logit is the larger (a tie, as on identical patches, half)."""
    if kind == "rpgan":
        paired = ((real > fake).float() + 0.5 * (real == fake).float()).mean().item()
        return paired, paired
    return (real > 0).float().mean().item(), (fake < 0).float().mean().item()


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


def _edge_kernels(device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The Gaussian (1, 1, K) and the Sobel pair (2, 1, 3, 3) of ``gradient_magnitude``."""
    radius = EDGE_REACH - 1
    x = torch.arange(-radius, radius + 1, dtype=torch.float32, device=device)
    gauss = torch.exp(-0.5 * (x / EDGE_SIGMA) ** 2)
    gauss = (gauss / gauss.sum()).view(1, 1, -1)
    diff = torch.tensor([-1.0, 0.0, 1.0], device=device)
    smooth = torch.tensor([1.0, 2.0, 1.0], device=device)
    sobel = torch.stack([torch.outer(smooth, diff), torch.outer(diff, smooth)])[:, None]  # d/dx, d/dy
    return gauss[:, :, None, :], gauss[:, :, :, None], sobel


def gradient_magnitude(rgb: torch.Tensor) -> torch.Tensor:
    """What the metric's Canny thresholds, without padding: the luma (rgb2gray) smoothed by a Gaussian of
    sigma 1 (cut at 4 sigma) and the magnitude of scipy's Sobel pair on it (ndimage.sobel, unnormalised).
    rgb (B, 3, H, W) -> (B, H - 2 EDGE_REACH, W - 2 EDGE_REACH), the pixels whose filters stay inside."""
    luma = (rgb * torch.tensor(LUMA, device=rgb.device).view(1, 3, 1, 1)).sum(1, keepdim=True)
    gauss_x, gauss_y, sobel = _edge_kernels(rgb.device)
    gradient = F.conv2d(F.conv2d(F.conv2d(luma, gauss_x), gauss_y), sobel)
    return gradient.pow(2).sum(1).add(1e-12).sqrt()


def strongest_edge_crops(image: torch.Tensor) -> torch.Tensor:
    """Per scene, the EDGE_CROP x EDGE_CROP window of pixels centred (where the frame allows) on the exact image's
    largest gradient magnitude. image (B, 3, H, W) -> (B, EDGE_CROP^2) int64 flat pixel indices, row by row."""
    h, w = image.shape[2:]
    magnitude = gradient_magnitude(F.pad(image, (EDGE_REACH,) * 4, mode="replicate"))  # (B, H, W)
    peak = magnitude.flatten(1).argmax(1)
    top = (peak // w - EDGE_CROP // 2).clamp(0, h - EDGE_CROP)
    left = (peak % w - EDGE_CROP // 2).clamp(0, w - EDGE_CROP)
    span = torch.arange(EDGE_CROP, device=image.device)
    return ((top[:, None, None] + span[:, None]) * w + left[:, None, None] + span).flatten(1)


def edge_l1(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean |difference| over the window of ``gradient_magnitude`` compressed as g / (g + EDGE_THRESHOLD), so
    that errors count most where Canny decides (its slope is 1.25 at the threshold, 0.04 at ten times it):
    fake, real (B, 3, EDGE_CROP, EDGE_CROP)."""
    f, r = gradient_magnitude(fake), gradient_magnitude(real)
    return (f / (f + EDGE_THRESHOLD) - r / (r + EDGE_THRESHOLD)).abs().mean()
