"""Reading the small text files a user hands neurender (preset and config TOML, a dataset's meta.json): a regular
file of bounded size, UTF-8, parsed with one error line for whatever is wrong with it, nesting included."""

from __future__ import annotations

import json
import os
import stat
import tomllib
from pathlib import Path

from neurender.errors import NeurenderError

MAX_TEXT_BYTES = 1 << 20  # far more than any preset, config or meta.json needs


def read_text(path: Path, what: str) -> str:
    """The text of `path`, a regular file of at most MAX_TEXT_BYTES (a device, a pipe or a larger file is refused
    without reading it all); `what` names it in the error ("preset file", "config")."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO does not block the open
    except FileNotFoundError:
        raise NeurenderError(f"{what} not found: {path}") from None
    except OSError as e:
        raise NeurenderError(f"cannot read {what} {path}: {e.strerror or e}") from None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise NeurenderError(f"{what} {path} is not a regular file")
        data = f.read(MAX_TEXT_BYTES + 1)
    if len(data) > MAX_TEXT_BYTES:
        raise NeurenderError(f"{what} {path} is larger than {MAX_TEXT_BYTES >> 20} MB, too large to be one")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise NeurenderError(f"{what} {path} is not a text file (not UTF-8)") from None


def read_toml(path: Path, what: str) -> dict:
    """``read_text`` parsed as TOML."""
    return _parsed(path, what, "TOML", tomllib.loads, tomllib.TOMLDecodeError)


def read_json(path: Path, what: str):
    """``read_text`` parsed as JSON."""
    return _parsed(path, what, "JSON", json.loads, json.JSONDecodeError)


def _parsed(path: Path, what: str, language: str, parse, error: type[Exception]):
    text = read_text(path, what)
    try:
        return parse(text)
    except error as e:
        raise NeurenderError(f"{what} {path} is not valid {language}: {e}") from None
    except RecursionError:
        raise NeurenderError(f"{what} {path} nests too deeply (arrays or tables within each other)") from None
