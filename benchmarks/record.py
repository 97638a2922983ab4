"""The one layout of every benchmark's JSON: {"header": where and when it ran, "results": what it measured}. The
header names the commit (and whether the tree had changes), the date, the machine, its CPU count, the threads the
script used, the devices and the versions of Python and torch, so two figures are compared only within one run."""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent  # the repository
RESULTS = ROOT / "benchmarks" / "results"  # where every script writes its record unless told otherwise


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def header(threads: int | None = None) -> dict:
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {"commit": _git("rev-parse", "HEAD"), "changed": None if status is None else bool(status),
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
            "threads": threads if threads is not None else torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
            "python": platform.python_version(), "torch": torch.__version__}


def write_record(path: Path, results: dict, threads: int | None = None) -> Path:
    """Write {"header": header(threads), "results": results} to `path` (its folder made)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"header": header(threads), "results": results}, indent=2) + "\n")
    return path
