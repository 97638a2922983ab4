"""Training from Python: ``nr.train(nr.load_config("configs/conv/warmup.toml"), out="runs/mine")``, the run that
``neurender train`` makes, with its output checks and its folder's lock, and an optional wall-clock budget."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from pathlib import Path

from neurender.errors import NeurenderError
from neurender.outputs import check_output, output_lock
from neurender.training.config import TrainConfig, load_config
from neurender.training.loop import Trainer


def run_lock(folder: Path):
    """One run per folder: ``folder``'s lock (``outputs.output_lock``), so a second process that would write it gets
    one error line. Under torchrun only rank 0 takes it (the other ranks write nothing there)."""
    if int(os.environ.get("RANK", "0")) != 0:
        return contextlib.nullcontext()
    folder.parent.mkdir(parents=True, exist_ok=True)
    return output_lock(folder)


def train(config: TrainConfig | str | Path, out: str | Path | None = None, stop_after_s: float | None = None,
          progress: bool = False) -> Trainer:
    """Train a run to its end and return its Trainer (``.out`` holds renderer.pt, latest.pt, log.jsonl, ...).

    config: a ``TrainConfig`` (``load_config``) or a config file's path; out: the run folder (a new one), replacing
    the config's; stop_after_s: a wall-clock budget in seconds, after which the schedule ends where the run is and
    the run finishes as a complete one (validation, renderer.pt; ``Trainer.end_schedule_here``)."""
    if not isinstance(config, TrainConfig):
        config = load_config(config)
    if out is not None:
        config = dataclasses.replace(config, out=str(out))
    if stop_after_s is not None and not (isinstance(stop_after_s, int | float) and 0 < stop_after_s < float("inf")):
        raise NeurenderError(f"stop_after_s must be a positive number of seconds, got {stop_after_s!r}")
    folder = Path(config.out)
    inputs = [Path(p) for p in (config.dataset, config.init_from) if p]
    check_output(folder, inputs, existing="resume it from the command line (--resume latest) or choose another out")
    with run_lock(folder):
        trainer = Trainer(config)
        try:
            trainer.run(progress=progress, stop_after_s=stop_after_s)
        finally:
            trainer.close()
    return trainer
