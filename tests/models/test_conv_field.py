"""conv_field: crops equal the whole frame, a fresh one draws its trunk's field, crop training and the crop D."""

import json

import numpy as np
import pytest
import torch

from neurender.errors import NeurenderError
from neurender.inference import load_renderer
from neurender.models.blocks import window_points
from neurender.models.discriminator import Discriminator
from neurender.models.generators import build_generator
from neurender.presets import PRESETS
from neurender.sampling import sample_scenes
from neurender.scene import encode_params
from neurender.training.config import from_dict
from neurender.training.gan import PairedRelativistic
from neurender.training.loop import Trainer


def scenes(count: int, resolution: int = 32) -> torch.Tensor:
    params = sample_scenes(PRESETS["easy"], 5, np.arange(count), resolution)
    return encode_params(torch.from_numpy(params)).float()


def randomised(generator: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """The generator with every zero-started layer given random weights, so every path contributes."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in generator.named_parameters():
            if not p.abs().sum():
                p.normal_(0, 0.1 if "correction" not in name else 0.5)
    return generator.eval()


@torch.no_grad()
def test_a_crop_equals_the_same_pixels_of_the_whole_frame():
    g = randomised(build_generator("conv_field", 32, {"width": 16}))
    params = scenes(4)
    colour, logit = g.crop_outputs(params, torch.zeros(4, 2, dtype=torch.long), 32)
    origin = torch.tensor([[0, 0], [16, 16], [3, 11], [0, 16]])  # corners and edges of the frame included
    crop_colour, crop_logit = g(params, origin, 16)
    for b, (row, col) in enumerate(origin.tolist()):
        full = colour[b].view(32, 32, 3)[row:row + 16, col:col + 16]
        assert torch.allclose(crop_colour[b].view(16, 16, 3), full, atol=1e-5)
        assert torch.allclose(crop_logit[b].view(16, 16), logit[b].view(32, 32)[row:row + 16, col:col + 16],
                              atol=1e-4)
    image = g(params)
    assert image.shape == (4, 3, 32, 32) and 0 <= image.min() <= image.max() <= 1
    assert image.amax() > 0 and (image == 0).any()  # drawn spheres on black


@torch.no_grad()
@pytest.mark.parametrize("options", [{}, {"coverage_cap": 2.0}], ids=["uncapped", "capped"])
def test_a_fresh_conv_field_draws_what_its_trunk_draws(options):
    """Also for a trunk trained with a coverage cap (gan.pt starts from universal.pt): conv_field takes the option,
    and draws the capped field's images although it evaluates every pixel."""
    field = randomised(build_generator("phong_field", 32, {"width": 16, **options}))
    conv = build_generator("conv_field", 32, {"width": 16, **options}).eval()
    missing = conv.load_state_dict(field.state_dict(), strict=False).missing_keys
    assert missing and all(k.startswith(("refine", "correction")) for k in missing)
    params = scenes(6)
    assert torch.equal(conv(params), field(params))
    if options:  # the cap changes what is drawn: without it the same weights draw other images
        uncapped = build_generator("conv_field", 32, {"width": 16}).eval()
        uncapped.load_state_dict(field.state_dict(), strict=False)
        assert not torch.equal(uncapped(params), field(params))


def test_window_points_continue_the_pixel_grid():
    g = build_generator("conv_field", 32, {"width": 16})
    points = window_points(torch.tensor([[0, 0]]), 32, 32, margin=g.margin)[0].view(36, 36, 2)
    inside = points[2:-2, 2:-2].reshape(-1, 2)
    assert torch.equal(inside, g.pixels)
    step = 2 / 32
    assert torch.allclose(points[0, 0], torch.tensor([-1 - 1.5 * step, 1 + 1.5 * step]))


def test_crop_discriminator_takes_coordinate_maps():
    d = Discriminator(16, 8, patch=True, coords=True)
    logits = d(torch.rand(2, 3, 16, 16), torch.randn(2, 10), torch.rand(2, 2, 16, 16))
    assert logits.shape == (2, 8, 8)
    with pytest.raises(ValueError, match="coordinate maps"):
        d(torch.rand(2, 3, 16, 16), torch.randn(2, 10))


def test_paired_relativistic_loss_and_accuracy():
    real, fake = torch.tensor([2.0, 0.5, 1.0]), torch.tensor([-2.0, 0.5, 3.0])
    rpgan = PairedRelativistic()
    assert rpgan.paired and rpgan.accuracy(real, fake) == pytest.approx((0.5, 0.5))  # one right, one tie, one wrong
    assert rpgan.fake_accuracy(fake, real) == pytest.approx(0.5)
    assert rpgan.d_loss(real, fake) == pytest.approx(torch.nn.functional.softplus(fake - real).mean())
    assert rpgan.g_loss(fake, real) == pytest.approx(torch.nn.functional.softplus(real - fake).mean())
    shared = torch.randn(3)  # what both images share moves both logits alike and cancels
    assert rpgan.d_loss(real + shared, fake + shared) == pytest.approx(rpgan.d_loss(real, fake))


def crop_config(out, **sections):
    base = {"preset": "easy", "resolution": 32, "out": str(out),
            "model": {"arch": "conv_field", "width": 16, "d_width": 8, "d_patch": True},
            "loss": {"gan": "rpgan"},
            "schedule": {"batch": 4, "crop_size": 16, "crops_per_image": 2, "warmup_images": 8,
                         "adversarial_images": 16, "finetune_images": 0, "ema_halflife_images": 40,
                         "detail_share": 0.2},
            "run": {"tick_images": 8, "val_images": 8, "threads": 1}}
    for name, values in sections.items():
        base[name] = {**base.get(name, {}), **values} if isinstance(values, dict) else values
    return from_dict(base)


@pytest.mark.parametrize("gan", ["rpgan", "bce"])
def test_crop_training_with_a_crop_discriminator(tmp_path, gan):
    trainer = Trainer(crop_config(tmp_path / "run", loss={"gan": gan}))
    assert trainer.d.coords and trainer.d.features[0].in_channels == 5
    record = trainer.run(progress=False)
    assert record["phase"] == "adversarial" and trainer.counters.images >= 24
    lines = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert {"g_l1", "g_coverage"} <= set(lines[0]) and "g_gan" not in lines[0]
    assert {"g_l1", "g_coverage", "g_gan", "d", "d_acc_real", "d_acc_fake"} <= set(lines[-1])
    renderer = load_renderer(tmp_path / "run" / "renderer.pt")
    images = renderer.render(sample_scenes(PRESETS["easy"], 9, np.arange(3), 32))
    assert images.shape == (3, 32, 32, 3) and np.isfinite(images).all()
    # the crop run resumes exactly: stopped and resumed equals straight through
    stopped = Trainer(crop_config(tmp_path / "stopped", loss={"gan": gan}))
    stopped.run(stop_at_images=12, progress=False)
    resumed = Trainer.resume(tmp_path / "stopped" / "latest.pt")
    resumed.run(progress=False)
    for part in ("g", "d"):
        for key, value in trainer.state_dict()[part].items():
            assert torch.equal(value, resumed.state_dict()[part][key]), (part, key)


def test_init_from_a_renderer_export(tmp_path):
    first = Trainer(crop_config(tmp_path / "first", schedule={"adversarial_images": 0}))
    first.run(progress=False)
    second = Trainer(crop_config(tmp_path / "second", init_from=str(tmp_path / "first" / "renderer.pt")))
    for key, value in first.g_ema.state_dict().items():
        assert torch.equal(second.g.state_dict()[key], value) and torch.equal(second.g_ema.state_dict()[key], value)
    assert second.counters.inherited_images == first.counters.images
    second.run(progress=False)
    # the export says how every run behind it trained: images per phase, the GAN loss and weight, balancing
    training = torch.load(tmp_path / "second" / "renderer.pt", weights_only=True)["training"]
    assert [stage["images"] for stage in training] == [{"warmup": 8, "adversarial": 0, "finetune": 0},
                                                       {"warmup": 8, "adversarial": 16, "finetune": 0}]
    assert "adversarial" not in training[0] and training[1]["init_from"] == str(tmp_path / "first" / "renderer.pt")
    assert training[1]["adversarial"] == {"gan": "rpgan", "gan_weight": 0.05, "balance": True, "d_spectral": True}


def test_a_frozen_trunk_keeps_its_weights_and_the_3x3_stage_trains(tmp_path):
    first = Trainer(crop_config(tmp_path / "first", schedule={"adversarial_images": 0}))
    first.run(progress=False)
    frozen = Trainer(crop_config(tmp_path / "frozen", init_from=str(tmp_path / "first" / "renderer.pt"),
                                 model={"options": {"freeze_trunk": True}}))
    frozen.run(progress=False)
    stage = ("refine", "correction")  # refine.*, refine_films.*, correction.*
    trained = first.g_ema.state_dict()
    after = frozen.g.state_dict()
    assert all(torch.equal(after[key], value) for key, value in trained.items() if not key.startswith(stage))
    assert any(not torch.equal(after[key], value) for key, value in trained.items() if key.startswith(stage))


@pytest.mark.parametrize("change, message", [
    ({"model": {"arch": "field"}}, "crop_size needs a generator that renders windows"),
    ({"schedule": {"crop_size": 24}}, "crop_size must be 0 or one of"),
    ({"schedule": {"crop_size": 64}}, "at most the resolution"),
    ({"schedule": {"crops_per_image": 0}}, "crops_per_image"),
    ({"loss": {"lpips_weight": 1.0}}, "crops of at least 64 pixels"),
])
def test_crop_settings_are_checked(tmp_path, change, message):
    with pytest.raises(NeurenderError, match=message):
        crop_config(tmp_path, **change)
