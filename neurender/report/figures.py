"""Pictures of an evaluation: FLIP error maps and a reference | prediction | FLIP side-by-side figure."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image

from neurender.metrics.images import to_uint8


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend (no display needed): the one place it is chosen."""
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def magma(error_maps: np.ndarray) -> np.ndarray:
    """(..., H, W) errors in [0, 1] -> (..., H, W, 3) uint8, coloured with magma as FLIP's own tools do."""
    return to_uint8(matplotlib.colormaps["magma"](np.clip(error_maps, 0, 1))[..., :3])


def save_flip_maps(error_maps: np.ndarray, paths: list[Path]) -> None:
    """(N, H, W) error maps -> N magma PNGs, coloured at once and encoded on a few threads (zlib runs without
    the GIL)."""
    coloured = magma(error_maps)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda k: Image.fromarray(coloured[k]).save(paths[k]), range(len(paths))))


def side_by_side(rows: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]], out: Path, title: str) -> Path:
    """One row per image: (label, reference (H, W, 3), prediction (H, W, 3), FLIP map (H, W)), floats in [0, 1]."""
    plt = pyplot()
    fig, axes = plt.subplots(len(rows), 3, figsize=(6.6, 2.3 * len(rows)), squeeze=False)
    for (label, ref, pred, error), ax_row in zip(rows, axes):
        for ax, image, name in zip(ax_row, (ref, pred, magma(error)), ("reference", "prediction", "FLIP")):
            ax.imshow(image, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{name}", fontsize=8)
        ax_row[0].set_ylabel(label, fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.25 / len(rows)))
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
