"""Summaries of a dataset: coverage per image, and the counts ``dataset info`` prints."""

from __future__ import annotations

import numpy as np

from neurender.dataset.format import LoadedDataset


def coverage(images: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Fraction of each image's pixels the object covers (alpha > 0). (N, H, W, 4) uint8 -> (N,) float64."""
    out = np.empty(len(images))
    for s in range(0, len(images), chunk):
        out[s:s + chunk] = (images[s:s + chunk, :, :, 3] > 0).mean(axis=(1, 2))
    return out


def summarize(data: LoadedDataset, bins: int = 10) -> dict:
    """Count, resolution, splits, empty fraction and a coverage histogram of a dataset."""
    cov = coverage(data.images)
    hist, edges = np.histogram(cov, bins=bins, range=(0.0, 1.0))
    return {
        "path": str(data.root),
        "source": data.meta["source"],
        "preset": data.meta.get("preset", {}).get("name"),
        "seed": data.meta.get("seed"),
        "count": len(data.frames),
        "resolution": data.meta["resolution"],
        "splits": {k: v[1] - v[0] for k, v in data.meta["splits"].items()},
        "empty_fraction": float((cov == 0).mean()),
        "coverage_mean": float(cov.mean()),
        "coverage_histogram": [{"from": float(a), "to": float(b), "count": int(c)}
                               for a, b, c in zip(edges[:-1], edges[1:], hist, strict=True)],
    }
