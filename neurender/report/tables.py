"""Metric tables in the layout of the seed report's Table 3: one row per method, an arrow for the better side."""

from __future__ import annotations

import math

from neurender.metrics.registry import DEFAULT_METRICS, METRICS


def _finite_mean(stats: dict | None) -> float | None:
    mean = (stats or {}).get("mean")
    return float(mean) if isinstance(mean, int | float) and math.isfinite(mean) else None


def _cell(stats: dict | None, decimals: int, bold: bool) -> str:
    if not stats or stats.get("mean") is None:
        return "-"
    if _finite_mean(stats) is None or not isinstance(stats.get("std"), int | float):
        return "not a number"
    text = f"{stats['mean']:.{decimals}f} ± {stats['std']:.{decimals}f}"
    return f"**{text}**" if bold else text


def metrics_table(evaluations: list[dict]) -> str:
    """Markdown table of mean ± std per metric, one row per evaluation (metrics.json contents); with several
    rows the best mean of each column is bold."""
    columns = [m for m in DEFAULT_METRICS if any(m in e["metrics"] for e in evaluations)]
    best = {}
    for name in columns:
        finite = [m for e in evaluations if (m := _finite_mean(e["metrics"].get(name))) is not None]
        if len(evaluations) > 1 and finite:
            best[name] = (min if METRICS[name].better == "lower" else max)(finite)
    arrow = {"lower": "↓", "higher": "↑"}
    lines = ["| Method | Images | " + " | ".join(f"{METRICS[n].label} {arrow[METRICS[n].better]}" for n in columns)
             + " |", "|---|---:|" + "---:|" * len(columns)]
    for e in evaluations:
        cells = [_cell(e["metrics"].get(n), METRICS[n].decimals,
                       n in best and _finite_mean(e["metrics"].get(n)) == best[n]) for n in columns]
        broken = any(c == "not a number" for c in cells)
        lines.append(f"| {e['method']}{' (NaN metric: not ranked)' if broken else ''} | {e['count']} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
