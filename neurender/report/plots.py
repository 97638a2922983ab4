"""Training curves of a run: losses, discriminator accuracy and balancing, validation metrics (PNG and SVG)."""

from __future__ import annotations

import json
from pathlib import Path

from neurender.errors import NeurenderError
from neurender.outputs import written
from neurender.report.figures import pyplot


def read_jsonl(path: Path) -> list[dict]:
    """A run's log: one JSON object per line, each with the images seen (an int) and numbers or null."""
    if not path.is_file():
        return []
    try:
        records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise NeurenderError(f"{path} is corrupt (not JSON lines: {e})") from None
    for n, record in enumerate(records, start=1):
        if not isinstance(record, dict) or not isinstance(record.get("images"), int):
            raise NeurenderError(f"{path}: record {n} is not a log record (an object with an integer 'images')")
    return records


def _figure(series: dict[str, tuple[list, list]], title: str, ylabel: str, out: Path, log: bool = False) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, (x, y) in series.items():
        ax.plot(x, y, label=label, marker="." if len(x) < 30 else None)
    ax.set_xlabel("images seen")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if log:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if series:
        ax.legend(fontsize=8)
    fig.tight_layout()
    for suffix in (".png", ".svg"):
        with written(out.with_suffix(suffix)) as tmp:
            fig.savefig(tmp, format=suffix[1:], dpi=100)
    plt.close(fig)


def _series(records: list[dict], keys: list[str]) -> dict[str, tuple[list, list]]:
    out = {}
    for key in keys:
        points = [(r["images"], r[key]) for r in records
                  if isinstance(r.get(key), int | float) and not isinstance(r.get(key), bool)]
        if points:
            out[key] = tuple(map(list, zip(*points, strict=True)))
    return out


def plot_run(run: Path, out: Path | None = None) -> list[Path]:
    """Draw losses.*, accuracy.* and validation.* for a run folder; returns the PNG paths."""
    log = read_jsonl(run / "log.jsonl")
    if not log:
        raise NeurenderError(f"{run} has no log.jsonl records to plot")
    out = out or run / "plots"
    out.mkdir(parents=True, exist_ok=True)
    _figure(_series(log, ["g_l1", "g_coverage", "g_gan", "g_lpips", "d"]), f"{run.name}: losses (tick means)", "loss",
            out / "losses", log=True)
    balanced = [r for r in log if isinstance(r.get("balance"), dict) and r.get("phase") not in (None, "warmup")]
    balance = [{"images": r["images"], "1:1 steps": r["balance"].get("balanced"),
                "D steps skipped": r["balance"].get("d_skipped"), "G extra steps": r["balance"].get("g_extra_steps"),
                "D extra steps": r["balance"].get("d_extra_steps")} for r in balanced]
    smoothed = [{"images": r["images"], "controller's moving average": r["balance"].get("accuracy_ema")}
                for r in balanced]
    fig_acc = {**_series(log, ["d_acc_real", "d_acc_fake"]), **_series(smoothed, ["controller's moving average"])}
    _figure(fig_acc, f"{run.name}: discriminator accuracy", "accuracy", out / "accuracy")
    _figure(_series(balance, ["1:1 steps", "D steps skipped", "G extra steps", "D extra steps"]),
            f"{run.name}: balancing decisions (cumulative)", "count", out / "balance")
    records = read_jsonl(run / "metrics.jsonl")
    validation = [r for r in records if r.get("kind") != "evaluation"]
    _figure(_series(validation, ["masked_l1", "ssim"]), f"{run.name}: validation (G_ema)", "value",
            out / "validation")
    names = ["losses", "accuracy", "balance", "validation"]
    evaluations = [{"images": r["images"], **{m: v.get("mean") for m, v in r["metrics"].items() if isinstance(v, dict)}}
                   for r in records if r.get("kind") == "evaluation" and isinstance(r.get("metrics"), dict)]
    if evaluations:
        metrics = sorted({m for r in evaluations for m in r if m != "images"})
        _figure(_series(evaluations, metrics), f"{run.name}: evaluate --checkpoint (means)", "value",
                out / "evaluations", log=True)
        names.append("evaluations")
    return [out / f"{name}.png" for name in names]
