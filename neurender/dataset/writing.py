"""Writing datasets: generation (streamed block by block into a memory-mappable array), shards and merging,
template import.

Every writer builds the dataset in a hidden sibling directory and moves it into place when complete
(``outputs.staging``), so a failure or an interrupt never leaves a half-written dataset, and ``overwrite``
replaces the old one only then.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from neurender.dataset.format import (
    FORMAT_VERSION,
    IMAGES,
    META,
    PARAMS,
    read_meta,
    read_params_csv,
    sha256_file,
    split_sizes,
    verify_dataset,
    write_params_csv,
)
from neurender.dataset.images import read_png
from neurender.dataset.names import template_image_name
from neurender.errors import NeurenderError
from neurender.layout import LIGHT, N_PARAMS, TRANSLATION
from neurender.outputs import check_room, staging
from neurender.presets import Preset, validate_preset
from neurender.raster import render_spheres_uint8
from neurender.sampling import sample_scenes
from neurender.scene import DEFAULT_CAMERA, Camera

BLOCK = 1024  # shard boundaries fall on multiples of this many images
STEP_BYTES = 64 << 20  # images rendered and written per step: at most BLOCK, at most this many bytes


class _NpyStream:
    """Writes a uint8 .npy file block by block on background threads, hashing as it goes.

    The file is created at its full size as a sparse file, and each block writes only its 4 KiB pages that
    hold a non-zero byte: the rest stay holes, which read as zeros. Most of a sphere image is black
    background, so this writes a fraction of the bytes (on the default preset about one page in five).
    ``write(block)`` returns once the previous block is written, so one write overlaps the caller's next
    block: the caller must not modify ``block`` until its next ``write`` or ``close``.
    """

    PAGE = 4096

    def __init__(self, path: Path, shape: tuple[int, ...]):
        self._file = open(path, "wb")  # noqa: SIM115 (open across write() calls until close())
        self._digest = hashlib.sha256()
        self._pool = ThreadPoolExecutor(2)  # writing and hashing run side by side
        self._pending = None
        header = {"descr": "|u1", "fortran_order": False, "shape": shape}
        np.lib.format.write_array_header_1_0(self._file, header)
        self._file.flush()
        self._digest.update(path.read_bytes())
        self._offset = self._file.tell()
        self._file.truncate(self._offset + math.prod(shape))

    def _wait(self) -> None:
        for future in self._pending or ():
            future.result()

    def _write_pages(self, data: np.ndarray, offset: int) -> None:
        """Write the pages of ``data`` (1-D uint8) that are not all zero, at file position ``offset``."""
        full = len(data) // self.PAGE * self.PAGE
        pages = data[:full].view(np.uint64).reshape(-1, self.PAGE // 8)
        nonzero = np.append(pages.max(axis=1) > 0, data[full:].any())
        edges = np.flatnonzero(np.diff(nonzero, prepend=False, append=False))  # starts and ends of runs
        for first, last in zip(edges[::2] * self.PAGE, edges[1::2] * self.PAGE, strict=True):
            os.pwrite(self._file.fileno(), data[first:last], offset + first)

    def write(self, block: np.ndarray) -> None:
        self._wait()
        data = np.ascontiguousarray(block).reshape(-1)
        self._pending = (self._pool.submit(self._write_pages, data, self._offset),
                         self._pool.submit(self._digest.update, data))
        self._offset += len(data)

    def close(self) -> str:
        """Finish writing; returns the file's sha256."""
        self._wait()
        self._pool.shutdown()
        self._file.close()
        return self._digest.hexdigest()


def _finish(stage: Path, stream: _NpyStream, frames: np.ndarray, params: np.ndarray, meta: dict) -> None:
    """Close the image stream, then write params.csv and meta.json with both checksums."""
    meta["sha256"] = {IMAGES: stream.close()}
    write_params_csv(stage / PARAMS, frames, params)
    meta["sha256"][PARAMS] = sha256_file(stage / PARAMS)
    (stage / META).write_text(json.dumps(meta, indent=2) + "\n")


def _write_pngs(stage: Path, images: np.ndarray, frames: np.ndarray, pool: ThreadPoolExecutor) -> None:
    list(pool.map(lambda k: Image.fromarray(images[k], "RGBA").save(stage / template_image_name(int(frames[k]))),
                  range(len(frames))))


@dataclass(frozen=True)
class GenerateSpec:
    """What ``neurender dataset generate`` makes: everything that determines the bytes written."""

    preset: Preset  # the scene distribution
    count: int  # images in the whole dataset (all shards)
    seed: int  # sampling seed, 0 <= seed < 2^63
    resolution: int = 128  # image side in pixels
    val: float = 0.1  # validation split: fraction (< 1) or count
    test: float = 0.1  # test split: fraction (< 1) or count
    supersample: int = 1  # samples per pixel side; 1 samples pixel centres as the template does

    def meta(self, camera: Camera) -> dict:
        return {
            "format_version": FORMAT_VERSION,
            "source": "generated",
            "preset": self.preset.to_dict(),
            "seed": self.seed,
            "count": self.count,
            "resolution": self.resolution,
            "supersample": self.supersample,
            "camera": asdict(camera),
            "splits": split_sizes(self.count, self.val, self.test),
        }


def shard_range(count: int, shard: int, shards: int) -> tuple[int, int]:
    """Image indices [start, stop) of shard ``shard`` of ``shards``; boundaries fall on whole BLOCKs so a
    shard renders exactly the blocks a single run would."""
    blocks = math.ceil(count / BLOCK)
    if not 0 <= shard < shards:
        raise NeurenderError(f"shard {shard}/{shards}: index must lie in [0, {shards})")
    if shards > blocks:
        raise NeurenderError(f"{count} images make {blocks} block(s) of {BLOCK}; cannot split into {shards} shards")
    return min(count, shard * blocks // shards * BLOCK), min(count, (shard + 1) * blocks // shards * BLOCK)


def _step_images(image_bytes: int) -> int:
    """Images per generation or merge step: at most BLOCK, and at most STEP_BYTES bytes in flight."""
    return max(1, min(BLOCK, STEP_BYTES // image_bytes))


@contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads, then restore the setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def generate_dataset(spec: GenerateSpec, out: Path, shard: tuple[int, int] = (0, 1), png: bool = False,
                     overwrite: bool = False, workers: int = 2, camera: Camera = DEFAULT_CAMERA,
                     progress: Callable[[int], None] | None = None) -> Path:
    """Sample, render and write a dataset (or one shard of it) to ``out``. Returns ``out``.

    Work goes in steps of up to BLOCK images and STEP_BYTES bytes. ``workers`` steps are sampled and rendered
    at once, each on one thread (torch runs single-threaded meanwhile: its own thread team would fight the
    writer's threads for the cores), while the stream writes and hashes finished steps in order.
    progress(n) is called after every step with the number of images just written.
    """
    validate_preset(spec.preset)
    meta = spec.meta(camera)  # validates the splits before anything is written
    start, stop = shard_range(spec.count, *shard)
    # Bytes per image in flight: the RGBA output, or with supersampling the float32 RGBA of the fine image.
    step = _step_images(spec.resolution**2 * 4 * (4 * spec.supersample**2 if spec.supersample > 1 else 1))
    # Sample the first step before touching the disk: an impossible preset fails here, with nothing written.
    first = sample_scenes(spec.preset, spec.seed, np.arange(start, min(stop, start + step)), spec.resolution, camera)
    if shard[1] > 1:
        meta["shard"] = {"index": shard[0], "of": shard[1], "start": start, "stop": stop}
    shape = (stop - start, spec.resolution, spec.resolution, 4)
    workers = max(1, workers)
    # Step k renders into buffer k mod (workers + 2): by the time step k + workers + 2 starts, step k's
    # write has finished (the stream finishes one write before it accepts the next).
    buffers = [torch.empty((step, *shape[1:]), dtype=torch.uint8) for _ in range(workers + 2)]

    def produce(k: int, block_start: int) -> tuple[np.ndarray, np.ndarray]:
        block_stop = min(stop, block_start + step)
        scenes = first if block_start == start else sample_scenes(
            spec.preset, spec.seed, np.arange(block_start, block_stop), spec.resolution, camera)
        images = render_spheres_uint8(torch.from_numpy(scenes), spec.resolution, camera, spec.supersample,
                                      out=buffers[k % len(buffers)][:block_stop - block_start])
        return scenes, images.numpy()

    check_room(out, int(np.prod(shape)) * (2 if png else 1))  # PNGs take at most about as much again
    with staging(out, overwrite) as stage, _torch_threads(1), ThreadPoolExecutor(workers) as pool:
        stream = _NpyStream(stage / IMAGES, shape)
        params = np.empty((stop - start, N_PARAMS))

        def consume(block_start: int, future) -> None:
            scenes, images = future.result()
            params[block_start - start:block_start - start + len(scenes)] = scenes
            stream.write(images)
            if png:
                _write_pngs(stage, images, np.arange(block_start, block_start + len(scenes)), pool)
            if progress:
                progress(len(scenes))

        pending: deque = deque()  # (first image, future) of the steps in flight, in order
        for k, block_start in enumerate(range(start, stop, step)):
            pending.append((block_start, pool.submit(produce, k, block_start)))
            if len(pending) > workers:
                consume(*pending.popleft())
        while pending:
            consume(*pending.popleft())
        _finish(stage, stream, np.arange(start, stop), params, meta)
    return out


def merge_shards(shard_dirs: list[Path], out: Path, overwrite: bool = False) -> Path:
    """Concatenate the shards of one generation into the dataset a single run would have written."""
    metas = [read_meta(d) for d in shard_dirs]
    for d, m in zip(shard_dirs, metas, strict=True):
        if "shard" not in m:
            raise NeurenderError(f"{d} is not a shard (generated without --shard)")
        verify_dataset(d, m)
    common = {k: v for k, v in metas[0].items() if k not in ("shard", "sha256")}
    for d, m in zip(shard_dirs, metas, strict=True):
        if {k: v for k, v in m.items() if k not in ("shard", "sha256")} != common:
            raise NeurenderError(f"{d} belongs to another generation than {shard_dirs[0]} (preset, seed, count...)")
    order = sorted(range(len(metas)), key=lambda k: metas[k]["shard"]["start"])
    expected = 0
    for k in order:
        shard = metas[k]["shard"]
        if shard["start"] != expected:
            raise NeurenderError(f"shards do not cover images {expected}.. exactly once (next starts at "
                                 f"{shard['start']}): pass every shard of the generation, once")
        expected = shard["stop"]
    if expected != common["count"]:
        raise NeurenderError(f"shards cover {expected} of {common['count']} images: some are missing")
    res = common["resolution"]
    with staging(out, overwrite, inputs=shard_dirs) as stage:
        stream = _NpyStream(stage / IMAGES, (common["count"], res, res, 4))
        frames, params = [], []
        step = _step_images(res * res * 4)
        for k in order:
            shard_dir = shard_dirs[k]
            shard_images = np.load(shard_dir / IMAGES, mmap_mode="r")
            for s in range(0, len(shard_images), step):
                stream.write(shard_images[s:s + step])
            f, p = read_params_csv(shard_dir / PARAMS)
            frames.append(f)
            params.append(p)
            for png in shard_dir.glob("image_*.png"):
                shutil.copyfile(png, stage / png.name)
        _finish(stage, stream, np.concatenate(frames), np.concatenate(params), common)
    return out


def import_template(src: Path, out: Path, resolution: int = 128, positions: str = "absolute",
                    val: float = 0.1, test: float = 0.1, overwrite: bool = False,
                    camera: Camera = DEFAULT_CAMERA) -> Path:
    """Read a folder written by the course template (``image_XXXX.png`` + ``params.csv``) into our format.

    positions: "absolute" (world coordinates, the template's own) or "relative" (sphere and light positions
    minus the camera position, as some students' copies write). Images of another size are resized with
    area averaging (PIL's box filter), so edges become fractional alpha as with supersampling.
    """
    if positions not in ("absolute", "relative"):
        raise NeurenderError(f"positions must be 'absolute' or 'relative', got {positions!r}")
    if not src.is_dir():
        raise NeurenderError(f"template folder not found: {src}")
    frames, params = read_params_csv(src / PARAMS)
    if len(frames) == 0:
        raise NeurenderError(f"{src / PARAMS} has no rows")
    if len(set(frames.tolist())) != len(frames):
        raise NeurenderError(f"{src / PARAMS} lists a frame twice")
    missing = [template_image_name(f) for f in frames.tolist() if not (src / template_image_name(f)).is_file()]
    if missing:
        raise NeurenderError(f"{src}: {len(missing)} image(s) listed in params.csv are missing, "
                             f"first {missing[0]}")
    if positions == "relative":
        offset = np.array(camera.position)
        params[:, TRANSLATION] += offset
        params[:, LIGHT] += offset
    meta = {
        "format_version": FORMAT_VERSION,
        "source": "template",
        "imported_from": src.name,
        "positions": positions,
        "count": len(frames),
        "resolution": resolution,
        "camera": asdict(camera),
        "splits": split_sizes(len(frames), val, test),
    }
    with staging(out, overwrite, inputs=[src]) as stage:
        stream = _NpyStream(stage / IMAGES, (len(frames), resolution, resolution, 4))
        for frame in frames.tolist():
            stream.write(read_png(src / template_image_name(frame), resolution))
        _finish(stage, stream, frames, params, meta)
    return out
