"""The on-disk dataset format: the files and meta.json, splits, the template's CSV, checksums, opening one.

A dataset is a directory:
- ``images.npy``: uint8 (N, H, W, 4) RGBA, alpha = object mask, memory-mappable;
- ``params.csv``: a header, then ``frame,tx,ty,tz,r,g,b,shininess,lx,ly,lz`` per image, absolute world units;
- ``meta.json``: format version, source, preset, seed, count, resolution, camera, splits (index ranges),
  sha256 of both files. No timestamps or host details, so the same command gives byte-identical files.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neurender.dataset.names import IMAGES, META, PARAMS
from neurender.errors import NeurenderError
from neurender.files import read_json
from neurender.layout import CSV_COLUMNS, N_PARAMS
from neurender.presets import Preset, preset_from_dict
from neurender.scene import Camera, camera_problem, scene_problem

FORMAT_VERSION = 1


# ---------------------------------------------------------------------------------------------- splits


def split_sizes(count: int, val: float, test: float) -> dict[str, list[int]]:
    """Index ranges [start, stop) of train, val, test. ``val``/``test`` >= 1 are counts, < 1 fractions of
    ``count`` (rounded). Sampling is i.i.d. per index, so contiguous ranges are random splits."""
    def size(x: float, name: str) -> int:
        if x < 0 or (x >= 1 and x != int(x)):
            raise NeurenderError(f"--{name} must be a fraction in [0, 1) or a whole count, got {x:g}")
        if x > count:
            raise NeurenderError(f"--{name} {x:g} is more images than the dataset's {count}")
        return int(x) if x >= 1 else round(x * count)

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
        f.writelines(f"{frame}," + ",".join(map(repr, row)) + "\n"
                     for frame, row in zip(frames.tolist(), params.tolist(), strict=True))


MAX_FRAME = 2**31 - 1  # frame numbers name files (image_XXXX.png) and index int64 arrays


def read_params_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(frames (N,) int64, params (N, 10) float64) from our CSV or the template's (no header)."""
    frames, params, seen = [], [], {}
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:  # utf-8-sig: a byte-order mark is not data
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
                if not 0 <= frame <= MAX_FRAME:
                    raise NeurenderError(f"{path}:{line_no}: frame {row[0].strip()} is outside 0..{MAX_FRAME}")
                if frame in seen:
                    raise NeurenderError(f"{path}:{line_no}: frame {frame} is listed twice (also line {seen[frame]})")
                seen[frame] = line_no
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
    return np.array(frames, dtype=np.int64), np.array(params, dtype=np.float64).reshape(-1, N_PARAMS)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------- reading


def read_meta(root: Path) -> dict:
    path = Path(root) / META
    if Path(root).exists() and not Path(root).is_dir():
        raise NeurenderError(f"{root} is a file, not a dataset folder")
    if not path.exists():
        raise NeurenderError(f"{root} is not a neurender dataset (no {META})")
    try:
        meta = read_json(path, "dataset metadata")
    except NeurenderError as e:
        raise NeurenderError(f"{path} is corrupt or unreadable ({e})") from None
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
    ranges = sorted(tuple(v) for v in splits.values())
    if any(stop > count for _, stop in ranges):
        return f"a split reaches past the {count} images"
    if any(a[1] > b[0] for a, b in itertools.pairwise(ranges)):
        return "splits overlap"
    digests = meta.get("sha256")
    if not isinstance(digests, dict) or set(digests) != {IMAGES, PARAMS} or not all(
            isinstance(v, str) for v in digests.values()):
        return f"it must hold the sha256 of {IMAGES} and {PARAMS} (verification is never optional)"
    return camera_problem(meta.get("camera"))


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
