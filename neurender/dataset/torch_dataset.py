"""The torch ``Dataset`` of one split, for readers who bring their own training loop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from neurender.dataset.format import IMAGES, open_dataset
from neurender.scene import encode_params


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
