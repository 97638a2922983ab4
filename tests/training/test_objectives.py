"""Objectives: the built-in terms, the GAN losses, and an objective defined here that trains through the config
alone (no package file names it)."""

import json

import pytest
import torch
from cli_helpers import assert_user_error, run

from neurender.errors import NeurenderError
from neurender.models.discriminator import Discriminator
from neurender.training import losses
from neurender.training.config import from_dict
from neurender.training.gan import GanLoss, PairedRelativistic
from neurender.training.objectives import Adversarial, DiscriminatorLoss, MaskedL1, Objective, PixelL1, Term
from neurender.training.registry import GAN_LOSSES, OBJECTIVES
from neurender.training.schedule import Phase
from neurender.training.views import Pairs, Rendered

FINETUNE = Phase("finetune", 8, True, 0.1, 2.0)
WARMUP = Phase("warmup", 8, False, 1.0, 1.0)


def test_masked_l1_weighs_object_and_background_apart_times_the_phase_factor():
    fake, image = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    mask = (torch.rand(2, 1, 8, 8) > 0.5).float()
    term = MaskedL1(l1_object=10.0, l1_background=1.0)(Rendered(torch.zeros(2, 10), fake, image, mask), FINETUNE)
    assert torch.equal(term.loss, losses.masked_l1(fake, image, mask, 20.0, 2.0))
    assert term.logged == {"g_l1": term.loss.item()} and term.accuracy is None


def test_pixel_l1_adds_the_coverage_cross_entropy_and_the_object_l1():
    colour, logit, target = torch.rand(2, 5, 3), torch.randn(2, 5), torch.rand(2, 5, 4).round()
    step = Rendered(torch.zeros(2, 10), colour=colour, logit=logit, target=target)
    term = PixelL1(coverage_weight=0.5, l1_object=4.0)(step, FINETUNE)
    coverage, l1 = losses.pixel_losses(colour, logit, target)
    assert torch.allclose(term.loss, 0.5 * coverage + 4.0 * 2.0 * l1)
    assert term.logged == pytest.approx({"g_l1": l1.item(), "g_coverage": coverage.item()})


def test_each_objective_judges_only_what_its_view_draws():
    pixels = Rendered(torch.zeros(2, 10), colour=torch.rand(2, 5, 3), logit=torch.randn(2, 5),
                      target=torch.rand(2, 5, 4))
    assert MaskedL1(1.0, 1.0)(pixels, WARMUP) is None
    frames = Rendered(torch.zeros(2, 10), torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8), torch.ones(2, 1, 8, 8))
    assert PixelL1(1.0, 1.0)(frames, WARMUP) is None


@pytest.mark.parametrize("kind", ["bce", "rpgan"])
def test_the_adversarial_term_reaches_g_and_leaves_d_untouched(kind):
    torch.manual_seed(0)
    d = Discriminator(16, width=8)
    fake = torch.rand(3, 3, 16, 16, requires_grad=True)
    step = Rendered(torch.randn(3, 10), fake=fake, real=torch.rand(3, 3, 16, 16))
    term = Adversarial(gan_weight=0.05, gan_loss=GAN_LOSSES.get(kind)(), discriminator=d)(step, FINETUNE)
    term.loss.backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0
    assert all(p.grad is None for p in d.parameters()) and all(p.requires_grad for p in d.parameters())
    assert torch.allclose(term.loss, 0.05 * torch.tensor(term.logged["g_gan"])) and 0 <= term.accuracy[1] <= 1


def test_d_loss_and_accuracy_on_pairs():
    torch.manual_seed(0)
    d = Discriminator(16, width=8)
    pairs = Pairs(torch.rand(4, 3, 16, 16), torch.rand(4, 3, 16, 16), torch.randn(4, 10), None)
    term = DiscriminatorLoss(GAN_LOSSES.get("hinge")(), 0.0, d)(pairs, FINETUNE)
    assert term.logged == {"d": term.loss.item()} and all(0 <= a <= 1 for a in term.accuracy)


@pytest.mark.parametrize("name", GAN_LOSSES.names)
def test_every_registered_gan_loss_keeps_the_contract(name):
    gan = GAN_LOSSES.get(name)()
    real, fake = torch.randn(4, 1), torch.randn(4, 1)
    assert isinstance(gan, GanLoss)
    assert torch.isfinite(gan.d_loss(real, fake, 0.1)) and torch.isfinite(gan.g_loss(fake, real))
    assert all(0 <= a <= 1 for a in gan.accuracy(real, fake))
    assert 0 <= gan.fake_accuracy(fake, real) <= 1


def test_paired_relativistic_scores_differences():
    real, fake = torch.tensor([2.0, 0.5, 1.0]), torch.tensor([-2.0, 0.5, 3.0])
    rpgan = PairedRelativistic()
    assert rpgan.paired and rpgan.accuracy(real, fake) == pytest.approx((0.5, 0.5))  # right, tie, wrong


def test_every_registered_objective_keeps_the_contract():
    for name in OBJECTIVES:
        cls = OBJECTIVES.get(name)
        assert issubclass(cls, Objective) and cls.network in ("g", "d"), name


class MeanBrightness(Objective):
    """A term no built-in has: G's mean brightness pulled towards `target`, in the warm-up only."""

    phases = ("warmup",)
    phases_seen: set = set()

    def __init__(self, weight: float, target: float = 0.5):
        self.weight, self.target = weight, target

    def __call__(self, step: Rendered, phase: Phase) -> Term | None:
        if step.fake is None:
            return None
        MeanBrightness.phases_seen.add(phase.name)
        gap = (step.fake.mean() - self.target).abs()
        return Term(self.weight * gap, {"g_brightness": gap.item()})


def brightness_config(tmp_path, options: str) -> str:
    path = tmp_path / "brightness.toml"
    path.write_text(f"""preset = "easy"
resolution = 32
[model]
arch = "hybrid"
width = 32
d_width = 8
[schedule]
batch = 8
warmup_images = 16
adversarial_images = 16
finetune_images = 0
[run]
tick_images = 8
val_images = 8
threads = 1
[loss.objectives."training.test_objectives:MeanBrightness"]
{options}
""")
    return path


def test_an_objective_defined_in_a_test_file_trains_through_the_config_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURENDER_PLUGINS", "training.test_objectives")
    MeanBrightness.phases_seen.clear()
    result = run("train", "--config", brightness_config(tmp_path, "weight = 3.0\ntarget = 0.9"),
                 "--out", tmp_path / "with")
    assert result.exit_code == 0, result.output
    log = [json.loads(line) for line in (tmp_path / "with" / "log.jsonl").read_text().splitlines()]
    assert [("g_brightness" in line, line["phase"]) for line in log] == \
        [(True, "warmup"), (True, "warmup"), (False, "adversarial"), (False, "adversarial")]
    assert MeanBrightness.phases_seen == {"warmup"}
    # the term moved G: the same run without it ends with other weights, and its brightness gap is larger
    run("train", "--config", brightness_config(tmp_path, "weight = 0.0\ntarget = 0.9"), "--out", tmp_path / "without")
    with_it = torch.load(tmp_path / "with" / "renderer.pt", weights_only=True)["g_ema"]
    without = torch.load(tmp_path / "without" / "renderer.pt", weights_only=True)["g_ema"]
    assert any(not torch.equal(with_it[k], without[k]) for k in with_it)
    plain = [json.loads(line) for line in (tmp_path / "without" / "log.jsonl").read_text().splitlines()]
    assert log[1]["g_brightness"] < plain[1]["g_brightness"]


def test_plug_in_objectives_are_checked_when_the_config_is(tmp_path, monkeypatch):
    base = {"preset": "easy", "out": str(tmp_path / "run")}
    with pytest.raises(NeurenderError, match="plug-in objective.*NEURENDER_PLUGINS=training.test_objectives"):
        from_dict({**base, "loss": {"objectives": {"training.test_objectives:MeanBrightness": {"weight": 1.0}}}})
    monkeypatch.setenv("NEURENDER_PLUGINS", "training.test_objectives")
    with pytest.raises(NeurenderError, match="MeanBrightness has no option wieght; its options: target, weight"):
        from_dict({**base, "loss": {"objectives": {"training.test_objectives:MeanBrightness": {"wieght": 1.0}}}})
    with pytest.raises(NeurenderError, match="unknown objective 'nope'"):
        from_dict({**base, "loss": {"objectives": {"nope": {}}}})
    with pytest.raises(NeurenderError, match="not a objective class|not an objective class"):
        from_dict({**base, "loss": {"objectives": {"training.test_objectives:brightness_config": {}}}})
    result = run("train", "--config", brightness_config(tmp_path, "target = 0.9"), "--out", tmp_path / "missing")
    assert_user_error(result, "objective training.test_objectives:MeanBrightness needs weight")
    assert not (tmp_path / "missing").exists()
