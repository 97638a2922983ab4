"""A labelled grid of a dataset's images, composited over a grey checkerboard so the alpha mask shows."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neurender.dataset import LoadedDataset
from neurender.outputs import written
from neurender.report.figures import pyplot


def _over_checkerboard(rgba: np.ndarray, square: int = 8) -> np.ndarray:
    """(H, W, 4) uint8 -> (H, W, 3) float in [0, 1], alpha-composited over a light/dark checkerboard."""
    h, w = rgba.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    board = np.where(((yy // square) + (xx // square)) % 2, 0.35, 0.25)[..., None]
    colour, alpha = rgba[..., :3] / 255.0, rgba[..., 3:] / 255.0
    return colour * alpha + board * (1 - alpha)


def preview_grid(data: LoadedDataset, out: Path, indices: list[int], columns: int = 4) -> Path:
    """Save a grid of the given images, each titled with its index, frame and coverage, as PNG (or any
    format matplotlib knows from the suffix)."""
    plt = pyplot()

    rows = -(-len(indices) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(2.2 * columns, 2.45 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, indices, strict=False):
        rgba = np.asarray(data.images[i])
        ax.imshow(_over_checkerboard(rgba), interpolation="nearest")
        ax.set_title(f"#{i} frame {data.frames[i]}\ncoverage {(rgba[..., 3] > 0).mean():.1%}", fontsize=8)
    fig.suptitle(f"{data.root.name}: {len(data.frames)} images, {data.meta['resolution']} px", fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    with written(out) as tmp:
        fig.savefig(tmp, format=out.suffix[1:] or "png", dpi=100)
    plt.close(fig)
    return out
