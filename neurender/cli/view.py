"""``neurender view``: a local page with a slider per parameter, the neural and the exact image side by side.

Modules that import torch are imported inside the command, so that ``--help`` and usage errors answer at once.
"""

from __future__ import annotations

import click

from neurender.cli.options import RENDERER, RENDERER_HELP, RESOLUTION
from neurender.shipped import DEFAULT_RENDERER


@click.command()
@click.option("--checkpoint", type=RENDERER, default=DEFAULT_RENDERER,
              help=RENDERER_HELP)
@click.option("--port", type=click.IntRange(0, 65535), default=8765, help="port on 127.0.0.1 (0: any free one)")
@click.option("--resolution", type=RESOLUTION, default=None,
              help="image size shown first [default: the renderer's own]; the page offers 128, 256 and 512 too "
                   "for the fields and window")
def view(checkpoint, port, resolution):
    """Serve the live viewer on http://127.0.0.1:PORT/ until interrupted (Ctrl-C)."""
    from neurender.errors import NeurenderError
    from neurender.inference import load_renderer
    from neurender.viewer.server import serve

    renderer = load_renderer(checkpoint)
    try:
        server = serve(renderer, port, resolution)  # Viewer checks the size before the port is bound
    except NeurenderError as e:
        raise NeurenderError(f"--resolution {resolution}: {e}") from None
    except OSError as e:
        raise NeurenderError(f"cannot serve on 127.0.0.1:{port}: {e.strerror or e}") from None
    click.echo(f"neurender viewer on http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops it)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped")
    finally:
        server.server_close()
