"""``neurender plot``: a run's training curves.

matplotlib is imported inside the command, so that ``--help`` and usage errors answer at once.
"""

from __future__ import annotations

from pathlib import Path

import click

from neurender.outputs import check_output


@click.command()
@click.argument("run", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=None, help="folder for the plots [default: RUN/plots]")
@click.option("--overwrite", is_flag=True, help="replace figures in an existing folder")
def plot(run, out, overwrite):
    """Draw a run's loss, accuracy, balancing and validation curves (PNG and SVG)."""
    from neurender.report.plots import plot_run

    check_output(out or run / "plots", [run / "log.jsonl", run / "metrics.jsonl"], overwrite)
    for path in plot_run(run, out):
        click.echo(f"wrote {path} (and .svg)")
