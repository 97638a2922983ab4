"""The on-disk dataset: its format and reading (``format``), writing it (``writing``: generation, shards,
template import), image files and folders (``images``), the torch ``Dataset`` (``torch_dataset``) and
summaries (``summary``). The names below are the public ones."""

from neurender.dataset.format import (
    FORMAT_VERSION,
    IMAGES,
    META,
    PARAMS,
    LoadedDataset,
    open_dataset,
    read_meta,
    read_params_csv,
    sha256_file,
    split_sizes,
    template_image_name,
    verify_dataset,
    write_params_csv,
)
from neurender.dataset.images import read_image_folder, read_png
from neurender.dataset.summary import coverage, summarize
from neurender.dataset.torch_dataset import SceneDataset
from neurender.dataset.writing import BLOCK, GenerateSpec, generate_dataset, import_template, merge_shards, shard_range

__all__ = [
    "BLOCK", "FORMAT_VERSION", "IMAGES", "META", "PARAMS", "GenerateSpec", "LoadedDataset", "SceneDataset",
    "coverage", "generate_dataset", "import_template", "merge_shards", "open_dataset", "read_image_folder",
    "read_meta", "read_params_csv", "read_png", "sha256_file", "shard_range", "split_sizes", "summarize",
    "template_image_name", "verify_dataset", "write_params_csv",
]
