from neurender.catalog import GAN_LOSSES, GENERATOR_NAMES, METRIC_NAMES, PRESET_NAMES
from neurender.metrics.registry import METRICS
from neurender.models.generators import GENERATORS
from neurender.presets import PRESETS
from neurender.training.losses import d_loss, g_loss


def test_the_catalog_names_exactly_what_each_registry_holds():
    assert tuple(PRESETS) == PRESET_NAMES
    assert tuple(GENERATORS) == GENERATOR_NAMES
    assert tuple(METRICS) == METRIC_NAMES


def test_every_gan_loss_in_the_catalog_is_implemented():
    import torch

    real, fake = torch.randn(4, 1), torch.randn(4, 1)
    for name in GAN_LOSSES:
        assert torch.isfinite(d_loss(real, fake, name)) and torch.isfinite(g_loss(fake, name, real))
