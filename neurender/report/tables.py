"""Metric tables in the layout of the seed report's Table 3: one row per method, an arrow for the better side."""

from __future__ import annotations

import math

from neurender.metrics.registry import DEFAULT_METRICS, METRICS

DECIMALS = {"flip": 4, "lpips": 4, "ssim": 4, "hausdorff": 2, "silhouette_hausdorff": 2, "psnr": 2, "l1": 4,
            "masked_l1": 4}


def _cell(stats: dict | None, decimals: int, bold: bool) -> str:
    if not stats or stats.get("mean") is None:
        return "-"
    text = f"{stats['mean']:.{decimals}f} ± {stats['std']:.{decimals}f}"
    return f"**{text}**" if bold else text


def metrics_table(evaluations: list[dict]) -> str:
    """Markdown table of mean ± std per metric, one row per evaluation (metrics.json contents); with several
    rows the best mean of each column is bold."""
    columns = [m for m in DEFAULT_METRICS if any(m in e["metrics"] for e in evaluations)]
    best = {}
    for name in columns:
        means = [e["metrics"].get(name, {}).get("mean") for e in evaluations]
        means = [m if m is not None else math.nan for m in means]
        finite = [m for m in means if not math.isnan(m)]
        if len(evaluations) > 1 and finite:
            best[name] = (min if METRICS[name].better == "lower" else max)(finite)
    arrow = {"lower": "↓", "higher": "↑"}
    lines = ["| Method | Images | " + " | ".join(f"{METRICS[n].label} {arrow[METRICS[n].better]}" for n in columns)
             + " |", "|---|---:|" + "---:|" * len(columns)]
    for e in evaluations:
        cells = [_cell(e["metrics"].get(n), DECIMALS[n],
                       n in best and e["metrics"].get(n, {}).get("mean") == best[n]) for n in columns]
        lines.append(f"| {e['method']} | {e['count']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
