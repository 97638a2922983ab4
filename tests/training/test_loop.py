"""Training: every architecture for a few steps, exact resume, init-from, faults (NaN, full disk, bad checkpoints)."""

import errno
import json

import numpy as np
import pytest
import torch

from neurender.dataset import GenerateSpec, generate_dataset
from neurender.errors import NeurenderError
from neurender.inference import load_renderer
from neurender.layout import N_PARAMS
from neurender.models.registry import GENERATORS
from neurender.presets import PRESETS
from neurender.training import checkpoint as checkpoint_module
from neurender.training import losses
from neurender.training.config import from_dict, to_dict
from neurender.training.loop import Trainer


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """96 easy scenes at 32x32: 64 train, 16 val, 16 test."""
    root = tmp_path_factory.mktemp("tiny") / "easy32"
    generate_dataset(GenerateSpec(PRESETS["easy"], 96, 0, 32, 16, 16), root)
    return root


@pytest.fixture(scope="session")
def tiny16(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny16") / "easy16"
    generate_dataset(GenerateSpec(PRESETS["easy"], 48, 0, 16, 8, 8), root)
    return root


def config(dataset, out, **sections):
    base = {"dataset": str(dataset), "out": str(out),
            "model": {"arch": "hybrid", "width": 32, "d_width": 8},
            "schedule": {"batch": 8, "warmup_images": 16, "adversarial_images": 24, "finetune_images": 8,
                         "ema_halflife_images": 40, "d_noise_images": 16},
            "run": {"tick_images": 8, "val_images": 8, "threads": 1, "snapshot_ticks": 2}}
    for name, values in sections.items():
        base[name] = {**base.get(name, {}), **values} if isinstance(values, dict) else values
    return from_dict(base)


def assert_same_weights(a: dict, b: dict):
    assert a.keys() == b.keys()
    for key, value in a.items():
        assert torch.equal(value, b[key]), key


@pytest.mark.parametrize("arch", list(GENERATORS))
def test_every_architecture_trains(tiny, tmp_path, arch):
    trainer = Trainer(config(tiny, tmp_path / arch, model={"arch": arch, "width": 16 if arch == "coord" else 32}))
    record = trainer.run(progress=False)
    assert trainer.counters.images >= 48 and record["phase"] == "finetune"
    for name in ("config.json", "log.jsonl", "metrics.jsonl", "latest.pt", "renderer.pt", "best.pt"):
        assert (tmp_path / arch / name).is_file(), name
    lines = [json.loads(line) for line in (tmp_path / arch / "log.jsonl").read_text().splitlines()]
    assert {"g_l1", "d", "d_acc_real", "d_acc_fake", "balance", "lr_g", "lr_d", "images_per_s"} <= set(lines[-1])
    renderer = load_renderer(tmp_path / arch / "renderer.pt")
    images = renderer.render(trainer.source.data.params[:2])
    assert images.shape == (2, 32, 32, 3) and np.isfinite(images).all() and 0 <= images.min() <= images.max() <= 1


def test_discriminator_options_and_other_losses(tiny, tmp_path):
    """Patch head, concatenated parameters, dropout, no spectral norm, hinge loss with (ignored) label smoothing:
    D is built as configured, the run trains both networks with finite hinge losses, and its export draws."""
    trainer = Trainer(config(tiny, tmp_path / "run", model={"d_patch": True, "d_conditioning": "concat",
                                                            "d_dropout": 0.2, "d_spectral": False},
                             loss={"gan": "hinge", "label_smoothing": 0.1}))
    d = trainer.d
    assert d.features[0].in_channels == 3 + N_PARAMS  # the parameters concatenated as maps
    assert [m.p for m in d.modules() if isinstance(m, torch.nn.Dropout2d)] and \
        all(m.p == 0.2 for m in d.modules() if isinstance(m, torch.nn.Dropout2d))
    assert not any(torch.nn.utils.parametrize.is_parametrized(m) for m in d.modules())  # no spectral norm
    with torch.no_grad():
        logits = d.eval()(torch.rand(2, 3, 32, 32), torch.randn(2, N_PARAMS))
    assert logits.shape == (2, 8, 8)  # a PatchGAN verdict per region
    d.train()
    before = {k: v.clone() for k, v in d.state_dict().items()}
    trainer.run(progress=False)
    assert trainer.counters.images >= 48 and trainer.controller.counts["balanced"] > 0
    assert any(not torch.equal(before[k], v) for k, v in d.state_dict().items())  # D trained
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    adversarial = [line for line in log if line["phase"] != "warmup"]
    assert adversarial and all(np.isfinite([line["d"], line["g_gan"]]).all() for line in adversarial)
    assert all(line["d"] >= 0 for line in adversarial)  # hinge: relu terms
    assert all(0 <= line[k] <= 1 for line in adversarial for k in ("d_acc_real", "d_acc_fake"))
    images = load_renderer(tmp_path / "run" / "renderer.pt").render(trainer.source.data.params[:2])
    assert images.shape == (2, 32, 32, 3) and np.isfinite(images).all()


def test_resume_equals_uninterrupted(tiny, tmp_path):
    straight = Trainer(config(tiny, tmp_path / "straight"))
    straight.run(progress=False)
    interrupted = Trainer(config(tiny, tmp_path / "interrupted"))
    interrupted.run(stop_at_images=24, progress=False)  # stops in the adversarial phase, saving latest.pt
    assert interrupted.counters.images < straight.counters.images
    resumed = Trainer.resume(tmp_path / "interrupted" / "latest.pt")
    assert resumed.counters.images == interrupted.counters.images
    resumed.run(progress=False)
    for part in ("g", "g_ema", "d", "opt_g", "controller", "counters"):
        a, b = straight.state_dict()[part], resumed.state_dict()[part]
        if part in ("g", "g_ema", "d"):
            assert_same_weights(a, b)
        elif part == "opt_g":
            for sa, sb in zip(a["state"].values(), b["state"].values(), strict=True):
                assert torch.equal(sa["exp_avg"], sb["exp_avg"])
        else:
            a.pop("tick_sums", None), b.pop("tick_sums", None)
            assert a == b, part


def test_default_balancing_trains_as_fixed_steps_while_d_does_not_dominate(tiny, tmp_path):
    """The default controller only ever takes steps from D: with D's moving accuracy under `balance.high` it
    steps 1:1, bit for bit the run with balancing off."""
    adaptive = Trainer(config(tiny, tmp_path / "adaptive", balance={"high": 0.99}))
    adaptive.run(progress=False)
    fixed = Trainer(config(tiny, tmp_path / "fixed", balance={"enabled": False}))
    fixed.run(progress=False)
    assert adaptive.controller.counts["balanced"] > 0 and adaptive.controller.lean == 0
    assert adaptive.controller.counts["d_extra_steps"] == adaptive.controller.counts["d_skipped"] == 0
    for part in ("g", "g_ema", "d"):
        assert_same_weights(adaptive.state_dict()[part], fixed.state_dict()[part])


def test_init_from_for_fine_tuning(tiny, tmp_path):
    first = Trainer(config(tiny, tmp_path / "first"))
    first.run(progress=False)
    second = Trainer(config(tiny, tmp_path / "second", init_from=str(tmp_path / "first" / "latest.pt"),
                            schedule={"warmup_images": 0, "adversarial_images": 0, "finetune_images": 8}))
    assert_same_weights(second.g.state_dict(), first.g.state_dict())
    assert second.counters.images == 0  # fresh counters, learned weights
    second.run(progress=False)
    # the export counts every image behind its weights: the first run's and the fine-tuning's
    seen = torch.load(tmp_path / "second" / "renderer.pt", weights_only=True)["images_seen"]
    assert seen == first.counters.images + second.counters.images
    # a renderer says the same of either file of the run: every image behind it, and the run's own for its curves
    for name in ("renderer.pt", "latest.pt"):
        renderer = load_renderer(tmp_path / "second" / name)
        assert (renderer.images_seen, renderer.run_images) == (seen, second.counters.images), name
    with pytest.raises(NeurenderError, match="holds a hybrid generator"):
        Trainer(config(tiny, tmp_path / "third", init_from=str(tmp_path / "first" / "latest.pt"),
                       model={"arch": "deconv"}))


def test_checkpoint_and_dataset_that_disagree(tiny, tiny16, tmp_path):
    Trainer(config(tiny, tmp_path / "run")).run(stop_at_images=16, progress=False)
    with pytest.raises(NeurenderError, match="trained at 32 px"):
        Trainer.resume(tmp_path / "run" / "latest.pt", dataset=str(tiny16))
    with pytest.raises(NeurenderError, match="trained at 32 px"):
        Trainer(config(tiny16, tmp_path / "other", init_from=str(tmp_path / "run" / "latest.pt")))


def test_corrupt_and_truncated_checkpoints(tiny, tmp_path):
    Trainer(config(tiny, tmp_path / "run")).run(stop_at_images=16, progress=False)
    good = (tmp_path / "run" / "latest.pt").read_bytes()
    bad = tmp_path / "bad.pt"
    bad.write_bytes(good[: len(good) // 2])
    with pytest.raises(NeurenderError, match="not a readable checkpoint"):
        Trainer.resume(bad)
    bad.write_bytes(b"\0" * 100)
    with pytest.raises(NeurenderError, match="not a readable checkpoint"):
        load_renderer(bad)
    torch.save({"something": 1}, bad)
    with pytest.raises(NeurenderError, match="not a neurender checkpoint"):
        load_renderer(bad)
    export = Trainer.resume(tmp_path / "run" / "latest.pt").export()
    with pytest.raises(NeurenderError, match="expected a neurender-training-state"):
        Trainer.resume(export)


def test_non_finite_losses_are_skipped_then_stop(tiny, tmp_path, monkeypatch):
    trainer = Trainer(config(tiny, tmp_path / "run", run={"max_bad_steps": 3}))
    before = {k: v.detach().clone() for k, v in trainer.g.named_parameters()}
    monkeypatch.setattr(losses, "masked_l1", lambda *a, **k: torch.tensor(float("nan"), requires_grad=True))
    with pytest.raises(NeurenderError, match="3 non-finite G losses in a row"):
        trainer.run(progress=False)
    assert trainer.counters.bad_steps == 3
    assert_same_weights({k: v.detach() for k, v in trainer.g.named_parameters()}, before)  # no step on a NaN
    state = torch.load(tmp_path / "run" / "latest.pt", weights_only=True)
    assert state["counters"]["bad_steps"] == 3


def test_full_disk_keeps_the_previous_checkpoint(tiny, tmp_path, monkeypatch):
    trainer = Trainer(config(tiny, tmp_path / "run"))
    trainer.run(stop_at_images=16, progress=False)
    latest = tmp_path / "run" / "latest.pt"
    before = latest.read_bytes()

    def full_disk(obj, f, *args, **kwargs):
        f.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint_module.torch, "save", full_disk)
    with pytest.raises(NeurenderError, match="No space left on device.*previous one is kept"):
        trainer.save("latest.pt")
    assert latest.read_bytes() == before
    assert not [p for p in latest.parent.iterdir() if p.name.startswith(".")]  # no temporary left behind


def test_invalid_configs_are_refused(tiny, tmp_path):
    with pytest.raises(NeurenderError, match="model.arch"):
        config(tiny, tmp_path, model={"arch": "nope"})
    with pytest.raises(NeurenderError, match="low < high"):
        config(tiny, tmp_path, balance={"low": 0.9, "high": 0.5})
    with pytest.raises(NeurenderError, match="unknown key"):
        config(tiny, tmp_path, schedule={"learning_rate": 1})
    with pytest.raises(NeurenderError, match="fewer than one batch"):
        Trainer(config(tiny, tmp_path / "x", schedule={"batch": 128}))


def test_lpips_perceptual_term(tiny, tmp_path, lpips_net):
    """The LPIPS term (of G's images against the references) is logged on every tick and moves G: the same run
    without it ends with other weights."""
    schedule = {"warmup_images": 16, "adversarial_images": 8, "finetune_images": 0}
    trainer = Trainer(config(tiny, tmp_path / "run", loss={"lpips_weight": 0.5}, schedule=schedule))
    trainer.run(progress=False)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert all(0 < line["g_lpips"] < 2 for line in log)  # LPIPS of images in [0, 1]
    plain = Trainer(config(tiny, tmp_path / "plain", schedule=schedule))
    plain.run(progress=False)
    assert "g_lpips" not in json.loads((tmp_path / "plain" / "log.jsonl").read_text().splitlines()[-1])
    assert any(not torch.equal(v, plain.g.state_dict()[k]) for k, v in trainer.g.state_dict().items())


def test_parameter_statistics_are_fitted_on_the_train_split_and_exported(tiny, tmp_path):
    trainer = Trainer(config(tiny, tmp_path / "run"))
    train = trainer.source.fit_scenes()
    for model in (trainer.g, trainer.g_ema, trainer.d):
        assert torch.allclose(model.param_norm.mean, train.mean(0))
        assert torch.allclose(model.param_norm.std, train.std(0))
    trainer.run(stop_at_images=8, progress=False)
    renderer = load_renderer(trainer.export())
    assert torch.equal(renderer.generator.param_norm.std, trainer.g_ema.param_norm.std)


def test_an_extended_run_ends_where_the_longer_schedule_ends(tiny, tmp_path):
    phases = {"warmup_images": 16, "adversarial_images": 24, "finetune_images": 0}
    longer = Trainer(config(tiny, tmp_path / "longer", schedule={**phases, "adversarial_images": 40}))
    longer.run(progress=False)
    short = Trainer(config(tiny, tmp_path / "short", schedule=phases))
    short.run(progress=False)  # finished: 40 images
    extended = Trainer.resume(tmp_path / "short" / "latest.pt", lengths={"adversarial_images": 40})
    assert extended.changes == {"schedule.adversarial_images": [24, 40]}
    extended.run(progress=False)
    assert extended.counters.images == longer.counters.images >= 56
    for part in ("g", "g_ema", "d"):
        assert_same_weights(longer.state_dict()[part], extended.state_dict()[part])
    history = [json.loads(line) for line in (tmp_path / "short" / "config-history.jsonl").read_text().splitlines()]
    assert history[0]["images"] == 40 and history[0]["changed"] == {"schedule.adversarial_images": [24, 40]}
    assert json.loads((tmp_path / "short" / "config.json").read_text())["schedule"]["adversarial_images"] == 40


def test_an_extension_never_rewrites_what_was_seen(tiny, tmp_path):
    Trainer(config(tiny, tmp_path / "run")).run(stop_at_images=24, progress=False)  # 16 warm-up + 8 adversarial
    latest = tmp_path / "run" / "latest.pt"
    with pytest.raises(NeurenderError, match="warmup phase is over"):
        Trainer.resume(latest, lengths={"warmup_images": 32})
    with pytest.raises(NeurenderError, match="less than the 8 images this phase has seen"):
        Trainer.resume(latest, lengths={"adversarial_images": 4})
    assert Trainer.resume(latest, lengths={"adversarial_images": 8, "finetune_images": 0}).changes


def test_a_warm_up_only_run_has_no_discriminator_until_an_extension_adds_a_phase(tiny, tmp_path):
    phases = {"warmup_images": 16, "adversarial_images": 0, "finetune_images": 0}
    warmup = Trainer(config(tiny, tmp_path / "run", schedule=phases))
    assert warmup.d is None and warmup.opt_d is None
    record = warmup.run(progress=False)
    assert "lr_d" not in record and "d_noise" not in record
    state = torch.load(tmp_path / "run" / "latest.pt", weights_only=True)
    assert state["d"] is None and state["opt_d"] is None
    extended = Trainer.resume(tmp_path / "run" / "latest.pt", lengths={"adversarial_images": 16})
    assert extended.d is not None  # a fresh D for the new phase; G continues where it was
    assert_same_weights(extended.g.state_dict(), warmup.g.state_dict())
    record = extended.run(progress=False)
    assert extended.counters.images >= 32 and {"d", "d_acc_real", "lr_d"} <= set(record)


def test_sampling_settings_have_their_section_and_older_configs_still_load(tiny, tmp_path):
    new = config(tiny, tmp_path / "a", sampling={"crop_size": 16}, model={"arch": "conv_field", "width": 16})
    assert new.sampling.crop_size == 16 and "crop_size" not in to_dict(new)["schedule"]
    old = to_dict(new)
    old["schedule"].update(old.pop("sampling"))  # the layout before [sampling]: a run's config.json, a checkpoint
    assert from_dict(old).sampling == new.sampling
    both = to_dict(new)
    both["schedule"]["crop_size"] = 32
    with pytest.raises(NeurenderError, match="crop_size given in both"):
        from_dict(both)


def test_training_from_python_with_a_wall_clock_budget_ends_as_a_complete_run(tmp_path):
    """nr.load_config + nr.train: the budget ends the schedule where the run is (the current phase shortened, later
    ones dropped, recorded), and the run validates and exports as at its end; resuming extends it again."""
    import neurender as nr

    config = nr.load_config(None, preset="easy", resolution=32, model={"arch": "field", "width": 8},
                            schedule={"batch": 8, "warmup_images": 10**6, "adversarial_images": 10**6},
                            sampling={"pixels_per_image": 16}, run={"tick_images": 8, "val_images": 4, "threads": 1})
    trainer = nr.train(config, out=tmp_path / "run", stop_after_s=1.0)
    images = trainer.counters.images
    assert 0 < images < 10**6 and (tmp_path / "run" / "renderer.pt").is_file()
    written = json.loads((tmp_path / "run" / "config.json").read_text())["schedule"]
    assert (written["warmup_images"], written["adversarial_images"]) == (images, 0)
    history = [json.loads(line) for line in (tmp_path / "run" / "config-history.jsonl").read_text().splitlines()]
    assert history[-1]["reason"] == "stop_after_s 1" and history[-1]["changed"]["schedule.adversarial_images"] == [
        10**6, 0]
    assert load_renderer(tmp_path / "run" / "renderer.pt").images_seen == images
    with pytest.raises(NeurenderError, match="already exists"):
        nr.train(config, out=tmp_path / "run")
    with pytest.raises(NeurenderError, match="stop_after_s must be a positive number"):
        nr.train(config, out=tmp_path / "other", stop_after_s=0)
    resumed = Trainer.resume(tmp_path / "run" / "latest.pt", lengths={"warmup_images": images + 16})
    resumed.run(progress=False)
    assert resumed.counters.images == images + 16
