"""``neurender animate``: a renderer beside the exact renderer along a path through scene space.

Modules that import torch are imported inside the command, so that ``--help`` and usage errors answer at once.
"""

from __future__ import annotations

from pathlib import Path

import click

from neurender.animation.paths import PATHS, SCENE_TEXT
from neurender.cli.options import PRESET, RENDERER, RENDERER_HELP, RESOLUTION, SEED, FiniteFloat
from neurender.outputs import check_output
from neurender.shipped import DEFAULT_RENDERER


@click.command()
@click.option("--checkpoint", type=RENDERER, default=DEFAULT_RENDERER,
              help=RENDERER_HELP)
@click.option("--from", "start", default=None, metavar=SCENE_TEXT,
              help="the first scene, world units [default: a random scene of --preset]")
@click.option("--to", "end", default=None, metavar=SCENE_TEXT,
              help="the last scene (--path line; --path shininess takes its exponent)")
@click.option("--path", "kind", type=click.Choice(PATHS), default="line",
              help="line: --from to --to; orbit-light: the light circles the sphere; circle: the sphere circles "
                   "the camera's target; shininess: the exponent sweeps")
@click.option("--frames", type=click.IntRange(min=1, max=10_000), default=60)
@click.option("--fps", type=FiniteFloat(min=1, max=100), default=20.0)
@click.option("--flip", "with_flip", is_flag=True, help="add the FLIP error map as a third panel")
@click.option("--preset", type=PRESET, default="easy",
              help="where a random --from is drawn: a preset name or a TOML file")
@click.option("--seed", type=SEED, default=0, help="seed of a random --from")
@click.option("--resolution", type=RESOLUTION, default=None,
              help="panel side in pixels [default: the renderer's own]; the fields and window draw any size")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="an .gif (or .mp4 with ffmpeg) file")
@click.option("--overwrite", is_flag=True, help="replace an existing file")
def animate(checkpoint, start, end, kind, frames, fps, with_flip, preset, seed, resolution, out, overwrite):
    """Animate a scene path: neural | analytic [| FLIP] frames, rendered in batches, written as GIF or MP4."""
    if kind == "line" and end is None:
        raise click.UsageError("--path line needs --to (or choose another --path)")
    check_output(out, [checkpoint], overwrite, kind="file")  # before the slow part (and torch)
    import numpy as np
    from tqdm import tqdm

    from neurender.animation.frames import render_frames, write_animation, writer_problem
    from neurender.animation.paths import parse_scene, scene_path
    from neurender.errors import NeurenderError
    from neurender.inference import load_renderer
    from neurender.outputs import staging_file
    from neurender.presets import load_preset
    from neurender.sampling import sample_scenes
    from neurender.scene import scene_problem

    try:
        first = parse_scene(start, "--from") if start is not None else None
        last = parse_scene(end, "--to") if end is not None else None
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    problem = writer_problem(out)
    if problem:
        raise NeurenderError(problem)
    renderer = load_renderer(checkpoint)
    size = resolution or renderer.resolution
    try:
        renderer.generator_at(size)
    except NeurenderError as e:
        raise NeurenderError(f"--resolution {size}: {e}") from None
    if first is None:
        first = sample_scenes(load_preset(preset), seed, np.arange(1), renderer.resolution)[0]
    scenes = scene_path(kind, first, last, frames)
    for scene in scenes[[0, -1]]:
        problem = scene_problem(scene.tolist())
        if problem:
            raise NeurenderError(f"the path leaves the scenes the renderer can draw: {problem}")
    with tqdm(total=frames, unit="frame", disable=None) as bar:
        composed, scores = render_frames(renderer, scenes, with_flip, progress=bar.update, resolution=size)
    with staging_file(out, overwrite, [checkpoint]) as partial:
        write_animation(composed, partial, fps, out.suffix.lower())
    click.echo(f"wrote {frames} frames to {out} (neural | analytic{' | FLIP' if with_flip else ''}; "
               f"FLIP mean {scores.mean():.4f}, worst {scores.max():.4f})")
