import importlib
import json
import shutil

import numpy as np
import pytest
import torch

import neurender.dataset.writing as dataset_writing
from neurender.dataset import (
    GenerateSpec,
    SceneDataset,
    generate_dataset,
    import_template,
    merge_shards,
    open_dataset,
    read_params_csv,
    shard_range,
    split_sizes,
    summarize,
    write_params_csv,
)
from neurender.errors import NeurenderError
from neurender.presets import PRESETS
from neurender.raster import render_spheres_uint8


def files(root):
    return {p.name: p.read_bytes() for p in sorted(root.iterdir())}


def test_split_sizes_default_and_counts():
    assert split_sizes(6000, 0.1, 0.1) == {"train": [0, 4800], "val": [4800, 5400], "test": [5400, 6000]}
    assert split_sizes(100, 10, 0.25) == {"train": [0, 65], "val": [65, 75], "test": [75, 100]}
    with pytest.raises(NeurenderError):
        split_sizes(10, 8, 8)


def test_generate_is_byte_identical_and_self_consistent(tmp_path):
    spec = GenerateSpec(PRESETS["easy"], count=40, seed=5, resolution=32)
    a = generate_dataset(spec, tmp_path / "a", png=True)
    b = generate_dataset(spec, tmp_path / "b", png=True)
    assert files(a) == files(b)
    data = open_dataset(a)
    assert data.images.shape == (40, 32, 32, 4) and data.images.dtype == np.uint8
    assert np.array_equal(data.images, render_spheres_uint8(torch.from_numpy(data.params), 32).numpy())
    assert (a / "image_0039.png").is_file()
    meta = json.loads((a / "meta.json").read_text())
    assert meta["preset"]["name"] == "easy" and meta["seed"] == 5 and meta["splits"]["test"] == [36, 40]
    assert set(meta["sha256"]) == {"images.npy", "params.csv"}
    assert summarize(data)["empty_fraction"] == 0


def test_shards_merge_into_the_single_run(tmp_path):
    spec = GenerateSpec(PRESETS["default"], count=2100, seed=1, resolution=24)
    whole = generate_dataset(spec, tmp_path / "whole", workers=3)  # three blocks in flight at once
    assert shard_range(2100, 0, 2) == (0, 1024) and shard_range(2100, 1, 2) == (1024, 2100)
    shards = [generate_dataset(spec, tmp_path / f"s{i}", shard=(i, 2), workers=1) for i in (1, 0)]
    merged = merge_shards(shards, tmp_path / "merged")
    assert files(merged) == files(whole)
    with pytest.raises(NeurenderError, match="exactly once"):
        merge_shards(shards[:1], tmp_path / "partial")
    with pytest.raises(NeurenderError, match="cannot split"):
        shard_range(100, 0, 2)


def test_generation_steps_do_not_change_the_bytes(tmp_path, monkeypatch):
    spec = GenerateSpec(PRESETS["default"], count=40, seed=4, resolution=16)
    whole = generate_dataset(spec, tmp_path / "whole")
    monkeypatch.setattr(dataset_writing, "STEP_BYTES", 3 * 16 * 16 * 4)  # steps of 3 images, as at 4K resolution
    stepped = generate_dataset(spec, tmp_path / "stepped", workers=3)
    assert files(stepped) == files(whole)


def _holes_supported(tmp_path) -> bool:
    probe = tmp_path / "probe"
    with open(probe, "wb") as f:
        f.truncate(1 << 20)
    return probe.stat().st_blocks * 512 < 1 << 20


def test_images_file_is_a_plain_npy_written_sparsely(tmp_path):
    spec = GenerateSpec(PRESETS["default"], count=300, seed=2, resolution=128)
    out = generate_dataset(spec, tmp_path / "d")
    images = np.load(out / "images.npy")
    np.save(tmp_path / "plain.npy", images)
    assert (out / "images.npy").read_bytes() == (tmp_path / "plain.npy").read_bytes()
    if _holes_supported(tmp_path):  # black pages are left as holes: far fewer bytes reach the disk
        allocated = (out / "images.npy").stat().st_blocks * 512
        assert allocated < 0.3 * (out / "images.npy").stat().st_size


def test_csv_round_trip_in_template_format(tmp_path, data_dir):
    frames, params = read_params_csv(data_dir / "template" / "params.csv")
    assert len(frames) == 16 and params.shape == (16, 10)
    write_params_csv(tmp_path / "t.csv", frames, params, header=False)
    assert (tmp_path / "t.csv").read_text() == (data_dir / "template" / "params.csv").read_text()
    write_params_csv(tmp_path / "ours.csv", frames, params)
    assert (tmp_path / "ours.csv").read_text().splitlines()[0] == "frame,tx,ty,tz,r,g,b,shininess,lx,ly,lz"
    f2, p2 = read_params_csv(tmp_path / "ours.csv")
    assert np.array_equal(f2, frames) and np.array_equal(p2, params)


def test_import_template_folder(tmp_path, data_dir):
    out = import_template(data_dir / "template", tmp_path / "imported", val=2, test=2)
    data = open_dataset(out)
    assert data.images.shape == (16, 128, 128, 4) and data.meta["source"] == "template"
    ours = render_spheres_uint8(torch.from_numpy(data.params)).numpy()
    theirs, mine = data.images[..., 3] > 0, ours[..., 3] > 0
    iou = (theirs & mine).sum() / (theirs | mine).sum()
    assert iou > 0.99
    small = open_dataset(import_template(data_dir / "template", tmp_path / "small", resolution=64))
    assert small.images.shape == (16, 64, 64, 4)


def test_import_relative_positions(tmp_path, data_dir):
    src = tmp_path / "rel"
    shutil.copytree(data_dir / "template", src)
    frames, params = read_params_csv(src / "params.csv")
    params[:, 0:3] -= (5, 5, 15)
    params[:, 7:10] -= (5, 5, 15)
    write_params_csv(src / "params.csv", frames, params, header=False)
    data = open_dataset(import_template(src, tmp_path / "out", positions="relative"))
    _, absolute = read_params_csv(data_dir / "template" / "params.csv")
    assert np.allclose(data.params, absolute)


def test_tampered_and_truncated_datasets_are_refused(tmp_path):
    root = generate_dataset(GenerateSpec(PRESETS["easy"], count=8, seed=0, resolution=16), tmp_path / "d")
    images = root / "images.npy"
    blob = bytearray(images.read_bytes())
    blob[-1] ^= 0xFF
    images.write_bytes(bytes(blob))
    with pytest.raises(NeurenderError, match="checksum"):
        open_dataset(root)
    images.write_bytes(bytes(blob[:-100]))
    with pytest.raises(NeurenderError, match="checksum"):
        open_dataset(root)


def test_a_deeply_nested_or_oversized_meta_json_is_one_error(tmp_path):
    root = generate_dataset(GenerateSpec(PRESETS["easy"], count=4, seed=0, resolution=16), tmp_path / "d")
    for text, message in (("[" * 100_000 + "]" * 100_000, "nests too deeply"),
                          (" " * (1 << 21), "larger than 1 MB"), ("{", "not valid JSON")):
        (root / "meta.json").write_text(text)
        with pytest.raises(NeurenderError, match=message):
            open_dataset(root)


def test_scene_dataset_yields_encoded_params_image_and_mask(tmp_path):
    root = generate_dataset(GenerateSpec(PRESETS["easy"], count=20, seed=0, resolution=16), tmp_path / "d")
    train, test = SceneDataset(root, "train"), SceneDataset(root, "test")
    assert len(train) == 16 and len(test) == 2
    params, image, mask = test[0]
    assert params.shape == (10,) and image.shape == (3, 16, 16) and mask.shape == (1, 16, 16)
    assert image.dtype == torch.float32 and image.min() >= 0 and image.max() <= 1
    assert mask.sum() >= 0.2 * 256
    assert (image * (1 - mask)).abs().max() == 0  # background is black
    loader = torch.utils.data.DataLoader(train, batch_size=8, num_workers=2)
    assert next(iter(loader))[1].shape == (8, 3, 16, 16)


def test_public_names_resolve_lazily_without_torch():
    """``neurender.dataset`` loads its modules on first use: reading image folders costs no torch, and every name
    in __all__ resolves (to the object its module defines)."""
    import subprocess
    import sys

    code = ("import sys, neurender.dataset as d; d.read_image_folder, d.template_image_name, d.META; "
            "print('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"
    from neurender import dataset

    assert sorted(dataset.__all__) == sorted(dataset._MODULE_OF)
    for name in dataset.__all__:
        module = importlib.import_module(f"neurender.dataset.{dataset._MODULE_OF[name]}")
        assert getattr(dataset, name) is getattr(module, name)
