"""The schedule's pure functions: phase boundaries, the cosine learning-rate curve, D noise, the EMA ramp."""

import math

import pytest

from neurender.training import schedule
from neurender.training.config import ScheduleConfig


def test_phases_and_factors():
    s = ScheduleConfig(warmup_images=100, adversarial_images=200, finetune_images=100, finetune_lr_factor=0.1)
    assert [schedule.phase(s, i).name for i in (0, 99, 100, 299, 300, 399, 400)] == \
        ["warmup", "warmup", "adversarial", "adversarial", "finetune", "finetune", "finetune"]
    assert schedule.lr_factor(s, 50) == 1.0 and schedule.lr_factor(s, 350) == pytest.approx(0.1)


def test_phases_are_one_table_of_data():
    s = ScheduleConfig(warmup_images=100, adversarial_images=0, finetune_images=50, finetune_lr_factor=0.1,
                       finetune_l1_factor=2.0)
    warmup, adversarial, finetune = schedule.phases(s)
    assert (warmup.name, warmup.images, warmup.adversarial, warmup.l1_factor) == ("warmup", 100, False, 1.0)
    assert adversarial.images == 0 and adversarial.adversarial
    assert (finetune.lr_factor, finetune.l1_factor, finetune.adversarial) == (0.1, 2.0, True)
    assert schedule.phase(s, 100) is not adversarial and schedule.phase(s, 100) == finetune  # empty phases skip
    assert tuple(p.name for p in schedule.phases(s)) == schedule.PHASE_NAMES


def test_cosine_decay_runs_from_one_to_the_final_factor():
    s = ScheduleConfig(warmup_images=1000, adversarial_images=0, lr_decay="cosine", lr_final_factor=0.01)
    assert schedule.lr_factor(s, 0) == pytest.approx(1.0)
    assert schedule.lr_factor(s, 500) == pytest.approx(0.01 + 0.99 * 0.5)
    assert schedule.lr_factor(s, 999) == pytest.approx(0.01, rel=1e-3)  # the last step of the schedule


def test_d_noise_fades_over_its_images_from_the_start_of_phase_two():
    s = ScheduleConfig(warmup_images=100, d_noise_std=0.2, d_noise_images=50)
    assert schedule.d_noise(s, 100) == pytest.approx(0.2)
    assert schedule.d_noise(s, 125) == pytest.approx(0.1)
    assert schedule.d_noise(s, 150) == 0 and schedule.d_noise(s, 10_000) == 0


def test_ema_half_life_ramps_up():
    s = ScheduleConfig(batch=10, ema_halflife_images=1000)
    assert schedule.ema_beta(s, 0) == 0.0  # G_ema = G at the start
    assert schedule.ema_beta(s, 2000) == pytest.approx(0.5 ** (10 / 100))  # 5% of images seen
    assert schedule.ema_beta(s, 10**6) == pytest.approx(0.5 ** (10 / 1000))
    assert math.isclose(schedule.ema_beta(ScheduleConfig(ema_halflife_images=0), 10**6), 0.0)
