"""``neurender invert``: recover the scene parameters of images by gradient descent through a renderer.

Modules that import torch are imported inside the command, so that ``--help`` and usage errors answer at once.
"""

from __future__ import annotations

from pathlib import Path

import click

from neurender.cli.options import EXISTING, PRESET, RENDERER, RENDERER_HELP, SEED, FiniteFloat
from neurender.outputs import check_output
from neurender.shipped import DEFAULT_RENDERER


@click.command()
@click.option("--checkpoint", type=RENDERER, default=None,
              help=f"the renderer of --renderer neural: {RENDERER_HELP}  [default: {DEFAULT_RENDERER}]")
@click.option("--image", type=EXISTING, default=None,
              help="a PNG, or a folder of PNGs named like image_0000.png")
@click.option("--dataset", type=EXISTING, default=None,
              help="a dataset instead: its true scenes give parameter errors")
@click.option("--split", type=click.Choice(["train", "val", "test", "all"]), default="test")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="invert only the first N images")
@click.option("--renderer", "backend", type=click.Choice(["neural", "analytic"]), default=None,
              help="what renders during the descent [default: neural with --checkpoint, else analytic]")
@click.option("--preset", type=PRESET, default="easy",
              help="where the starts' colour, shininess and light are drawn from: easy, default or a preset TOML file")
@click.option("--starts", type=click.IntRange(1, 256), default=4, help="starts per image; the best is kept")
@click.option("--steps", type=click.IntRange(1, 100_000), default=200, help="Adam steps per start")
@click.option("--lr", type=FiniteFloat(min=0, min_open=True, max=10), default=0.05, help="Adam step size")
@click.option("--seed", type=SEED, default=0, help="seed of the starts")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="output folder")
@click.option("--overwrite", is_flag=True, help="replace an existing output folder")
def invert(checkpoint, image, dataset, split, limit, backend, preset, starts, steps, lr, seed, out, overwrite):
    """Recover the 10 scene parameters of images by gradient descent (several seeded starts, best kept).

    Writes OUT/params.csv (template columns), OUT/images/ (the recovered scenes re-rendered), OUT/errors.csv,
    OUT/summary.md, OUT/summary.json and OUT/figure.png (target | recovered | difference).
    """
    if (image is None) == (dataset is None):
        raise click.UsageError("give exactly one of --image and --dataset")
    backend = backend or ("neural" if checkpoint else "analytic")
    if backend == "neural" and checkpoint is None:
        checkpoint = RENDERER.convert(DEFAULT_RENDERER, None, None)
    inputs = [p for p in (checkpoint, image if image is not None else dataset) if p is not None]
    check_output(out, inputs, overwrite)  # before the slow part (and torch)
    from tqdm import tqdm

    from neurender.inference import load_renderer
    from neurender.inversion.fit import InversionConfig, analytic_backend, neural_backend
    from neurender.inversion.job import load_targets, run_inversion
    from neurender.outputs import staging
    from neurender.presets import load_preset
    from neurender.scene import DEFAULT_CAMERA

    config = InversionConfig(starts=starts, steps=steps, seed=seed, lr=lr)
    renderer = load_renderer(checkpoint) if checkpoint else None
    targets, camera = load_targets(image, dataset, split, renderer, limit, note=lambda m: click.echo(m, err=True))
    resolution = targets.images.shape[1]
    camera = camera or (renderer.camera if renderer else DEFAULT_CAMERA)
    if backend == "neural":
        render = neural_backend(renderer.generator, resolution, camera)
    else:
        render = analytic_backend(resolution, camera)
    with staging(out, overwrite, inputs) as stage, tqdm(total=len(targets.frames), unit="image",
                                                        disable=None) as bar:
        rows = run_inversion(targets, render, backend, load_preset(preset), camera, config, stage, bar.update)
    every = rows[0]
    facts = ", ".join(f"{k} {every[f'{k}_median']:.3g}" for k in ("image_l1", "position", "colour", "shininess",
                                                                   "light") if f"{k}_median" in every)
    click.echo(f"inverted {every['count']} images into {out} (median errors: {facts})")
