"""Where a run's images come from: an on-disk dataset, or scenes drawn from a preset and rendered fresh.

Both give the trainer the same things: batch ``number`` as a pure function of the run's seed (so ``--resume``
is exact), a fixed validation set, the scenes that fit ``ParamNorm``, and an identity that a resumed run must
match.

Online scenes are a preset's scenes at image indices that no dataset uses: batch n of size b holds indices
``TRAIN_INDEX + n b ... TRAIN_INDEX + (n + 1) b - 1``, validation holds ``VALIDATION_INDEX + 0 ... val - 1``.
``dataset generate`` numbers its images from 0, so no generated test set shares a scene with training or
validation, whatever its seed.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from neurender.dataset import LoadedDataset, open_dataset
from neurender.errors import NeurenderError
from neurender.presets import Preset, load_preset, sample_scenes
from neurender.raster import render_spheres, render_spheres_uint8
from neurender.scene import DEFAULT_CAMERA, Camera, encode_params

TRAIN_INDEX = 1 << 40  # first image index of the online training stream
VALIDATION_INDEX = 1 << 41  # first image index of the online validation set
FIT_SCENES = 4096  # training scenes that fit ParamNorm's statistics (online)
ONLINE_EPOCH_IMAGES = 50_000  # validation cadence of an online run (it has no epochs of its own)


def _rgba_channels_first(rgba: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, H, W, 4) float in [0, 1] -> image (B, 3, H, W), mask (B, 1, H, W), channels-last memory."""
    rgba = rgba.permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)
    return rgba[:, :3], rgba[:, 3:]


class DatasetSource:
    """A dataset's train split, visited epoch by epoch in a permutation seeded by (seed, epoch)."""

    def __init__(self, path: Path, seed: int, val_images: int):
        self.data: LoadedDataset = open_dataset(path)
        self.seed = seed
        self.resolution = self.data.meta["resolution"]
        self.camera: Camera = self.data.camera
        self.camera_dict = self.data.meta["camera"]
        self.train = np.asarray(self.data.split("train"))
        self.encoded = encode_params(torch.from_numpy(self.data.params), self.camera)
        val = np.sort(np.asarray(self.data.split("val"))[: val_images or None])
        self.val_encoded = self.encoded[val]
        self.val_rgba = np.asarray(self.data.images[val])
        self.identity = {"dataset_sha256": self.data.meta["sha256"]}
        self.description = str(path)

    def epoch_images(self, batch: int) -> int:
        if len(self.train) < batch:
            raise NeurenderError(f"{self.data.root}: the train split has {len(self.train)} images, fewer than "
                                 f"one batch of {batch}")
        return len(self.train) // batch * batch

    def fit_scenes(self) -> torch.Tensor:
        return self.encoded[self.train]

    def batch(self, number: int, size: int, rank: int, world: int) -> tuple[torch.Tensor, ...]:
        """Batch `number`, this process's share: encoded params (b, 10), image (b, 3, R, R), mask (b, 1, R, R)."""
        epoch, k = divmod(number, self.epoch_images(size) // size)
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self.train))
        picks = np.sort(self.train[order[k * size:(k + 1) * size]][rank::world])
        rgba = torch.from_numpy(np.asarray(self.data.images[picks])).float().div_(255)
        return (self.encoded[picks], *_rgba_channels_first(rgba))


class OnlineSource:
    """Scenes drawn from a preset and rendered exactly for every batch: unlimited data, no disk."""

    def __init__(self, preset: Preset, seed: int, val_images: int, resolution: int):
        self.preset, self.seed, self.resolution = preset, seed, resolution
        self.camera = DEFAULT_CAMERA
        self.camera_dict = dataclasses.asdict(DEFAULT_CAMERA)
        val_params = self._scenes(VALIDATION_INDEX, val_images)
        self.val_encoded = encode_params(torch.from_numpy(val_params), self.camera)
        self.val_rgba = render_spheres_uint8(torch.from_numpy(val_params), resolution, self.camera).numpy()
        self.identity = {"preset": preset.to_dict(), "seed": seed, "resolution": resolution}
        self.description = f"preset {preset.name} (online, seed {seed})"

    def _scenes(self, first: int, count: int) -> np.ndarray:
        return sample_scenes(self.preset, self.seed, np.arange(first, first + count), self.resolution, self.camera)

    def epoch_images(self, batch: int) -> int:
        return max(1, ONLINE_EPOCH_IMAGES // batch) * batch

    def fit_scenes(self) -> torch.Tensor:
        return encode_params(torch.from_numpy(self._scenes(TRAIN_INDEX, FIT_SCENES)), self.camera)

    def batch(self, number: int, size: int, rank: int, world: int) -> tuple[torch.Tensor, ...]:
        params = self._scenes(TRAIN_INDEX + number * size, size)[rank::world]
        with torch.no_grad():
            rgba = render_spheres(torch.from_numpy(params), self.resolution, self.camera)
        return (encode_params(torch.from_numpy(params), self.camera), *_rgba_channels_first(rgba))


def open_source(dataset: str, preset: str, seed: int, val_images: int, resolution: int
                ) -> DatasetSource | OnlineSource:
    """The run's data: a dataset directory, or a preset name / TOML file for online data (exactly one)."""
    if bool(dataset) == bool(preset):
        raise NeurenderError("give exactly one of a dataset and a preset")
    if dataset:
        return DatasetSource(Path(dataset), seed, val_images)
    return OnlineSource(load_preset(preset), seed, val_images or 256, resolution)
