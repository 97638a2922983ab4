"""Losses on hand-made cases; the balance controller on synthetic accuracy streams."""

import math

import pytest
import torch

from neurender.errors import NeurenderError
from neurender.training.balance import BalanceController, Decision, build_rule
from neurender.training.config import from_dict
from neurender.training.losses import masked_l1
from neurender.training.registry import GAN_LOSSES


def test_masked_l1_weights_object_and_background():
    target = torch.zeros(1, 3, 2, 2)
    prediction = torch.zeros(1, 3, 2, 2)
    prediction[0, :, 0, 0] = 1.0  # object pixel, error 1
    prediction[0, :, 1, 1] = 0.5  # background pixel, error 0.5
    mask = torch.zeros(1, 1, 2, 2)
    mask[0, 0, 0, 0] = 1
    assert masked_l1(prediction, target, mask).item() == pytest.approx((1 + 0.5) / 4)
    assert masked_l1(prediction, target, mask, 10.0, 0.0).item() == pytest.approx(10 / 4)
    assert masked_l1(prediction, target, mask, 0.0, 2.0).item() == pytest.approx(1 / 4)


def d_loss(real, fake, kind, smoothing=0.0):
    return GAN_LOSSES.get(kind)().d_loss(real, fake, smoothing)


def g_loss(fake, kind):
    return GAN_LOSSES.get(kind)().g_loss(fake)


def test_gan_losses_at_known_logits():
    zero = torch.zeros(4)
    assert d_loss(zero, zero, "bce").item() == pytest.approx(2 * math.log(2))
    assert g_loss(zero, "bce").item() == pytest.approx(math.log(2))
    big = torch.full((4,), 20.0)
    assert d_loss(big, -big, "bce").item() == pytest.approx(0.0, abs=1e-6)
    assert d_loss(big, -big, "bce", smoothing=0.1).item() > 1.0  # the real target is 0.9, not 1
    assert d_loss(torch.ones(4), torch.zeros(4), "lsgan").item() == pytest.approx(0.0)
    assert d_loss(torch.ones(4), torch.zeros(4), "lsgan", smoothing=0.2).item() == pytest.approx(0.04)
    assert g_loss(torch.ones(4), "lsgan").item() == 0.0
    assert d_loss(torch.full((4,), 2.0), torch.full((4,), -2.0), "hinge").item() == 0.0
    assert d_loss(zero, zero, "hinge").item() == 2.0
    assert g_loss(torch.full((4,), 3.0), "hinge").item() == -3.0
    with pytest.raises(NeurenderError, match="unknown GAN loss 'wasserstein'"):
        g_loss(zero, "wasserstein")


def test_accuracy():
    bce = GAN_LOSSES.get("bce")()
    assert bce.accuracy(torch.tensor([1.0, -1.0]), torch.tensor([-1.0, -1.0])) == (0.5, 1.0)


def test_dominating_discriminator_is_skipped_and_generator_boosted_up_to_the_bound():
    c = BalanceController(low=0.6, high=0.85, decay=0.5, max_g_steps=3, max_d_steps=2)
    decisions = [c.update(1.0, 1.0) for _ in range(10)]
    assert decisions[0] == Decision(1, 1)  # the moving average starts at 0.5 and must climb first
    assert decisions[-1] == Decision(0, 3) and c.lean == 2  # bounded: never more than max_g_steps
    assert all(d.g_steps <= 3 for d in decisions)
    assert c.counts["d_skipped"] == sum(d.d_steps == 0 for d in decisions)


def test_weak_discriminator_gets_extra_steps_up_to_the_bound_then_relaxes():
    c = BalanceController(low=0.6, high=0.85, decay=0.5, max_g_steps=3, max_d_steps=2)
    decisions = [c.update(0.0, 0.0) for _ in range(10)]
    assert decisions[-1] == Decision(2, 1) and c.lean == -1
    assert max(d.d_steps for d in decisions) == 2
    for _ in range(10):
        c.update(0.7, 0.7)  # inside the band: back to one step each
    assert c.decision == Decision(1, 1) and c.lean == 0


@pytest.mark.parametrize("seed", range(3))
def test_default_controller_never_starves_the_generator(seed):
    """Weak, dominating and noisy discriminators: G steps in every decision and D never more often than G."""
    g = torch.Generator().manual_seed(seed)
    streams = [[(0.0, 0.0)] * 30, [(1.0, 1.0)] * 30, [(0.5, 0.55)] * 30,
               [tuple(torch.rand(2, generator=g).tolist()) for _ in range(200)]]
    for stream in streams:
        c = BalanceController(decay=0.5)
        decisions = [c.update(*acc) for acc in stream]
        assert all(d.g_steps >= 1 and d.d_steps <= 1 and d.d_steps <= d.g_steps for d in decisions)
        assert c.counts["d_extra_steps"] == 0
    weak = BalanceController()
    assert all(weak.update(0.52, 0.55) == Decision(1, 1) for _ in range(50))  # D near chance: fixed 1:1 steps


def test_disabled_controller_always_balanced():
    c = BalanceController(enabled=False)
    assert all(c.update(1.0, 1.0) == Decision(1, 1) for _ in range(5))
    assert c.counts["balanced"] == 5


def test_state_round_trip_continues_identically():
    stream = [(0.9, 1.0), (1.0, 0.95), (0.2, 0.1), (0.5, 0.4), (1.0, 1.0)] * 3
    a = BalanceController(decay=0.7)
    for acc in stream[:6]:
        a.update(*acc)
    b = BalanceController(decay=0.7)
    b.load_state_dict(a.state_dict())
    assert [a.update(*acc) for acc in stream[6:]] == [b.update(*acc) for acc in stream[6:]]
    assert a.state_dict() == b.state_dict()


def test_a_rules_options_are_its_own_and_the_balance_settings_stay_in_their_section(tmp_path):
    base = {"preset": "easy", "out": str(tmp_path / "run")}
    with pytest.raises(NeurenderError, match=r"low is a \[balance\] setting: set it there, not in \[balance.options\]"):
        from_dict({**base, "balance": {"options": {"low": 0.3}}})
    with pytest.raises(NeurenderError, match="BalanceController has no option gain; its options: none"):
        from_dict({**base, "balance": {"options": {"gain": 2}}})
    assert build_rule(from_dict({**base, "balance": {"low": 0.3, "max_d_steps": 2}}).balance).low == 0.3
