"""Frames of a renderer beside the exact renderer (optionally with the FLIP map), and the files they go to."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from neurender.errors import NeurenderError
from neurender.inference import Renderer
from neurender.metrics.images import quantize_8bit, to_float, to_uint8
from neurender.metrics.registry import Pair
from neurender.metrics.suite import score
from neurender.raster import render_spheres_uint8
from neurender.report.figures import magma

GAP = 4  # pixels between panels


def compare(renderer: Renderer, scenes: np.ndarray, names: tuple[str, ...] = ("flip",),
            resolution: int | None = None) -> dict[str, np.ndarray]:
    """(N, 10) world-space scenes -> {"neural", "analytic": (N, R, R, 3) float32, and the named metrics' values
    (``metrics.registry``: e.g. "flip" (N,) and "flip_map" (N, R, R))} between the two, both 8-bit quantized as
    they are scored everywhere else; the exact image's alpha is the reference mask. R: `resolution`, by default
    the renderer's own."""
    size = resolution or renderer.resolution
    exact = render_spheres_uint8(torch.from_numpy(scenes), size, renderer.camera).numpy()
    pair = Pair(to_float(exact[..., :3]), quantize_8bit(renderer.render(scenes, resolution=size)), exact[..., 3] > 0)
    return {"neural": pair.prediction, "analytic": pair.reference, **score(pair, list(names), workers=1)}


def compose(images: dict[str, np.ndarray], with_flip: bool) -> np.ndarray:
    """``compare``'s output -> (N, R, 2R or 3R plus gaps, 3) uint8: neural | analytic [| FLIP map]."""
    panels = [to_uint8(images["neural"]), to_uint8(images["analytic"])]
    if with_flip:
        panels.append(magma(images["flip_map"]))
    n, r = panels[0].shape[:2]
    gap = np.full((n, r, GAP, 3), 255, np.uint8)
    parts = [panels[0]]
    for panel in panels[1:]:
        parts += [gap, panel]
    return np.concatenate(parts, 2)


def render_frames(renderer: Renderer, scenes: np.ndarray, with_flip: bool, batch: int = 16,
                  progress: Callable[[int], None] | None = None, resolution: int | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(F, 10) scenes -> composed frames (F, H, W, 3) uint8 and each frame's FLIP (F,), in batches; panels of
    `resolution` pixels (by default the renderer's own)."""
    frames, scores = [], []
    for lo in range(0, len(scenes), batch):
        images = compare(renderer, scenes[lo:lo + batch], resolution=resolution)
        frames.append(compose(images, with_flip))
        scores.append(images["flip"])
        if progress:
            progress(len(images["flip"]))
    return np.concatenate(frames), np.concatenate(scores)


def write_animation(frames: np.ndarray, path: Path, fps: float, kind: str) -> None:
    """(F, H, W, 3) uint8 -> path, as kind ".gif" (through Pillow) or ".mp4" (through ffmpeg)."""
    if kind == ".gif":
        images = [Image.fromarray(f) for f in frames]
        images[0].save(path, format="GIF", save_all=True, append_images=images[1:], duration=round(1000 / fps),
                       loop=0)
        return
    h, w = frames.shape[1:3]
    command = [shutil.which("ffmpeg") or "ffmpeg", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
               "-s", f"{w}x{h}", "-r", f"{fps}", "-i", "-", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2",
               "-pix_fmt", "yuv420p", "-f", "mp4", str(path)]
    result = subprocess.run(command, input=frames.tobytes(), capture_output=True, check=False)
    if result.returncode:
        raise NeurenderError(f"ffmpeg could not write the video: {result.stderr.decode().strip()[:200]}")


def writer_problem(out: Path) -> str | None:
    """Why ``out`` cannot be written, or None: .gif always works, .mp4 needs ffmpeg on PATH."""
    suffix = out.suffix.lower()
    if suffix == ".gif":
        return None
    if suffix == ".mp4":
        return None if shutil.which("ffmpeg") else "writing .mp4 needs ffmpeg on PATH (not found); use .gif"
    return f"{out.name}: use a .gif or .mp4 file name"
