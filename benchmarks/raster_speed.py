"""Rasterizer and dataset-writing throughput at 128x128 on this machine's CPU threads.

Prints a table and writes benchmarks/results/raster_speed.json. Measures, per preset:
- render: uint8 RGBA into a reused in-memory buffer, blocks of 1024 pre-sampled scenes (neurender's path);
- full frame: the same shading math on every pixel of every image (a straightforward vectorized renderer),
  for the speed-up of working only on covered pixels;
- sample: drawing scenes that meet the preset's constraints;
- write: `generate_dataset` end to end (sample + render + .npy + CSV + checksums) into the current
  directory: at 64 KB per image this is bound by the disk's write bandwidth.

    python benchmarks/raster_speed.py [--threads 2] [--seconds 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from neurender.dataset import BLOCK, GenerateSpec, generate_dataset
from neurender.presets import PRESETS, sample_scenes
from neurender.raster import _pixel_chunks, _prepare, _shade, render_spheres_uint8
from neurender.scene import DEFAULT_CAMERA

RES = 128


def rate(fn, images_per_call: int, seconds: float) -> float:
    """Images per second of fn(), repeated for at least ``seconds`` after one warm-up call."""
    fn()
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or calls < 2:
        fn()
        calls += 1
    return calls * images_per_call / (time.perf_counter() - start)


def full_frame_uint8(params: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """Every pixel of every image through the same intersection and shading code, no culling."""
    table, _, dirs = _prepare(params, DEFAULT_CAMERA, RES)
    b = len(params)
    spans = (torch.arange(b).repeat_interleave(RES), torch.arange(RES).repeat(b),
             torch.zeros(b * RES, dtype=torch.int64), torch.full((b * RES,), RES - 1), torch.zeros(b * RES, dtype=torch.bool))
    flat = out.view(-1, 4)
    for sphere, pixel, exact in _pixel_chunks(spans, RES):
        hit, colour = _shade(table, sphere, pixel, exact, dirs, DEFAULT_CAMERA)
        alpha = hit.float()
        flat[sphere * RES * RES + pixel] = (torch.stack([c * alpha for c in colour] + [alpha], 1) * 255 + 0.5).to(torch.uint8)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "raster_speed.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = {"threads": args.threads, "resolution": RES, "torch": torch.__version__,
               "machine": platform.processor() or platform.machine(), "presets": {}}
    for name, count in (("default", 16 * BLOCK), ("easy", 4 * BLOCK)):
        preset = PRESETS[name]
        params = torch.from_numpy(sample_scenes(preset, 0, np.arange(count), RES))
        out = torch.empty(BLOCK, RES, RES, 4, dtype=torch.uint8)
        blocks = [params[i:i + BLOCK] for i in range(0, count, BLOCK)]

        def render_all():
            for block in blocks:
                render_spheres_uint8(block, RES, out=out)

        render = rate(render_all, count, args.seconds)
        full = rate(lambda: full_frame_uint8(blocks[0][:128], out[:128]), 128, args.seconds)
        sample = rate(lambda: sample_scenes(preset, 1, np.arange(count), RES), count, args.seconds)
        with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
            spec = GenerateSpec(preset, count, 2, RES)
            runs = iter(range(10**6))
            write = rate(lambda: generate_dataset(spec, Path(tmp) / str(next(runs)), workers=args.threads),
                         count, args.seconds)
        results["presets"][name] = {"render_images_per_s": round(render), "full_frame_images_per_s": round(full, 1),
                                    "speedup_vs_full_frame": round(render / full, 1),
                                    "sample_scenes_per_s": round(sample), "write_images_per_s": round(write),
                                    "write_MB_per_s": round(write * RES * RES * 4 / 1e6)}
    print(f"{'preset':8} {'render img/s':>13} {'full-frame img/s':>17} {'speed-up':>9} {'sample/s':>9} "
          f"{'write img/s':>12} {'write MB/s':>11}")
    for name, r in results["presets"].items():
        print(f"{name:8} {r['render_images_per_s']:13,d} {r['full_frame_images_per_s']:17,.0f} "
              f"{r['speedup_vs_full_frame']:8.1f}x {r['sample_scenes_per_s']:9,d} {r['write_images_per_s']:12,d} "
              f"{r['write_MB_per_s']:11,d}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
