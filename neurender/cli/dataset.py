"""``neurender dataset ...``: generate, merge shards, import template folders, summarise, preview.

Modules that import torch, NumPy or matplotlib are imported inside the commands, so that ``--help`` and usage
errors answer at once.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import click

from neurender.cli.options import EXISTING, PRESET, RESOLUTION, SEED, FiniteFloat
from neurender.errors import NeurenderError
from neurender.outputs import check_output
from neurender.presets import PRESETS

SPLIT_HELP = "fraction of the images (< 1) or a count"


def _shard(value: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)/(\d+)", value)
    if not match or int(match[2]) < 1:
        raise NeurenderError(f"--shard must look like I/N with 0 <= I < N, got {value!r}")
    return int(match[1]), int(match[2])


@click.group()
def dataset() -> None:
    """Make, import and inspect datasets."""


@dataset.command()
@click.option("--preset", type=PRESET, default="default",
              help=f"{', '.join(PRESETS)}, or a TOML file of ranges and constraints")
@click.option("--count", type=click.IntRange(1, 100_000_000), required=True, help="images in the dataset")
@click.option("--seed", type=SEED, default=0, help="sampling seed")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="dataset directory to create")
@click.option("--resolution", type=RESOLUTION, default=128, help="image side in pixels")
@click.option("--val", type=FiniteFloat(0), default=0.1, help=f"validation split: {SPLIT_HELP}")
@click.option("--test", type=FiniteFloat(0), default=0.1, help=f"test split: {SPLIT_HELP}")
@click.option("--supersample", type=click.IntRange(1, 8), default=1,
              help="samples per pixel side (anti-aliased edges); 1 matches the template")
@click.option("--workers", type=click.IntRange(1, 256), default=min(os.cpu_count() or 1, 8),
              help="blocks sampled and rendered at once, one thread each (also the PNG writers)")
@click.option("--shard", default="0/1", help="write only shard I of N (then `dataset merge`)")
@click.option("--png", is_flag=True, help="also write template-style image_0000.png files")
@click.option("--overwrite", is_flag=True, help="replace an existing output directory")
def generate(preset, count, seed, out, resolution, val, test, supersample, workers, shard, png, overwrite):
    """Render a dataset of Phong spheres."""
    check_output(out, [Path(preset)] if preset.endswith(".toml") else [], overwrite)
    shard = _shard(shard)
    from tqdm import tqdm

    from neurender.dataset import GenerateSpec, generate_dataset, shard_range
    from neurender.presets import load_preset

    spec = GenerateSpec(load_preset(preset), count, seed, resolution, val, test, supersample)
    start, stop = shard_range(count, *shard)
    with tqdm(total=stop - start, unit="img", desc="generate", disable=None) as bar:
        generate_dataset(spec, out, shard, png=png, overwrite=overwrite, workers=workers, progress=bar.update)
    click.echo(f"wrote {stop - start} images to {out}")


@dataset.command()
@click.argument("shards", nargs=-1, required=True, type=EXISTING)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="dataset directory to create")
@click.option("--overwrite", is_flag=True, help="replace an existing output directory")
def merge(shards, out, overwrite):
    """Merge the shards of one generation into one dataset."""
    check_output(out, shards, overwrite)
    from neurender.dataset import merge_shards

    merge_shards(list(shards), out, overwrite=overwrite)
    click.echo(f"merged {len(shards)} shards into {out}")


@dataset.command(name="import")
@click.argument("src", type=EXISTING)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="dataset directory to create")
@click.option("--resolution", type=RESOLUTION, default=128, help="resize images to this side")
@click.option("--positions", type=click.Choice(["absolute", "relative"]), default="absolute",
              help="how the CSV gives positions: world coordinates, or minus the camera position")
@click.option("--val", type=FiniteFloat(0), default=0.1, help=f"validation split: {SPLIT_HELP}")
@click.option("--test", type=FiniteFloat(0), default=0.1, help=f"test split: {SPLIT_HELP}")
@click.option("--overwrite", is_flag=True, help="replace an existing output directory")
def import_(src, out, resolution, positions, val, test, overwrite):
    """Import a folder written by the course template (image_XXXX.png + params.csv)."""
    check_output(out, [src], overwrite)
    from neurender.dataset import import_template

    import_template(src, out, resolution, positions, val, test, overwrite)
    click.echo(f"imported {src} into {out}")


@dataset.command()
@click.argument("root", type=EXISTING)
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
def info(root, as_json):
    """Summarise a dataset (checksums verified): count, splits, empty fraction, coverage histogram."""
    from neurender.dataset import open_dataset, summarize

    summary = summarize(open_dataset(root))
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(f"{summary['path']}: {summary['count']} images, {summary['resolution']}x{summary['resolution']}, "
               f"source {summary['source']}, preset {summary['preset']}, seed {summary['seed']}")
    click.echo("splits: " + ", ".join(f"{k} {v}" for k, v in summary["splits"].items()))
    click.echo(f"empty images: {summary['empty_fraction']:.2%}; mean coverage {summary['coverage_mean']:.2%}")
    click.echo("coverage histogram:")
    peak = max(b["count"] for b in summary["coverage_histogram"]) or 1
    for b in summary["coverage_histogram"]:
        click.echo(f"  {b['from']:4.0%}-{b['to']:4.0%} {b['count']:8d} {'#' * round(40 * b['count'] / peak)}")


@dataset.command()
@click.argument("root", type=EXISTING)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="image file to write (PNG)")
@click.option("--split", type=click.Choice(["train", "val", "test", "all"]), default="all")
@click.option("--count", type=click.IntRange(1, 256), default=16, help="images in the grid")
@click.option("--columns", type=click.IntRange(1, 32), default=4)
@click.option("--overwrite", is_flag=True, help="replace an existing file")
def preview(root, out, split, count, columns, overwrite):
    """Draw a labelled grid of a dataset's images."""
    if not out.suffix:  # matplotlib would add .png itself, after the check
        out = out.with_name(out.name + ".png")
    check_output(out, [root], overwrite, kind="file")
    if out.suffix.lower() != ".png":
        raise click.BadParameter(f"{out} is not a .png file (the grid is written as PNG)", param_hint="--out")
    import numpy as np

    from neurender.dataset import open_dataset
    from neurender.report.preview import preview_grid

    data = open_dataset(root)
    indices = data.split(split)
    if len(indices) == 0:
        raise NeurenderError(f"split {split!r} of {root} is empty")
    picks = np.unique(np.linspace(0, len(indices) - 1, min(count, len(indices))).round().astype(int))
    preview_grid(data, out, [indices[k] for k in picks], columns)
    click.echo(f"wrote {out}")
