"""The renderers that come with neurender, by name: ``load_renderer("easy")`` and ``--checkpoint easy`` find them
in the package's renderers/ folder (package data: a clone, an editable install, ``pip install .`` and the wheel
all carry them). No torch here, so that the command line can check a name at once."""

from __future__ import annotations

import os
from pathlib import Path

from neurender.errors import NeurenderError

CHECKPOINTS = Path(__file__).resolve().parent / "renderers"  # the shipped files and their model cards
SHIPPED = {"universal": CHECKPOINTS / "universal.pt", "easy": CHECKPOINTS / "easy.pt",
           "default": CHECKPOINTS / "default.pt", "gan": CHECKPOINTS / "gan.pt", "conv": CHECKPOINTS / "conv.pt"}
DEFAULT_RENDERER = "universal"  # what render, evaluate, invert --renderer neural, animate and view use unasked


def renderer_path(name_or_path: str | Path) -> Path:
    """A shipped renderer's file for its name (universal, easy, default, gan, conv); any other value is a path (a
    str or os.PathLike; anything else, or an empty name, is one NeurenderError)."""
    if not isinstance(name_or_path, str | os.PathLike) or not str(name_or_path):
        raise NeurenderError(f"a renderer is a shipped name ({', '.join(SHIPPED)}) or a checkpoint's path, got "
                             f"{name_or_path!r}")
    if str(name_or_path) in SHIPPED:
        path = SHIPPED[str(name_or_path)]
        if not path.is_file():
            raise NeurenderError(f"the shipped renderer {name_or_path!r} is not at {path}: this installation of "
                                 "neurender lacks its package data (reinstall it: pip install . from a clone)")
        return path
    return Path(name_or_path)
