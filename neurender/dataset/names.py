"""The file names of the on-disk format (a dataset's three files, the template's image names): no imports, so
that a reader of image folders can tell a dataset from a folder without loading the format's readers."""

from __future__ import annotations

import re

IMAGES, PARAMS, META = "images.npy", "params.csv", "meta.json"
FRAME_NUMBER = re.compile(r"(?:^|[_-])(\d+)\.png$", re.IGNORECASE)  # the frame number in an image's file name


def template_image_name(frame: int) -> str:
    """The template's file name of a frame's image (which ``FRAME_NUMBER`` reads back)."""
    return f"image_{frame:04d}.png"
