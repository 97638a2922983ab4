"""Image files: PNGs of any mode read by their bit depth, and folders of frames named as the template names
them (``image_XXXX.png``), for template import and evaluation."""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image

from neurender.dataset.names import FRAME_NUMBER
from neurender.errors import NeurenderError

WIDE_MODES = {"I;16": 65535, "I;16B": 65535, "I;16L": 65535, "I": 65535}  # 16-bit grayscale PNGs: full scale
CONVERTED = {"P": "palette", "L": "grayscale", "LA": "grayscale with alpha", "1": "1-bit", "I;16": "16-bit grayscale",
             "I;16B": "16-bit grayscale", "I;16L": "16-bit grayscale", "I": "16-bit grayscale", "RGBX": "RGBX"}


MAX_SIDE = 2048  # the largest image side read; the header is checked before anything is decoded


def read_png(path: Path | BinaryIO, resolution: int | None = None, name: str | None = None) -> np.ndarray:
    """A square image file (a path, or an open binary file called ``name`` in messages) as uint8 (R, R, 4) RGBA
    (opaque if it has no alpha), box-resized to `resolution`.

    Every mode Pillow opens is converted by its own bit depth: 16-bit RGB(A) files arrive as 8-bit (Pillow
    keeps the high byte, exact for 16-bit copies of 8-bit images); 16-bit grayscale is scaled by 255 / 65535;
    palette and grayscale files are expanded. ``CONVERTED`` names the modes that are not RGB(A). Images larger
    than MAX_SIDE on a side (decompression bombs among them) are refused from their header.
    """
    return _read_image(path, resolution, name)[0]


def _read_image(path: Path | BinaryIO, resolution: int | None = None, name: str | None = None
                ) -> tuple[np.ndarray, str, bool]:
    """``read_png``'s image, the file's mode, and whether it carries alpha (an A band or a transparency key)."""
    name = name or str(path)
    try:
        with warnings.catch_warnings():  # Pillow's bomb warning is a stray line before our own check's error
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
        with img:
            if max(img.width, img.height) > MAX_SIDE:
                raise NeurenderError(f"{name}: image is {img.width}x{img.height}, larger than the {MAX_SIDE} px "
                                     "a side that neurender reads; downscale it first")
            img.load()
            mode, alpha = img.mode, "A" in img.getbands() or "transparency" in img.info
            if img.width != img.height:
                raise NeurenderError(f"{name}: image is {img.width}x{img.height}, expected a square")
            if mode in WIDE_MODES:
                grey = np.asarray(img, dtype=np.float64) * (255 / WIDE_MODES[mode])
                grey = np.clip(np.floor(grey + 0.5), 0, 255).astype(np.uint8)
                rgba = Image.fromarray(np.stack([grey, grey, grey, np.full_like(grey, 255)], -1), "RGBA")
            elif mode in ("RGB", "RGBA") or mode in CONVERTED:
                rgba = img.convert("RGBA")
            else:
                raise NeurenderError(f"{name}: images of mode {mode} are not supported (use 8- or 16-bit PNG)")
    except Image.DecompressionBombError:
        raise NeurenderError(f"{name}: image is larger than the {MAX_SIDE} px a side that neurender reads") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise NeurenderError(f"{name}: unreadable image ({str(e).splitlines()[0]})") from None
    if resolution is not None and rgba.width != resolution:
        rgba = rgba.resize((resolution, resolution), Image.Resampling.BOX)
    return np.asarray(rgba), mode, alpha


def read_image_folder(folder: Path) -> tuple[np.ndarray, np.ndarray, bool, str]:
    """Every ``*_NNNN.png`` (or ``NNNN.png``) in a folder, by frame number: the template's names and ours.

    Returns frames (N,) int64 ascending, images uint8 (N, R, R, 4), whether every file had alpha, and how many
    files were converted from modes other than RGB(A) (e.g. "3 palette"; "" if none).
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
    with ThreadPoolExecutor(4) as pool:  # PNG decoding runs without the GIL
        images, modes, alphas = zip(*pool.map(_read_image, [by_frame[f] for f in frames.tolist()]), strict=True)
    if len({im.shape for im in images}) > 1:
        raise NeurenderError(f"{folder}: images differ in size")
    counts: dict[str, int] = {}
    for mode in modes:
        if mode in CONVERTED:
            counts[CONVERTED[mode]] = counts.get(CONVERTED[mode], 0) + 1
    converted = ", ".join(f"{n} {name}" for name, n in sorted(counts.items()))
    return frames, np.stack(images), all(alphas), converted
