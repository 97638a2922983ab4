"""``neurender render``: a trained renderer's images of scenes, named as the template names them.

Modules that import torch are imported inside the command, so that ``--help`` and usage errors answer at once.
"""

from __future__ import annotations

from pathlib import Path

import click

from neurender.cli.options import EXISTING, RENDERER, RENDERER_HELP, RESOLUTION
from neurender.errors import NeurenderError
from neurender.outputs import check_output, written
from neurender.shipped import DEFAULT_RENDERER


@click.command()
@click.option("--checkpoint", type=RENDERER, default=DEFAULT_RENDERER,
              help=RENDERER_HELP)
@click.option("--params-csv", type=EXISTING, default=None, help="scenes in the template's CSV format")
@click.option("--dataset", type=EXISTING, default=None, help="render this dataset's scenes")
@click.option("--split", type=click.Choice(["train", "val", "test", "all"]), default="test")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="folder for image_XXXX.png files")
@click.option("--analytic", is_flag=True, help="also write the exact renders, in OUT/analytic/")
@click.option("--resolution", type=RESOLUTION, default=None,
              help="image side in pixels [default: the dataset's, else the renderer's own]; the fields and window "
                   "draw any size")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto")
@click.option("--overwrite", is_flag=True, help="write into an existing folder")
def render(checkpoint, params_csv, dataset, split, out, analytic, resolution, device, overwrite):
    """Render scenes with a trained renderer (template-style PNG names)."""
    if (params_csv is None) == (dataset is None):
        raise click.UsageError("give exactly one of --params-csv and --dataset")
    check_output(out, [checkpoint, params_csv or dataset], overwrite)
    import torch
    from PIL import Image

    from neurender.dataset import open_dataset, read_params_csv, template_image_name
    from neurender.inference import check_matches, load_renderer
    from neurender.metrics.images import to_uint8
    from neurender.raster import render_spheres_uint8
    from neurender.training.distributed import select_device

    renderer = load_renderer(checkpoint)
    size = resolution or renderer.resolution
    if dataset is not None:
        data = open_dataset(dataset)
        check_matches(renderer, data.camera, str(dataset))
        size = resolution or data.meta["resolution"]  # a dataset's scenes at its own size unless asked otherwise
        indices = data.split(split)
        frames, params = data.frames[indices.start:indices.stop], data.params[indices.start:indices.stop]
    else:
        frames, params = read_params_csv(params_csv)
    try:
        renderer.generator_at(size)  # a size it cannot draw is refused before anything is drawn
    except NeurenderError as e:
        raise NeurenderError(f"{size} px: {e}") from None
    if not len(frames):
        raise NeurenderError(f"no scenes to render in {params_csv or f'split {split} of {dataset}'}")
    images = renderer.render(params, device=select_device(device), resolution=size)
    out.mkdir(parents=True, exist_ok=True)
    for frame, image in zip(frames.tolist(), images, strict=True):
        with written(out / template_image_name(frame)) as tmp:
            Image.fromarray(to_uint8(image)).save(tmp, format="PNG")
    if analytic:
        (out / "analytic").mkdir(exist_ok=True)
        exact = render_spheres_uint8(torch.from_numpy(params), size, renderer.camera).numpy()
        for frame, image in zip(frames.tolist(), exact, strict=True):
            with written(out / "analytic" / template_image_name(frame)) as tmp:
                Image.fromarray(image).save(tmp, format="PNG")
    click.echo(f"wrote {len(frames)} images to {out}")
