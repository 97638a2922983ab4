"""The GAN losses, one class each (registered in ``training.registry.GAN_LOSSES``, set by ``loss.gan``).

The contract (``GanLoss``): D's loss from its logits on real and generated images, G's loss from its logits on
G's images, and D's accuracy on both. A *paired* loss scores the difference of D's logits on a real image and
G's image of the same scene (and crop), so G's step needs D's logits on the real images too, and one accuracy
describes both sides.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class GanLoss:
    """Logits of any equal shapes. ``smoothing``: one-sided label smoothing, the real target becomes
    1 - smoothing where the loss has targets."""

    paired = False  # G's loss and the accuracy compare D's logits on (real, fake) pairs of one scene

    def d_loss(self, real: torch.Tensor, fake: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
        raise NotImplementedError

    def g_loss(self, fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def accuracy(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[float, float]:
        """D's accuracy on real (logit > 0) and on generated images (logit < 0)."""
        return self.real_accuracy(real), self.fake_accuracy(fake, None)

    def real_accuracy(self, real: torch.Tensor) -> float:
        """D's accuracy on real images alone (unpaired losses)."""
        return (real > 0).float().mean().item()

    def fake_accuracy(self, fake: torch.Tensor, real: torch.Tensor | None) -> float:
        """D's accuracy on G's images alone (``real``: D's logits on the paired real images, for paired losses)."""
        return (fake < 0).float().mean().item()


class NonSaturating(GanLoss):
    """Binary cross-entropy; G maximises log D(G(z)) (non-saturating)."""

    def d_loss(self, real, fake, smoothing=0.0):
        return (F.binary_cross_entropy_with_logits(real, torch.full_like(real, 1 - smoothing))
                + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))

    def g_loss(self, fake, real=None):
        return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))


class LeastSquares(GanLoss):
    def d_loss(self, real, fake, smoothing=0.0):
        return ((real - (1 - smoothing)) ** 2).mean() + (fake ** 2).mean()

    def g_loss(self, fake, real=None):
        return ((fake - 1) ** 2).mean()


class Hinge(GanLoss):
    """Hinge loss; it ignores label smoothing."""

    def d_loss(self, real, fake, smoothing=0.0):
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()

    def g_loss(self, fake, real=None):
        return -fake.mean()


class PairedRelativistic(GanLoss):
    """D is scored on the difference of its logits on a real image and G's image of the same scene and crop, so
    what both share (almost all of a good renderer's image) cancels. Ignores label smoothing."""

    paired = True

    def d_loss(self, real, fake, smoothing=0.0):
        return F.softplus(fake - real).mean()

    def g_loss(self, fake, real=None):
        return F.softplus(real - fake).mean()

    def accuracy(self, real, fake):
        """Both sides: the share of pairs whose real logit is the larger (a tie, as on identical patches, half)."""
        paired = ((real > fake).float() + 0.5 * (real == fake).float()).mean().item()
        return paired, paired

    def fake_accuracy(self, fake, real):
        return self.accuracy(real, fake)[1]
