"""A run's housekeeping, once per tick and at its end: the log line, sample grids, validation, checkpoints on
their cadence; the run folder's files; the sums the log averages; non-finite losses; and ending the schedule
early (a wall-clock budget). Functions of the ``loop.Trainer`` they keep."""

from __future__ import annotations

import dataclasses
import json
import time

import torch

from neurender.errors import NeurenderError
from neurender.outputs import remove_stale
from neurender.training.config import to_dict
from neurender.training.distributed import mean_over_world
from neurender.training.state import Counters
from neurender.training.validation import SAMPLE_SCENES, VALIDATION_METRICS, save_sample_grid, validation_scores


def log(trainer, name: str, record: dict) -> None:
    """Append `record` as a JSON line to the run folder's `name` (rank 0 only)."""
    if trainer.world.main:
        with open(trainer.out / name, "a") as f:
            f.write(json.dumps(record) + "\n")


def write_config(trainer) -> None:
    if trainer.world.main:
        (trainer.out / "config.json").write_text(json.dumps(to_dict(trainer.config), indent=2) + "\n")


def open_run(trainer) -> None:
    """The run folder, cleared of a killed run's temporaries, with config.json and what changed on resume."""
    trainer.out.mkdir(parents=True, exist_ok=True)
    if trainer.world.main:
        remove_stale(trainer.out)
    write_config(trainer)
    if trainer.changes:
        log(trainer, "config-history.jsonl", {"images": trainer.counters.images, "time": time.time(),
                                              "changed": trainer.changes})
        trainer.changes = {}


def accumulate(counters: Counters, **values: float) -> None:
    """Add values to the tick's sums (the log line holds their means)."""
    sums = counters.tick_sums
    for k, v in values.items():
        total, count = sums.get(k, (0.0, 0))
        sums[k] = (total + v, count + 1)


def finite_everywhere(trainer, loss: torch.Tensor, network: str) -> bool:
    """Whether the loss is finite in every process; if not, the step is skipped and counted, and after
    run.max_bad_steps in a row the run saves latest.pt and stops with advice."""
    ok = mean_over_world([float(torch.isfinite(loss).item())], trainer.world, trainer.device)[0] == 1.0
    in_row = trainer.counters.bad_in_row
    if ok:
        in_row[network] = 0
        return True
    trainer.counters.bad_steps += 1
    in_row[network] += 1
    if in_row[network] >= trainer.config.run.max_bad_steps:
        path = trainer.save("latest.pt")
        raise NeurenderError(f"stopped: {in_row[network]} non-finite {network.upper()} losses in a row at "
                             f"{trainer.counters.images} images; the last good state is in {path}. "
                             "Lower the learning rates or the loss weights and resume.")
    return False


def tick(trainer, seconds: float, images: int, final: bool = False) -> dict:
    """The tick's log line (log.jsonl); unless `final`, then the cadence: samples every run.sample_ticks,
    validation at the end of an epoch, latest.pt, a numbered snapshot every run.snapshot_ticks."""
    c, run = trainer.counters, trainer.config.run
    c.ticks += 1
    record = {"tick": c.ticks, "images": c.images, "phase": trainer.last_phase.name,
              **{k: total / n for k, (total, n) in sorted(c.tick_sums.items())},
              "balance": trainer.controller.summary(), "lr_g": trainer.opt_g.param_groups[0]["lr"],
              **({} if trainer.d is None else {"lr_d": trainer.opt_d.param_groups[0]["lr"],
                                               "d_noise": trainer.d.noise_std}),
              "bad_steps": c.bad_steps, "images_per_s": round(images / max(seconds, 1e-9), 2), "time": time.time()}
    c.tick_sums = {}
    log(trainer, "log.jsonl", record)
    if final:
        return record
    if c.ticks % run.sample_ticks == 0:
        samples(trainer)
    if c.batches // trainer.batches_per_epoch > c.validated_epochs:
        validation_round(trainer)
    trainer.save("latest.pt")
    if c.ticks % run.snapshot_ticks == 0:
        trainer.save(f"snapshot-{c.images:09d}.pt")
    return record


def finish(trainer) -> None:
    """The end of the schedule: samples, validation, renderer.pt."""
    samples(trainer)
    validation_round(trainer)
    trainer.export("renderer.pt")


def samples(trainer) -> None:
    """A grid of fixed validation scenes: the reference above G_ema's image."""
    source = trainer.source
    if trainer.world.main and len(source.val_rgba):
        prediction = trainer.predict(source.val_encoded[:SAMPLE_SCENES])
        save_sample_grid(source.val_rgba[:SAMPLE_SCENES], prediction,
                         trainer.out / "samples" / f"samples-{trainer.counters.images:09d}.png")


def validation_round(trainer) -> None:
    """G_ema's validation scores (metrics.jsonl: images seen, epoch, time, VALIDATION_METRICS); a new best is saved
    as best.pt and renderer-best.pt."""
    c, source = trainer.counters, trainer.source
    c.validated_epochs = c.batches // trainer.batches_per_epoch
    if not trainer.world.main or not len(source.val_rgba) or trainer.validated_at == c.images:
        return
    trainer.validated_at = c.images
    record = {"images": c.images, "epoch": c.validated_epochs, "time": time.time(),
              **validation_scores(source.val_rgba, trainer.predict(source.val_encoded))}
    value = record[VALIDATION_METRICS[0]]
    record["best"] = value is not None and value < c.best
    log(trainer, "metrics.jsonl", record)
    if record["best"]:
        c.best = value
        trainer.save("best.pt")
        trainer.export("renderer-best.pt")


def end_schedule_here(trainer, reason: str) -> int:
    """Shorten the schedule to the images trained so far (the current phase ends here, later ones are dropped),
    recorded in config.json and config-history.jsonl; returns the new total. A resumed run may extend the phases
    again."""
    s, images = trainer.config.schedule, trainer.counters.images
    warmup = min(s.warmup_images, images)
    adversarial = min(s.adversarial_images, images - warmup)
    lengths = {"warmup_images": warmup, "adversarial_images": adversarial,
               "finetune_images": images - warmup - adversarial}
    changed = {f"schedule.{k}": [getattr(s, k), v] for k, v in lengths.items() if getattr(s, k) != v}
    trainer.config = dataclasses.replace(trainer.config, schedule=dataclasses.replace(s, **lengths))
    if changed:
        write_config(trainer)
        log(trainer, "config-history.jsonl", {"images": images, "time": time.time(), "changed": changed,
                                              "reason": reason})
    return images
