"""The benchmark runner: every benchmark of a kind in one run, each record beside the others, and one suite record
that holds them all under one header, so their figures compare within one run on one machine.

    python -m benchmarks [speed|studies|all] [--quick] [--only NAME,...] [--results DIR]

``speed`` (the default) runs the speed benchmarks with their own defaults; ``studies`` runs the quality studies
with the arguments that made the shipped figures; ``--quick`` runs each on tiny inputs (seconds: a check that
every benchmark runs and writes its record, tested in the suite, not a measurement). The scripts in runs/ trained
the shipped renderers on a GPU and are not benchmarks: the runner lists them and runs none.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.record import RESULTS, ROOT, header


@dataclass(frozen=True)
class Benchmark:
    kind: str  # speed or studies
    name: str  # the module benchmarks.<kind>.<name>
    args: list[str] = field(default_factory=list)  # a full run
    quick: list[str] = field(default_factory=list)  # tiny inputs
    # studies whose --out is what they make, a picture (".png") or a run folder (""): their record goes to --record
    output: str | None = None

    @property
    def module(self) -> str:
        return f"benchmarks.{self.kind}.{self.name}"


BENCHMARKS = [
    Benchmark("speed", "raster_speed", quick=["--seconds", "0.05", "--blocks", "1,1", "--disk-mib", "16"]),
    Benchmark("speed", "render_speed", quick=["--count", "2", "--repeats", "1", "--sizes", "128"]),
    Benchmark("speed", "metrics_speed", quick=["--count", "4", "--repeats", "1", "--workers", "1"]),
    Benchmark("speed", "train_speed", quick=["--archs", "hybrid", "--seconds", "0.1", "--threads", "2"]),
    Benchmark("speed", "online_train_speed", quick=["--variants", "16x8x32x0", "--seconds", "0.1"]),
    Benchmark("speed", "viewer_latency", quick=["--count", "2", "--no-browser"]),
    Benchmark("studies", "inversion", quick=["--count", "1", "--starts", "1", "--steps", "5"]),
    Benchmark("studies", "dim_rims", quick=["--seeds", "101-101", "--max-luma", "0.05"]),
    Benchmark("studies", "time_to_quality", ["--seconds", "45", "--every", "15"],
              quick=["--archs", "hybrid", "--seconds", "0.5", "--every", "0.5"]),
    Benchmark("studies", "resolution_figure", ["--out", "docs/results/resolutions.png"],
              quick=["--sizes", "32,64"], output=".png"),
    Benchmark("studies", "worst_cases", ["--checkpoint", "conv=conv", "--out", "docs/results/conv-worst.png"],
              quick=["--checkpoint", "conv=conv", "--count", "4", "--per-arm", "1"], output=".png"),
    Benchmark("studies", "report_recipes", ["--recipe", "hybrid", "--out", "checkpoints/runs/hybrid-report"],
              quick=["--recipe", "hybrid", "--seconds", "2"], output=""),
]
RUNS = sorted(p.name for p in (ROOT / "benchmarks" / "runs").glob("*.sh"))


def command(b: Benchmark, quick: bool, results: Path) -> list[str]:
    """How the runner calls `b`: its module, its arguments, and where its record goes (in `results`)."""
    args = list(b.quick if quick else b.args)
    record = results / f"{b.name}.json"
    if b.output is None:
        return [sys.executable, "-m", b.module, *args, "--out", str(record)]
    if quick:  # the picture (or run folder) goes beside the records, not over the shipped one
        args += ["--out", str(results / f"{b.name}-output{b.output}")]
    return [sys.executable, "-m", b.module, *args, "--record", str(record)]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    parser.add_argument("kind", nargs="?", default="speed", choices=("speed", "studies", "all"))
    parser.add_argument("--quick", action="store_true", help="tiny inputs: checks that each runs, measures nothing")
    parser.add_argument("--only", default=None, help="comma-separated benchmark names")
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder of the records [default: %(default)s]")
    args = parser.parse_args()
    chosen = [b for b in BENCHMARKS if args.kind in ("all", b.kind)]
    if args.only is not None:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = sorted(set(names) - {b.name for b in chosen})
        if unknown:
            parser.error(f"--only: no {args.kind} benchmark {', '.join(unknown)}; "
                         f"known: {', '.join(b.name for b in chosen)}")
        chosen = [b for b in chosen if b.name in names]
    args.results.mkdir(parents=True, exist_ok=True)
    suite = {"header": header(), "quick": args.quick, "benchmarks": {}, "not_run": {"runs": RUNS}}
    failed = []
    for b in chosen:
        print(f"== {b.module}", flush=True)
        start = time.perf_counter()
        done = subprocess.run(command(b, args.quick, args.results), cwd=ROOT, check=False)
        seconds = round(time.perf_counter() - start, 1)
        record_path = args.results / f"{b.name}.json"
        record = json.loads(record_path.read_text()) if done.returncode == 0 and record_path.is_file() else None
        suite["benchmarks"][b.name] = {"kind": b.kind, "exit": done.returncode, "seconds": seconds,
                                       "results": None if record is None else record["results"]}
        if done.returncode != 0:
            failed.append(b.name)
    name = f"suite-{args.kind}{'-quick' if args.quick else ''}.json"
    (args.results / name).write_text(json.dumps(suite, indent=2) + "\n")
    print(f"\n{'benchmark':22s} {'kind':8s} {'exit':>4s} {'seconds':>8s}")
    for bench, row in suite["benchmarks"].items():
        print(f"{bench:22s} {row['kind']:8s} {row['exit']:4d} {row['seconds']:8.1f}")
    print(f"wrote {args.results / name}; not benchmarks (GPU training scripts, not run): {', '.join(RUNS)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
