"""The on-disk dataset: its file names (``names``), its format and reading (``format``), writing it
(``writing``: generation, shards, template import), image files and folders (``images``), the torch ``Dataset``
(``torch_dataset``) and summaries (``summary``). The names below are the public ones.

They are loaded on first use (PEP 562), so that a command that only reads image folders (``neurender evaluate
--predictions``) imports neither torch nor the rasterizer: ``from neurender.dataset import open_dataset`` works
as usual.
"""

from __future__ import annotations

import importlib

_SOURCES = {
    "format": ("FORMAT_VERSION", "LoadedDataset", "open_dataset", "read_meta", "read_params_csv", "sha256_file",
               "split_sizes", "verify_dataset", "write_params_csv"),
    "images": ("read_image_folder", "read_png"),
    "names": ("IMAGES", "META", "PARAMS", "template_image_name"),
    "summary": ("coverage", "summarize"),
    "torch_dataset": ("SceneDataset",),
    "writing": ("BLOCK", "GenerateSpec", "generate_dataset", "import_template", "merge_shards", "shard_range"),
}
_MODULE_OF = {name: module for module, names in _SOURCES.items() for name in names}

__all__ = [
    "BLOCK", "FORMAT_VERSION", "IMAGES", "META", "PARAMS", "GenerateSpec", "LoadedDataset", "SceneDataset",
    "coverage", "generate_dataset", "import_template", "merge_shards", "open_dataset", "read_image_folder",
    "read_meta", "read_params_csv", "read_png", "sha256_file", "shard_range", "split_sizes", "summarize",
    "template_image_name", "verify_dataset", "write_params_csv",
]


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_MODULE_OF[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_MODULE_OF])
