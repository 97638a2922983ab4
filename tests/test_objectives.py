import numpy as np
import pytest
import torch
import torch.nn.functional as F

from neurender.models.discriminator import Discriminator
from neurender.training import losses
from neurender.training.config import LossConfig
from neurender.training.objectives import Adversarial, EdgeGradient, MaskedL1, PixelL1


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


def test_the_edge_magnitude_is_what_the_metrics_canny_thresholds():
    """Luma, a Gaussian of sigma 1 cut at 4 sigma, scipy's Sobel pair: as skimage's canny computes it inside the
    frame (where its border handling does not reach)."""
    from scipy import ndimage
    from skimage.color import rgb2gray

    rgb = torch.rand(2, 3, 24, 24)
    reach = losses.EDGE_REACH
    for image, magnitude in zip(rgb, losses.gradient_magnitude(rgb)):
        smooth = ndimage.gaussian_filter(rgb2gray(image.permute(1, 2, 0).numpy()), 1.0, truncate=4.0)
        exact = np.hypot(ndimage.sobel(smooth, 0), ndimage.sobel(smooth, 1))[reach:-reach, reach:-reach]
        assert np.abs(magnitude.numpy() - exact).max() < 1e-5


def test_the_edge_window_sits_on_the_strongest_edge_inside_the_frame():
    image = torch.zeros(3, 3, 32, 32)
    image[0, :, 10:20, 12:22] = 1.0  # a square: edges on its outline
    image[1, :, 0:6, 26:32] = 0.5  # in the top right corner: the window moves inside the frame
    crops = losses.strongest_edge_crops(image)  # image 2 is black: any window, inside the frame
    side = losses.EDGE_CROP
    assert crops.shape == (3, side * side) and crops.min() >= 0 and crops.max() < 32 * 32
    rows, cols = crops // 32, crops % 32
    assert torch.equal(rows[:, ::side], rows[:, :side * side:side]) and (rows.amax(1) - rows.amin(1) == side - 1).all()
    assert (cols.amax(1) - cols.amin(1) == side - 1).all()
    magnitude = losses.gradient_magnitude(F.pad(image, (losses.EDGE_REACH,) * 4, mode="replicate"))
    for crop, m in zip(crops, magnitude):
        assert m.flatten().argmax() in crop  # the strongest edge is in its window
    assert cols[1].max() == 31 and rows[1].min() == 0


def test_the_edge_term_is_zero_on_the_reference_and_reaches_g():
    real = torch.rand(2, 3, losses.EDGE_CROP, losses.EDGE_CROP)
    edge = EdgeGradient(LossConfig(edge_weight=3.0))
    term, logged = edge(real.clone(), real)
    assert term.item() == 0 and logged == {"g_edge": 0.0}
    fake = (real * 0.9).requires_grad_(True)
    term, logged = edge(fake, real)
    term.backward()
    assert term.item() == pytest.approx(3.0 * logged["g_edge"]) and term.item() > 0
    assert fake.grad.abs().sum() > 0
