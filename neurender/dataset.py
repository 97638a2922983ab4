"""The on-disk dataset: generation (streamed block by block into a memory-mappable array), shards and merging,
template import, verification, summaries, and the torch ``Dataset`` the trainer reads.

A dataset is a directory:
- ``images.npy``: uint8 (N, H, W, 4) RGBA, alpha = object mask, memory-mappable;
- ``params.csv``: a header, then ``frame,tx,ty,tz,r,g,b,shininess,lx,ly,lz`` per image, absolute world units;
- ``meta.json``: format version, source, preset, seed, count, resolution, camera, splits (index ranges),
  sha256 of both files. No timestamps or host details, so the same command gives byte-identical files.

Every writer builds the dataset in a hidden sibling directory and moves it into place when complete, so a
failure or an interrupt never leaves a half-written dataset, and ``overwrite`` replaces the old one only then.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import re
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

from neurender.errors import NeurenderError
from neurender.outputs import check_room, staging
from neurender.presets import Preset, preset_from_dict, sample_scenes, validate_preset
from neurender.raster import render_spheres_uint8
from neurender.scene import CSV_COLUMNS, DEFAULT_CAMERA, Camera, encode_params, scene_problem

FORMAT_VERSION = 1
BLOCK = 1024  # shard boundaries fall on multiples of this many images
STEP_BYTES = 64 << 20  # images rendered and written per step: at most BLOCK, at most this many bytes
IMAGES, PARAMS, META = "images.npy", "params.csv", "meta.json"
FRAME_NUMBER = re.compile(r"(?:^|[_-])(\d+)\.png$", re.IGNORECASE)


def template_image_name(frame: int) -> str:
    return f"image_{frame:04d}.png"


# ---------------------------------------------------------------------------------------------- splits


def split_sizes(count: int, val: float, test: float) -> dict[str, list[int]]:
    """Index ranges [start, stop) of train, val, test. ``val``/``test`` >= 1 are counts, < 1 fractions of
    ``count`` (rounded). Sampling is i.i.d. per index, so contiguous ranges are random splits."""
    def size(x: float, name: str) -> int:
        if x < 0 or (x >= 1 and x != int(x)):
            raise NeurenderError(f"--{name} must be a fraction in [0, 1) or a whole count, got {x}")
        return int(x) if x >= 1 else int(round(x * count))

    n_val, n_test = size(val, "val"), size(test, "test")
    n_train = count - n_val - n_test
    if n_train < 0:
        raise NeurenderError(f"splits need {n_val} val + {n_test} test images but the dataset has {count}")
    return {"train": [0, n_train], "val": [n_train, n_train + n_val], "test": [n_train + n_val, count]}


# ---------------------------------------------------------------------------------------------- CSV


def write_params_csv(path: Path, frames: np.ndarray, params: np.ndarray, header: bool = True) -> None:
    """One row per image: frame, then the ten parameters as Python floats (shortest exact repr)."""
    with open(path, "w", newline="") as f:
        if header:
            f.write(",".join(CSV_COLUMNS) + "\n")
        for frame, row in zip(frames.tolist(), params.tolist()):
            f.write(f"{frame}," + ",".join(map(repr, row)) + "\n")


def read_params_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(frames (N,) int64, params (N, 10) float64) from our CSV or the template's (no header)."""
    frames, params = [], []
    try:
        with open(path, newline="") as f:
            for line_no, row in enumerate(csv.reader(f), start=1):
                if line_no == 1 and row and row[0].strip() == "frame":
                    continue
                if not row or all(not cell.strip() for cell in row):
                    continue
                if len(row) != len(CSV_COLUMNS):
                    raise NeurenderError(f"{path}:{line_no}: expected {len(CSV_COLUMNS)} values "
                                         f"({','.join(CSV_COLUMNS)}), got {len(row)}")
                try:
                    frame, values = int(row[0]), [float(v) for v in row[1:]]
                except ValueError:
                    raise NeurenderError(f"{path}:{line_no}: not a number in {','.join(row)!r}") from None
                problem = scene_problem(values)
                if problem:
                    raise NeurenderError(f"{path}:{line_no}: {problem}")
                frames.append(frame)
                params.append(values)
    except FileNotFoundError:
        raise NeurenderError(f"missing {path}") from None
    except UnicodeDecodeError:
        raise NeurenderError(f"{path} is not a text CSV file") from None
    except OSError as e:
        raise NeurenderError(f"cannot read {path}: {e.strerror or e}") from None
    return np.array(frames, dtype=np.int64), np.array(params, dtype=np.float64).reshape(-1, 10)


# ---------------------------------------------------------------------------------------------- writing


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


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
        self._file = open(path, "wb")
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
        for first, last in zip(edges[::2] * self.PAGE, edges[1::2] * self.PAGE):
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
        params = np.empty((stop - start, 10))

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
    for d, m in zip(shard_dirs, metas):
        if "shard" not in m:
            raise NeurenderError(f"{d} is not a shard (generated without --shard)")
        verify_dataset(d, m)
    common = {k: v for k, v in metas[0].items() if k not in ("shard", "sha256")}
    for d, m in zip(shard_dirs, metas):
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
        params[:, 0:3] += offset
        params[:, 7:10] += offset
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


WIDE_MODES = {"I;16": 65535, "I;16B": 65535, "I;16L": 65535, "I": 65535}  # 16-bit grayscale PNGs: full scale
CONVERTED = {"P": "palette", "L": "grayscale", "LA": "grayscale with alpha", "1": "1-bit", "I;16": "16-bit grayscale",
             "I;16B": "16-bit grayscale", "I;16L": "16-bit grayscale", "I": "16-bit grayscale", "RGBX": "RGBX"}


def read_png(path: Path, resolution: int | None = None) -> np.ndarray:
    """A square image file as uint8 (R, R, 4) RGBA (opaque if it has no alpha), box-resized to `resolution`.

    Every mode Pillow opens is converted by its own bit depth: 16-bit RGB(A) files arrive as 8-bit (Pillow
    keeps the high byte, exact for 16-bit copies of 8-bit images); 16-bit grayscale is scaled by 255 / 65535;
    palette and grayscale files are expanded. ``CONVERTED`` names the modes that are not RGB(A).
    """
    try:
        with Image.open(path) as img:
            img.load()
            if img.width != img.height:
                raise NeurenderError(f"{path}: image is {img.width}x{img.height}, expected a square")
            if img.mode in WIDE_MODES:
                grey = np.asarray(img, dtype=np.float64) * (255 / WIDE_MODES[img.mode])
                grey = np.clip(np.floor(grey + 0.5), 0, 255).astype(np.uint8)
                rgba = Image.fromarray(np.stack([grey, grey, grey, np.full_like(grey, 255)], -1), "RGBA")
            elif img.mode in ("RGB", "RGBA") or img.mode in CONVERTED:
                rgba = img.convert("RGBA")
            else:
                raise NeurenderError(f"{path}: images of mode {img.mode} are not supported (use 8- or 16-bit PNG)")
    except (OSError, SyntaxError) as e:
        raise NeurenderError(f"{path}: unreadable image ({str(e).splitlines()[0]})") from None
    if resolution is not None and rgba.width != resolution:
        rgba = rgba.resize((resolution, resolution), Image.Resampling.BOX)
    return np.asarray(rgba)


def has_alpha(path: Path) -> bool:
    """Whether an image file carries an alpha channel (RGBA, LA, or a transparency key)."""
    with Image.open(path) as img:
        return "A" in img.getbands() or "transparency" in img.info


def image_modes(paths: list[Path]) -> str:
    """How many of these image files were converted from a mode other than RGB(A), e.g. "3 palette"."""
    counts: dict[str, int] = {}
    for path in paths:
        with Image.open(path) as img:
            if img.mode in CONVERTED:
                counts[CONVERTED[img.mode]] = counts.get(CONVERTED[img.mode], 0) + 1
    return ", ".join(f"{n} {mode}" for mode, n in sorted(counts.items()))


def read_image_folder(folder: Path) -> tuple[np.ndarray, np.ndarray, bool, str]:
    """Every ``*_NNNN.png`` (or ``NNNN.png``) in a folder, by frame number: the template's names and ours.

    Returns frames (N,) int64 ascending, images uint8 (N, R, R, 4), whether every file had alpha, and which
    files were converted from other modes (``image_modes``; "" if none).
    """
    if not folder.is_dir():
        raise NeurenderError(f"image folder not found: {folder}")
    by_frame: dict[int, Path] = {}
    for path in folder.iterdir():
        match = FRAME_NUMBER.search(path.name)
        if match and path.is_file():
            frame = int(match[1])
            if frame in by_frame:
                raise NeurenderError(f"{folder}: {by_frame[frame].name} and {path.name} are both frame {frame}")
            by_frame[frame] = path
    if not by_frame:
        raise NeurenderError(f"{folder} has no PNG images named like image_0000.png")
    frames = np.array(sorted(by_frame), dtype=np.int64)
    images = [read_png(by_frame[f]) for f in frames.tolist()]
    if len({im.shape for im in images}) > 1:
        raise NeurenderError(f"{folder}: images differ in size")
    paths = [by_frame[f] for f in frames.tolist()]
    return frames, np.stack(images), all(has_alpha(p) for p in paths), image_modes(paths)


# ---------------------------------------------------------------------------------------------- reading


def read_meta(root: Path) -> dict:
    path = Path(root) / META
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError:
        raise NeurenderError(f"{root} is not a neurender dataset (no {META})") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise NeurenderError(f"{path} is corrupt (not JSON)") from None
    if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
        version = meta.get("format_version") if isinstance(meta, dict) else None
        raise NeurenderError(f"{path}: unsupported format version {version!r} (this neurender reads "
                             f"{FORMAT_VERSION})")
    problem = _meta_problem(meta)
    if problem:
        raise NeurenderError(f"{path} is corrupt: {problem}")
    return meta


def _meta_problem(meta: dict) -> str | None:
    """What is wrong with the shape of a meta.json, or None."""
    resolution, count, splits = meta.get("resolution"), meta.get("count"), meta.get("splits")
    if not isinstance(resolution, int) or isinstance(resolution, bool) or not 1 <= resolution <= 1 << 14:
        return f"resolution {resolution!r} is not a positive integer"
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        return f"count {count!r} is not a non-negative integer"
    if not isinstance(splits, dict) or not all(
            isinstance(v, list) and len(v) == 2 and all(isinstance(x, int) for x in v) and 0 <= v[0] <= v[1]
            for v in splits.values()):
        return "splits must map names to [start, stop] index pairs"
    digests = meta.get("sha256")
    if not isinstance(digests, dict) or set(digests) != {IMAGES, PARAMS} or not all(
            isinstance(v, str) for v in digests.values()):
        return f"it must hold the sha256 of {IMAGES} and {PARAMS} (verification is never optional)"
    if not isinstance(meta.get("camera"), dict):
        return "camera must be a table of settings"
    return None


def verify_dataset(root: Path, meta: dict | None = None) -> dict:
    """Check both files against the checksums in meta.json; return the meta. Raises NeurenderError."""
    root = Path(root)
    meta = meta or read_meta(root)
    for name, expected in meta.get("sha256", {}).items():
        path = root / name
        if not path.is_file():
            raise NeurenderError(f"{root}: missing {name}")
        if sha256_file(path) != expected:
            raise NeurenderError(f"{root}: {name} does not match its checksum (truncated or modified)")
    return meta


@dataclass(frozen=True)
class LoadedDataset:
    """A dataset opened for reading: images memory-mapped, parameters in memory."""

    root: Path
    meta: dict
    images: np.ndarray  # uint8 (N, H, W, 4), memory-mapped
    frames: np.ndarray  # int64 (N,)
    params: np.ndarray  # float64 (N, 10) world-space scene parameters

    @property
    def camera(self) -> Camera:
        return Camera.from_dict(self.meta["camera"])

    @property
    def preset(self) -> Preset | None:
        return preset_from_dict(self.meta["preset"]) if "preset" in self.meta else None

    def split(self, name: str) -> range:
        if name == "all":
            return range(len(self.frames))
        if name not in self.meta["splits"]:
            raise NeurenderError(f"unknown split {name!r}: use train, val, test or all")
        return range(*self.meta["splits"][name])


def open_dataset(root: Path, verify: bool = True) -> LoadedDataset:
    """Open a dataset directory, by default checking its checksums first. A shard is refused: its splits are
    the whole generation's (merge the shards first)."""
    root = Path(root)
    meta = verify_dataset(root) if verify else read_meta(root)
    if "shard" in meta:
        shard = meta["shard"]
        raise NeurenderError(f"{root} is shard {shard.get('index')} of {shard.get('of')} of a generation, not a "
                             "dataset: merge the shards first (neurender dataset merge)")
    try:
        images = np.load(root / IMAGES, mmap_mode="r")
    except (OSError, ValueError) as e:
        raise NeurenderError(f"{root / IMAGES} is not a readable array ({e})") from None
    frames, params = read_params_csv(root / PARAMS)
    res = meta["resolution"]
    if images.dtype != np.uint8 or images.shape[1:] != (res, res, 4) or len(images) != len(frames):
        raise NeurenderError(f"{root}: images {images.dtype}{images.shape} do not match {len(frames)} "
                             f"parameter rows at {res}x{res} RGBA")
    return LoadedDataset(root, meta, images, frames, params)


class SceneDataset(torch.utils.data.Dataset):
    """(encoded params (10,) float32, image (3, H, W) float32 in [0, 1], mask (1, H, W) float32 in [0, 1])
    for one split; images are read through the memory map, opened lazily so DataLoader workers each map it.
    """

    def __init__(self, root: Path, split: str = "train", verify: bool = True):
        data = open_dataset(root, verify=verify)
        self.root = data.root
        self.indices = data.split(split)
        self.encoded = encode_params(torch.from_numpy(data.params), data.camera)
        self._images: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if self._images is None:
            self._images = np.load(self.root / IMAGES, mmap_mode="r")
        i = self.indices[k]
        rgba = torch.from_numpy(np.array(self._images[i])).permute(2, 0, 1).float() / 255
        return self.encoded[i], rgba[:3], rgba[3:]


# ---------------------------------------------------------------------------------------------- summaries


def coverage(images: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Fraction of each image's pixels the object covers (alpha > 0). (N, H, W, 4) uint8 -> (N,) float64."""
    out = np.empty(len(images))
    for s in range(0, len(images), chunk):
        out[s:s + chunk] = (images[s:s + chunk, :, :, 3] > 0).mean(axis=(1, 2))
    return out


def summarize(data: LoadedDataset, bins: int = 10) -> dict:
    """Count, resolution, splits, empty fraction and a coverage histogram of a dataset."""
    cov = coverage(data.images)
    hist, edges = np.histogram(cov, bins=bins, range=(0.0, 1.0))
    return {
        "path": str(data.root),
        "source": data.meta["source"],
        "preset": data.meta.get("preset", {}).get("name"),
        "seed": data.meta.get("seed"),
        "count": len(data.frames),
        "resolution": data.meta["resolution"],
        "splits": {k: v[1] - v[0] for k, v in data.meta["splits"].items()},
        "empty_fraction": float((cov == 0).mean()),
        "coverage_mean": float(cov.mean()),
        "coverage_histogram": [{"from": float(a), "to": float(b), "count": int(c)}
                               for a, b, c in zip(edges[:-1], edges[1:], hist)],
    }
