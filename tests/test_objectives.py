import pytest
import torch

from neurender.models.discriminator import Discriminator
from neurender.training import losses
from neurender.training.config import LossConfig
from neurender.training.objectives import Adversarial, MaskedL1, PixelL1


def test_masked_l1_weighs_object_and_background_apart_times_the_phase_factor():
    fake, image = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    mask = (torch.rand(2, 1, 8, 8) > 0.5).float()
    loss, logged = MaskedL1(LossConfig(l1_object=10.0, l1_background=1.0))(fake, image, mask, factor=2.0)
    assert torch.equal(loss, losses.masked_l1(fake, image, mask, 20.0, 2.0)) and logged == {"g_l1": loss.item()}


def test_pixel_l1_adds_the_coverage_cross_entropy_and_the_object_l1():
    colour, logit, target = torch.rand(2, 5, 3), torch.randn(2, 5), torch.rand(2, 5, 4).round()
    loss, logged = PixelL1(LossConfig(coverage_weight=0.5, l1_object=4.0))(colour, logit, target)
    coverage, l1 = losses.pixel_losses(colour, logit, target)
    assert torch.allclose(loss, 0.5 * coverage + 4.0 * l1)
    assert logged == pytest.approx({"g_l1": l1.item(), "g_coverage": coverage.item()})


@pytest.mark.parametrize("kind", ["bce", "rpgan"])
def test_the_adversarial_term_reaches_g_and_leaves_d_untouched(kind):
    torch.manual_seed(0)
    d = Discriminator(16, width=8)
    fake = torch.rand(3, 3, 16, 16, requires_grad=True)
    term, logged, accuracy = Adversarial(LossConfig(gan=kind, gan_weight=0.05), d)(
        fake, torch.rand(3, 3, 16, 16), torch.randn(3, 10), None)
    term.backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0
    assert all(p.grad is None for p in d.parameters()) and all(p.requires_grad for p in d.parameters())
    assert torch.allclose(term, 0.05 * torch.tensor(logged["g_gan"])) and 0 <= accuracy <= 1
