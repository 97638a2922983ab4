"""Pictures of an evaluation: FLIP error maps and a reference | prediction | FLIP side-by-side figure (drawn with
Pillow: matplotlib's start-up and layout cost seconds a call), and the one place pyplot is chosen."""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from neurender.metrics.images import to_uint8
from neurender.outputs import written


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend (no display needed): the one place it is chosen."""
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@functools.cache
def _magma_table() -> np.ndarray:
    """(256, 3) uint8: matplotlib's magma at its 256 levels."""
    return to_uint8(matplotlib.colormaps["magma"](np.arange(256))[:, :3])


def magma(error_maps: np.ndarray) -> np.ndarray:
    """(..., H, W) errors in [0, 1] -> (..., H, W, 3) uint8, coloured with magma as FLIP's own tools do (the level
    of each value as matplotlib picks it: floor(256 v), 1 -> 255)."""
    levels = np.minimum((np.clip(error_maps, 0, 1) * 256).astype(np.int64), 255)
    return _magma_table()[levels]


def save_flip_maps(error_maps: np.ndarray, paths: list[Path]) -> None:
    """(N, H, W) error maps -> N magma PNGs, coloured at once and encoded on a few threads (zlib runs without
    the GIL) at zlib level 1: three times faster than the default, files 17% larger."""
    coloured = magma(error_maps)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda k: Image.fromarray(coloured[k]).save(paths[k], compress_level=1), range(len(paths))))


def side_by_side(rows: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]], out: Path, title: str) -> Path:
    """One row per image: (label, reference (H, W, 3), prediction (H, W, 3), FLIP map (H, W)), floats in [0, 1].
    Drawn at twice the size, pixels kept sharp: the title, the column names, a label per row (``comparison_grid``)."""
    cell = 2 * rows[0][1].shape[0]
    grid = [(text, [reference, prediction, magma(error)]) for text, reference, prediction, error in rows]
    return comparison_grid(grid, ["reference", "prediction", "FLIP"], out, title, cell, label=120)


def sphere_crop(mask: np.ndarray, least: int = 32, margin: int = 8) -> tuple[slice, slice]:
    """The square of the frame around a sphere's pixels: mask (H, W) bool -> (rows, columns) slices, at least
    `least` pixels wide and `margin` beyond the sphere each side, moved inside the frame; the whole frame if the
    mask is empty."""
    h, w = mask.shape
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if not len(rows):
        return slice(0, h), slice(0, w)
    size = min(max(least, rows[-1] - rows[0] + 1 + 2 * margin, cols[-1] - cols[0] + 1 + 2 * margin), h, w)
    top = int(np.clip((rows[0] + rows[-1] + 1 - size) // 2, 0, h - size))
    left = int(np.clip((cols[0] + cols[-1] + 1 - size) // 2, 0, w - size))
    return slice(top, top + size), slice(left, left + size)


def comparison_grid(rows: list[tuple[str, list[np.ndarray]]], columns: list[str], out: Path, title: str,
                    cell: int = 160, label: int = 150) -> Path:
    """One row per case: (label, images (H, W, 3) floats in [0, 1] or uint8, one per column), each scaled to
    `cell` pixels with sharp pixels under its column's name, the row labels right-aligned in `label` pixels. Drawn
    with Pillow (matplotlib's start-up and layout cost seconds a call)."""
    font = ImageFont.load_default(size=13)
    top, gap = 46, 6
    canvas = Image.new("RGB", (label + len(columns) * (cell + gap) + gap, top + len(rows) * (cell + gap)), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((canvas.width // 2, 8), title, fill="black", font=font, anchor="mt")
    for c, name in enumerate(columns):
        draw.text((label + gap + c * (cell + gap) + cell // 2, top - 8), name, fill="black", font=font, anchor="ms")
    for r, (text, images) in enumerate(rows):
        y = top + r * (cell + gap)
        draw.multiline_text((label - 4, y + cell // 2), text, fill="black", font=font, anchor="rm", align="right")
        for c, image in enumerate(images):
            pixels = image if image.dtype == np.uint8 else to_uint8(image)
            canvas.paste(Image.fromarray(pixels).resize((cell, cell), Image.Resampling.NEAREST),
                         (label + gap + c * (cell + gap), y))
    with written(out) as tmp:
        canvas.save(tmp, format=Image.registered_extensions().get(Path(out).suffix.lower(), "PNG"))
    return out
