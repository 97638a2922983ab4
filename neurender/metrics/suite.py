"""Scoring many images with several metrics, in chunks spread over single-threaded worker processes.

On 2 cores, two single-threaded processes beat one process with two threads: FLIP's OpenMP loop gains little per
128x128 image, and chunks keep every temporary small (fresh memory is slow to fault in on small machines).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from neurender.metrics.pool import scoring_pool
from neurender.metrics.registry import METRICS, Pair

CHUNK = 50  # images per task: small temporaries and a smooth progress bar, yet pickling stays negligible


def _score(names: list[str], pair: Pair) -> dict[str, np.ndarray]:
    out = {}
    for name in names:
        out.update(METRICS[name].compute(pair))
    return out


def score(pair: Pair, names: list[str], workers: int = 2, progress: Callable[[int], None] | None = None,
          pool: ProcessPoolExecutor | None = None) -> dict[str, np.ndarray]:
    """Score every image of `pair` with the named metrics (all must be runnable, see registry.available).

    Returns {key: (N, ...) array} for each metric's keys (e.g. "flip", "flip_map", "hausdorff_one_empty").
    workers: processes (1: in this process, with torch's own threads), or an open ``scoring_pool``. progress:
    called with a count of images as chunks finish.
    """
    chunks = [pair.slice(s, s + CHUNK) for s in range(0, len(pair), CHUNK)]
    parts = []
    if pool is None and workers > 1 and len(chunks) > 1:
        with scoring_pool(min(workers, len(chunks))) as own:
            return score(pair, names, progress=progress, pool=own)
    if pool is not None:
        for chunk, part in zip(chunks, pool.map(_score, [names] * len(chunks), chunks), strict=True):
            parts.append(part)
            if progress:
                progress(len(chunk))
    else:
        for chunk in chunks:
            parts.append(_score(names, chunk))
            if progress:
                progress(len(chunk))
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]} if parts else {}


def summary(values: np.ndarray) -> dict[str, float | int | None]:
    """Mean, median, std, 95th percentile and count of the finite values of a (N,) array (NaN = not scored)."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return {"mean": None, "median": None, "std": None, "p95": None, "count": 0}
    return {"mean": float(finite.mean()), "median": float(np.median(finite)), "std": float(finite.std()),
            "p95": float(np.percentile(finite, 95)), "count": len(finite)}
