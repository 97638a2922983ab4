"""A run's state between sessions: its counters, the full training state a checkpoint holds (``training_state``,
``restore``, ``start_from`` another run), the renderer export, the config a resumed run continues with, and
whether a checkpoint fits the run that loads it."""

from __future__ import annotations

import contextlib
import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from neurender.errors import NeurenderError
from neurender.models.generators import generator_spec
from neurender.training import schedule
from neurender.training.checkpoint import (
    FORMAT_VERSION,
    KIND_TRAINING,
    load_checkpoint,
    renderer_export,
    save_atomic,
)
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


@dataclass(frozen=True)
class GeneratorRecord:
    """What any checkpoint says about its generator, a training state or a renderer export alike: the one place
    that reads the two kinds apart (training, resume and inference read this)."""

    model: dict  # the [model] settings it was built with
    resolution: int
    camera: dict
    g: dict  # the weights to train on from (a training state's G; an export's G_ema)
    g_ema: dict
    images: int  # images the file's own run saw (an export: every run behind it)
    inherited: int  # images the runs it started from saw, not in `images` (an export: 0)
    training: list  # ``stage_record`` of every run behind it, oldest first, this one included
    state: dict  # the whole file

    @property
    def images_seen(self) -> int:
        """Every training image behind its weights, the runs it started from included."""
        return self.images + self.inherited


def generator_record(state: dict) -> GeneratorRecord:
    """``state`` (``checkpoint.load_checkpoint``'s) described alike whatever its kind."""
    if state["kind"] == KIND_TRAINING:
        counters = state["counters"]
        return GeneratorRecord(state["config"]["model"], state["resolution"], state["camera"], state["g"],
                               state["g_ema"], counters["images"], counters.get("inherited_images", 0),
                               [*counters.get("lineage", []), stage_record(state["config"], counters["images"])],
                               state)
    return GeneratorRecord(state["model"], state["resolution"], state["camera"], state["g_ema"], state["g_ema"],
                           state["images_seen"], 0, state.get("training", []), state)


def check_compatible(record: GeneratorRecord, mine: ModelConfig, resolution: int, data: str, path: str,
                     keys: tuple[str, ...] = ("arch", "width", "norm", "options")) -> None:
    """A clear error when a checkpoint (training state or renderer export, described by `record`) holds another
    generator (compared on `keys`), or was trained at another resolution than `data` (a description of the run's
    data) has."""
    theirs = record.model
    for key in keys:
        if theirs.get(key, {} if key == "options" else None) != getattr(mine, key):  # older files: no options
            raise NeurenderError(f"{path} holds a {theirs['arch']} generator (width {theirs['width']}, norm "
                                 f"{theirs['norm']}); this run builds {mine.arch} (width {mine.width}, "
                                 f"norm {mine.norm})")
    if record.resolution != resolution:
        raise NeurenderError(f"{path} was trained at {record.resolution} px but {data} is {resolution} px")


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


def training_state(t) -> dict:
    """Everything that decides the future of trainer `t`: the checkpoint's contents."""
    return {
        "kind": KIND_TRAINING, "format_version": FORMAT_VERSION, "config": to_dict(t.config),
        "resolution": t.resolution, "camera": t.source.camera_dict, "source": t.source.identity,
        "g": t.g.state_dict(), "g_ema": t.g_ema.state_dict(),
        "d": None if t.d is None else t.d.state_dict(), "opt_g": t.opt_g.state_dict(),
        "opt_d": None if t.opt_d is None else t.opt_d.state_dict(),
        "controller": t.controller.state_dict(), "counters": vars(t.counters).copy(),
        "rng": {"torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state(t.device) if t.device.type == "cuda" else None},
    }


def save(t, name: str) -> Path:
    """The training state as `name` in the run folder, written atomically (rank 0)."""
    path = t.out / name
    if t.world.main:
        save_atomic(training_state(t), path)
    return path


def export(t, name: str = "renderer.pt") -> Path:
    """G_ema as a renderer (rank 0): its weights, model settings, camera, images seen and the lineage of runs."""
    path = t.out / name
    if t.world.main:
        config = to_dict(t.config)
        training = [*t.counters.lineage, stage_record(config, t.counters.images)]
        save_atomic(renderer_export(t.g_ema.state_dict(), config["model"], t.resolution, t.source.camera_dict,
                                    t.counters.images + t.counters.inherited_images, training), path)
    return path


def restore(t, state: dict) -> None:
    """Trainer `t` as the training checkpoint `state` left it (exact resume)."""
    check_compatible(generator_record(state), t.config.model, t.resolution, t.source.description, "the checkpoint")
    if state["source"] != t.source.identity:
        raise NeurenderError(f"the checkpoint was trained on other data than {t.source.description} "
                             "(dataset checksums or preset differ); pass --dataset with the original")
    t.g.load_state_dict(state["g"])
    t.g_ema.load_state_dict(state["g_ema"])
    t.opt_g.load_state_dict(state["opt_g"])
    if t.d is not None and state.get("d") is not None:  # else a fresh D: the run gained an adversarial phase
        t.d.load_state_dict(state["d"])
        t.opt_d.load_state_dict(state["opt_d"])
    t.controller.load_state_dict(state["controller"])
    t.counters = Counters(**state["counters"])
    torch.set_rng_state(state["rng"]["torch"])
    if t.device.type == "cuda" and state["rng"].get("cuda") is not None:
        torch.cuda.set_rng_state(state["rng"]["cuda"], t.device)


def start_from(t, path: Path) -> None:
    """Start trainer `t` from another run's weights: a training checkpoint (G, G_ema and, where its D is built
    alike, D) or a renderer export (its G_ema as G and G_ema). From another architecture (field -> phong_field,
    say) or other options of the same one, the tensors both share load and the rest keep their initial values,
    listed in config-history.jsonl."""
    state = load_checkpoint(path)
    record, mine = generator_record(state), t.config.model
    theirs = record.model
    pair = {theirs["arch"], mine.arch}
    same = len(pair) == 1 and theirs.get("options", {}) == mine.options
    families = {generator_spec(arch).family for arch in pair}
    related = len(pair) == 1 or (len(families) == 1 and None not in families)
    check_compatible(record, mine, t.resolution, t.source.description, str(path),
                     ("width",) if related and not same else ("arch", "width", "norm", "options"))
    if same:
        t.g.load_state_dict(record.g)
        t.g_ema.load_state_dict(record.g_ema)
    else:  # g_ema is a copy of g so far: their fresh tensors agree
        fresh = load_shared(t.g, record.g, str(path))
        load_shared(t.g_ema, record.g_ema, str(path))
        t.changes["init_from.fresh"] = fresh
    t.counters.inherited_images = record.images_seen
    t.counters.lineage = record.training or [{"init_from": str(path), "images_seen": record.images}]
    if state["kind"] != KIND_TRAINING:
        return
    their_crop = upgrade_layout(state["config"]).get("sampling", {}).get("crop_size", 0)
    same_d = all(theirs[k] == getattr(mine, k) for k in theirs if k.startswith("d_"))
    if t.d is not None and state.get("d") is not None and their_crop == t.config.sampling.crop_size and same_d:
        t.d.load_state_dict(state["d"])
