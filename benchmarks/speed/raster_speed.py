"""Rasterizer and dataset-writing throughput at 128x128 on this machine's CPU threads.

Prints a table and writes benchmarks/results/raster_speed.json. Measures, per preset:
- render: uint8 RGBA into a reused in-memory buffer, blocks of 1024 pre-sampled scenes (neurender's path);
- full frame: a straightforward vectorized renderer (the spec's per-pixel equations as whole-frame tensors,
  best of three batch sizes), for the speed-up of working only on covered pixels;
- sample: drawing scenes that meet the preset's constraints;
- write: `generate_dataset` end to end (sample + render + .npy + CSV + checksums) into the current
  directory, in images/s and logical MB/s (64 KB per image; black pages are left as holes, so fewer bytes
  reach the disk);
- disk: plain sequential writes of 1 GiB of non-zero bytes into the same directory, the ceiling any
  writer of dense data meets on this machine.

    python -m benchmarks.speed.raster_speed [--threads 2] [--seconds 3]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.arguments import DURATION, POSITIVE
from benchmarks.record import RESULTS, write_record
from neurender.dataset import BLOCK, GenerateSpec, generate_dataset
from neurender.footprint import view_space_params
from neurender.layout import DIFFUSE, LIGHT, SHININESS, TRANSLATION
from neurender.presets import PRESETS, Preset
from neurender.raster import render_spheres_uint8
from neurender.sampling import sample_scenes
from neurender.scene import AMBIENT, DEFAULT_CAMERA, Camera, ray_directions

RES = 128
FULL_FRAME_BATCHES = (16, 64, 256)  # the baseline's best batch size counts


def rate(fn, images_per_call: int, seconds: float) -> float:
    """Images per second of fn(), repeated for at least ``seconds`` after one warm-up call."""
    fn()
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or calls < 2:
        fn()
        calls += 1
    return calls * images_per_call / (time.perf_counter() - start)


def full_frame_uint8(params: torch.Tensor, camera: Camera = DEFAULT_CAMERA) -> torch.Tensor:
    """The straightforward vectorized renderer: the spec's equations on (B, channel, H, W) tensors, every ray
    against every sphere, no culling. params (B, 10) -> (B, H, W, 4) uint8."""
    v = view_space_params(params.to(torch.float64), camera).to(torch.float32)[:, :, None, None]
    d = ray_directions(camera, RES).view(1, 3, RES, RES)
    c, diffuse, shininess, light = v[:, TRANSLATION], v[:, DIFFUSE], v[:, SHININESS], v[:, LIGHT]
    b = (d * c).sum(1)
    disc = b * b - ((c * c).sum(1) - 1)
    t = b - disc.clamp(min=0).sqrt()
    hit = (disc >= 0) & (t >= camera.near) & (t <= camera.far) & ((c * c).sum(1) > 1)
    p = t[:, None] * d
    n = p - c
    to_light = torch.nn.functional.normalize(light - p, dim=1)
    n_dot_l = (n * to_light).sum(1)
    r = 2 * n_dot_l[:, None] * n - to_light
    specular = (-(r * d).sum(1)).clamp(0, 1).pow(shininess)
    colour = (AMBIENT + n_dot_l.clamp(0, 1)[:, None] * diffuse + specular[:, None]).clamp(0, 1) * hit[:, None]
    rgba = torch.cat([colour, hit[:, None].to(torch.float32)], dim=1)
    return (rgba * 255 + 0.5).to(torch.uint8).permute(0, 2, 3, 1)


def disk_bandwidth(seconds: float, mib: int) -> float:
    """MB/s of plain sequential writes (`mib` MiB in blocks of up to 64 MiB, no fsync: as the dataset writer) into
    the current directory."""
    block_mib = math.gcd(mib, 64)
    block = np.full(block_mib << 20, 7, dtype=np.uint8)
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        def write():
            with open(Path(tmp) / "disk", "wb") as f:
                f.writelines([block] * (mib // block_mib))
        return rate(write, mib, seconds) * (1 << 20) / 1e6


def measure_preset(preset: Preset, count: int, threads: int, seconds: float) -> dict:
    params = torch.from_numpy(sample_scenes(preset, 0, np.arange(count), RES))
    out = torch.empty(BLOCK, RES, RES, 4, dtype=torch.uint8)
    blocks = [params[i:i + BLOCK] for i in range(0, count, BLOCK)]

    def render_all():
        for block in blocks:
            render_spheres_uint8(block, RES, out=out)

    render = rate(render_all, count, seconds)
    full = max(rate(lambda n=n: full_frame_uint8(blocks[0][:n]), n, seconds) for n in FULL_FRAME_BATCHES)
    sample = rate(lambda: sample_scenes(preset, 1, np.arange(count), RES), count, seconds)
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        spec = GenerateSpec(preset, count, 2, RES)
        runs = iter(range(10**6))
        write = rate(lambda: generate_dataset(spec, Path(tmp) / str(next(runs)), workers=threads), count, seconds)
    return {"render_images_per_s": round(render), "full_frame_images_per_s": round(full, 1),
            "speedup_vs_full_frame": round(render / full, 1), "sample_scenes_per_s": round(sample),
            "write_images_per_s": round(write), "write_MB_per_s": round(write * RES * RES * 4 / 1e6)}


def block_counts(text: str) -> tuple[int, int]:
    parts = text.split(",")
    if len(parts) != 2 or not all(p.strip().isdigit() and int(p) >= 1 for p in parts):
        raise argparse.ArgumentTypeError(f"expected two counts of at least 1 (default,easy), got {text!r}")
    return int(parts[0]), int(parts[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=POSITIVE, default=2)
    parser.add_argument("--seconds", type=DURATION, default=3.0)
    parser.add_argument("--blocks", type=block_counts, default=(16, 4),
                        help=f"scenes per preset in writer blocks of {BLOCK}: default,easy [default: 16,4]")
    parser.add_argument("--disk-mib", type=POSITIVE, default=1024, help="MiB per write of the disk measure")
    parser.add_argument("--out", type=Path, default=RESULTS / "raster_speed.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = {"threads": args.threads, "resolution": RES, "presets": {}}
    for name, blocks in zip(("default", "easy"), args.blocks, strict=True):
        count = blocks * BLOCK
        results["presets"][name] = measure_preset(PRESETS[name], count, args.threads, args.seconds)
    results["disk_write_MB_per_s"] = round(disk_bandwidth(args.seconds, args.disk_mib))
    print(f"{'preset':8} {'render img/s':>13} {'full-frame img/s':>17} {'speed-up':>9} {'sample/s':>9} "
          f"{'write img/s':>12} {'write MB/s':>11}")
    for name, r in results["presets"].items():
        print(f"{name:8} {r['render_images_per_s']:13,d} {r['full_frame_images_per_s']:17,.0f} "
              f"{r['speedup_vs_full_frame']:8.1f}x {r['sample_scenes_per_s']:9,d} {r['write_images_per_s']:12,d} "
              f"{r['write_MB_per_s']:11,d}")
    print(f"disk: plain sequential writes {results['disk_write_MB_per_s']:,d} MB/s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_record(args.out, results, args.threads)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
