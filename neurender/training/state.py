"""A run's state between sessions: its counters, the config a resumed run continues with, and whether a
checkpoint fits the run that loads it."""

from __future__ import annotations

import contextlib
import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from neurender.errors import NeurenderError
from neurender.training import schedule
from neurender.training.checkpoint import KIND_TRAINING, load_checkpoint
from neurender.training.config import ModelConfig, TrainConfig, from_dict, to_dict, upgrade_layout


@dataclass
class Counters:
    batches: int = 0  # batches drawn: the data position
    images: int = 0  # images seen (batches x batch size)
    inherited_images: int = 0  # images seen by the runs this one started from (init_from), in the export
    lineage: list = field(default_factory=list)  # ``stage_record`` of each run this one started from, oldest first
    ticks: int = 0
    validated_epochs: int = 0
    bad_steps: int = 0  # non-finite losses skipped, in total
    bad_in_row: dict = field(default_factory=lambda: {"g": 0, "d": 0})  # per network, reset by a good step
    best: float = math.inf  # best validation value of VALIDATION_METRICS[0]
    tick_sums: dict = field(default_factory=dict)  # loss/accuracy sums since the last tick


def stage_record(config: dict, images: int) -> dict:
    """How one run trained, for the export: its generator, where it started, the images each phase saw, its
    losses, and for an adversarial phase the GAN loss, its weight and whether balancing was on."""
    config = upgrade_layout(config)
    s, seen = config["schedule"], {}
    start = 0
    for name in schedule.PHASES:
        seen[name.removesuffix("_images")] = min(max(images - start, 0), s[name])
        start += s[name]
    record = {"arch": config["model"]["arch"], "init_from": config.get("init_from"), "images": seen,
              "l1_object": config["loss"]["l1_object"], "crop_size": config.get("sampling", {}).get("crop_size", 0),
              "pixels_per_image": config.get("sampling", {}).get("pixels_per_image", 0)}
    if seen["adversarial"]:
        record["adversarial"] = {"gan": config["loss"]["gan"], "gan_weight": config["loss"]["gan_weight"],
                                 "balance": config["balance"]["enabled"], "d_spectral": config["model"]["d_spectral"]}
    return record


def resumed_config(path: Path, dataset: str | None = None, lengths: dict | None = None
                   ) -> tuple[TrainConfig, dict, dict]:
    """The config a resumed run continues with, the checkpoint's state, and the phase lengths changed
    ({"schedule.NAME": [old, new]}). `dataset` may point at a moved copy of the same data; `lengths`
    extends the schedule (``schedule.extended``)."""
    state = load_checkpoint(path, KIND_TRAINING)
    data = state["config"]
    if dataset and data.get("dataset"):
        data = {**data, "dataset": str(dataset)}
    config = from_dict({**data, "out": str(Path(path).parent)})
    new = schedule.extended(config.schedule, state["counters"]["images"], lengths or {})
    changes = {f"schedule.{k}": [getattr(config.schedule, k), getattr(new, k)] for k in schedule.PHASES
               if getattr(new, k) != getattr(config.schedule, k)}
    return replace(config, schedule=new), state, changes


def edited_settings(path: Path, config: dict) -> list[str]:
    """The settings (section.key) in a run's config.json that differ from ``config``, the one a resumed run
    continues with; [] when the file is missing or unreadable (it is rewritten either way)."""
    try:
        written = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(written, dict):
        return ["the whole file"]
    # an older layout (sampling settings in [schedule], no model.options) reads as today's; an invalid edit is
    # compared as written
    with contextlib.suppress(NeurenderError):
        written = to_dict(from_dict(written))
    changed = []
    for key in sorted(set(written) | set(config)):
        mine, theirs = config.get(key), written.get(key)
        if isinstance(mine, dict) and isinstance(theirs, dict):
            changed += [f"{key}.{k}" for k in sorted(set(mine) | set(theirs))
                        if _plain(mine.get(k)) != _plain(theirs.get(k))]
        elif key != "out" and _plain(mine) != _plain(theirs):
            changed.append(key)
    return changed


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def check_compatible(state: dict, mine: ModelConfig, resolution: int, data: str, path: str,
                     keys: tuple[str, ...] = ("arch", "width", "norm", "options")) -> None:
    """A clear error when a checkpoint (training state or renderer export) holds another generator (compared on
    `keys`), or was trained at another resolution than `data` (a description of the run's data) has."""
    theirs = state["config"]["model"] if state["kind"] == KIND_TRAINING else state["model"]
    for key in keys:
        if theirs.get(key, {} if key == "options" else None) != getattr(mine, key):  # older files: no options
            raise NeurenderError(f"{path} holds a {theirs['arch']} generator (width {theirs['width']}, norm "
                                 f"{theirs['norm']}); this run builds {mine.arch} (width {mine.width}, "
                                 f"norm {mine.norm})")
    if state["resolution"] != resolution:
        raise NeurenderError(f"{path} was trained at {state['resolution']} px but {data} is {resolution} px")


def load_shared(model, weights: dict, path: str) -> list[str]:
    """Load the tensors of `weights` whose names and shapes `model` shares (a run started from another
    architecture); returns the names of the model's tensors that keep their fresh values. Raises
    NeurenderError when the two share none."""
    mine = model.state_dict()
    shared = {k: v for k, v in weights.items() if k in mine and mine[k].shape == v.shape}
    if not shared:
        raise NeurenderError(f"{path} holds a generator that shares no weights with this run's")
    model.load_state_dict(shared, strict=False)
    return sorted(set(mine) - set(shared))
