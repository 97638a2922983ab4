"""``neurender train``.

Modules that import torch or matplotlib are imported inside the commands, so that ``--help`` and usage errors
answer at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path

import click

from neurender.cli.options import ARCH, EXISTING, MIXTURE, SEED, FiniteFloat
from neurender.errors import NeurenderError
from neurender.outputs import check_output
from neurender.presets import mixture_parts
from neurender.training.registry import GAN_LOSSES

# CLI option -> (config section, key); None values are left to the config file or the defaults
OPTION_KEYS = {
    "arch": ("model", "arch"), "width": ("model", "width"), "batch": ("schedule", "batch"),
    "warmup_images": ("schedule", "warmup_images"), "adversarial_images": ("schedule", "adversarial_images"),
    "finetune_images": ("schedule", "finetune_images"), "lr_g": ("schedule", "lr_g"), "lr_d": ("schedule", "lr_d"),
    "gan": ("loss", "gan"), "seed": ("run", "seed"), "threads": ("run", "threads"), "device": ("run", "device"),
    "tick_images": ("run", "tick_images"), "workers": ("run", "workers"),
}


def _resolve_files(preset: str, base: Path) -> str:
    """A preset or mixture ("easy:1,my.toml:2") with its TOML files as absolute paths from `base`."""
    def resolve(name: str) -> str:
        return str((base / name).resolve()) if name.endswith(".toml") else name

    parts = mixture_parts(preset)
    if len(parts) == 1:
        return resolve(preset)
    return ",".join(f"{resolve(name)}:{share!r}" for name, share in parts)


def _config(dataset, preset, out, init_from, config_file, options):
    from neurender.training.config import TrainConfig, from_dict, load_toml, merge, to_dict

    data = to_dict(TrainConfig())
    if config_file:
        data = merge(data, load_toml(config_file))
    # absolute paths, so that `--resume` works from any directory; --dataset and --preset replace each other
    overrides: dict = {"out": str(out.resolve())}
    if dataset is not None:
        overrides.update(dataset=str(dataset.resolve()), preset="")
    if preset is not None:
        overrides.update(preset=_resolve_files(preset, Path.cwd()), dataset="")
    elif isinstance(data.get("preset"), str) and data["preset"] and config_file:  # files named by the config:
        # relative to it (a preset of the wrong type is left to from_dict's error)
        overrides["preset"] = _resolve_files(data["preset"], config_file.parent)
    if init_from:
        overrides["init_from"] = str(init_from.resolve())
    for name, value in options.items():
        if value is not None:
            section, key = OPTION_KEYS[name]
            overrides.setdefault(section, {})[key] = value
    return from_dict(merge(data, overrides))


def nothing_to_resume(out: Path) -> str:
    """Why `--resume latest` finds no latest.pt in the run folder `out`, and what to do."""
    if not out.is_dir():
        return f"nothing to resume: there is no run folder {out}"
    partial = sorted(p.name for p in out.glob(".latest.pt.tmp-*"))
    stopped = (f"it stopped while its first checkpoint was being written ({partial[0]}, incomplete)" if partial
               else "it stopped before its first checkpoint")
    return f"nothing to resume in {out}: it has no latest.pt ({stopped}); start it again with --overwrite"


@click.command()
@click.option("--dataset", type=EXISTING, help="dataset directory, or use --preset")
@click.option("--preset", type=MIXTURE, default=None,
              help="online data: easy, default, a preset TOML file, or a mixture with shares (easy:1,default:1); "
                   "every batch is rendered fresh")
@click.option("--out", type=click.Path(path_type=Path), help="run directory, e.g. checkpoints/hybrid-easy")
@click.option("--arch", type=ARCH, default=None,
              help="generator: a registered name or package.module:Class (docs/generators.md) [default: hybrid]")
@click.option("--config", "config_file", type=EXISTING, default=None,
              help="TOML file with [model], [loss], [balance], [schedule], [run] sections; options override it")
@click.option("--width", type=click.IntRange(4, 4096), default=None, help="generator width (channels at 4x4)")
@click.option("--batch", type=click.IntRange(1, 4096), default=None, help="images per step [default: 32]")
@click.option("--warmup-images", type=click.IntRange(0), default=None, help="masked-L1 warm-up length")
@click.option("--adversarial-images", type=click.IntRange(0), default=None, help="adversarial phase length")
@click.option("--finetune-images", type=click.IntRange(0), default=None, help="fine-tuning phase length")
@click.option("--lr-g", type=FiniteFloat(0, min_open=True), default=None, help="generator learning rate")
@click.option("--lr-d", type=FiniteFloat(0, min_open=True), default=None, help="discriminator learning rate")
@click.option("--gan", type=click.Choice(GAN_LOSSES.names), default=None, help="GAN loss [default: bce]")
@click.option("--seed", type=SEED, default=None, help="seed [default: 0]")
@click.option("--threads", type=click.IntRange(1, 256), default=None, help="CPU threads")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default=None, help="[default: auto]")
@click.option("--tick-images", type=click.IntRange(1), default=None, help="images per log line / checkpoint")
@click.option("--workers", type=click.IntRange(0, 256), default=None,
              help="processes that prepare batches ahead (online scenes cost CPU; worth it with a GPU) [default: 0]")
@click.option("--init-from", type=EXISTING, default=None,
              help="start from another run's checkpoint (fine-tuning, e.g. easy then default)")
@click.option("--resume", default=None,
              help="'latest' (in --out) or a checkpoint path: continue exactly; phase lengths may be extended")
@click.option("--stop-after", type=click.FloatRange(0, min_open=True, max=1e9), default=None, metavar="SECONDS",
              help="wall-clock budget: then the schedule ends where the run is, and it validates and exports as at "
                   "its end (config-history.jsonl records the cut)")
@click.option("--dry-run", is_flag=True,
              help="print the resolved config as JSON and stop (the dataset and init_from are not opened)")
@click.option("--overwrite", is_flag=True, help="replace an existing run directory")
def train(dataset, preset, out, arch, config_file, init_from, resume, stop_after, dry_run, overwrite, **options):
    """Train a conditional renderer: masked-L1 warm-up, adversarial phase with balancing, fine-tuning."""
    if dataset is not None and preset is not None:
        raise click.UsageError("give one of --dataset and --preset")
    if not resume and not dry_run and out is not None:  # what the command line names, before torch is imported
        check_output(out, [p for p in (dataset, init_from, config_file) if p is not None], overwrite,
                     existing="--resume latest continues it, --overwrite replaces it")
    elif resume and resume != "latest" and not Path(resume).is_file():
        raise click.BadParameter(f"{resume}: no such checkpoint", param_hint="--resume")
    from neurender.training.api import run_lock
    from neurender.training.config import to_dict
    from neurender.training.loop import Trainer
    from neurender.training.schedule import PHASES
    from neurender.training.state import edited_settings, resumed_config

    with contextlib.ExitStack() as stack:  # the run folder's lock, from the moment it is known to the end
        if resume:
            lengths = {k: options.pop(k) for k in PHASES}  # what a resumed run may extend
            if config_file or arch or init_from or preset or any(v is not None for v in options.values()):
                raise click.UsageError("--resume continues a run as it was configured; only --out, --dataset (a "
                                       "moved copy of the same data), --dry-run and phase lengths (--warmup-images, "
                                       "--adversarial-images, --finetune-images) go with it")
            path = (out / "latest.pt") if resume == "latest" and out else Path(resume)
            if resume == "latest" and not out:
                raise click.BadParameter("--resume latest needs --out", param_hint="--resume")
            if resume == "latest" and not out.is_dir():
                raise NeurenderError(nothing_to_resume(out))
            if not dry_run:  # a resumed run writes into its checkpoint's folder; the lock first, since a run
                stack.enter_context(run_lock(path.parent))  # that has not saved its first checkpoint may be running
            if resume == "latest" and not path.is_file():
                raise NeurenderError(nothing_to_resume(out))
            if dry_run:
                config, _, _ = resumed_config(path, dataset, lengths)
                click.echo(json.dumps(to_dict(config), indent=2))
                return
            trainer = Trainer.resume(path, dataset, lengths)
            extended = "".join(f"; {k} {a} -> {b}" for k, (a, b) in trainer.changes.items())
            click.echo(f"resuming {path} at {trainer.counters.images} images{extended}")
            edited = [k for k in edited_settings(trainer.out / "config.json", to_dict(trainer.config))
                      if k not in trainer.changes]  # the phase lengths just extended are not edits
            if edited:
                click.echo(f"note: {trainer.out / 'config.json'} was edited ({', '.join(edited)}); a resumed run "
                           "continues with the checkpoint's settings and rewrites config.json (phase lengths change "
                           "with --warmup-images, --adversarial-images, --finetune-images)")
        else:
            if out is None:
                raise click.UsageError("--out is required")
            if dataset is not None and preset is not None:
                raise click.UsageError("give one of --dataset and --preset")
            config = _config(dataset, preset, out, init_from, config_file, {"arch": arch, **options})
            if dry_run:
                click.echo(json.dumps(to_dict(config), indent=2))
                return
            stack.enter_context(run_lock(out))
            inputs = [Path(p) for p in (config.dataset, config.init_from, config_file) if p]
            if config.preset.endswith(".toml"):
                inputs.append(Path(config.preset))
            check_output(out, inputs, overwrite, existing="--resume latest continues it, --overwrite replaces it")
            trainer = Trainer(config)  # opens and checks every input before the old run is removed
            if int(os.environ.get("RANK", "0")) == 0 and out.exists():  # under torchrun, rank 0 decides
                shutil.rmtree(out)
        try:
            record = trainer.run(stop_after_s=stop_after)
        finally:
            trainer.close()
    if trainer.world.main:
        click.echo(f"done: {trainer.counters.images} images; last tick {json.dumps(record)}")
        click.echo(f"renderer: {trainer.out / 'renderer.pt'}")
