"""Where a run's images come from: an on-disk dataset, or scenes drawn from a preset and rendered fresh.

Both give the trainer the same things: batch ``number`` as a pure function of the run's seed (so ``--resume``
is exact), a fixed validation set, the scenes that fit ``ParamNorm``, and an identity that a resumed run must
match. A batch is made in two steps: ``load`` (on the CPU: the dataset's images, or the online scenes) and
``finish`` (on the training device: online scenes are rendered there). ``stream`` runs the loads ahead of the
trainer, in worker processes where asked: drawing online scenes costs the CPU more than rendering them costs a GPU.

Online scenes are a preset's scenes at image indices that no dataset uses: batch n of size b holds indices
``TRAIN_INDEX + n b ... TRAIN_INDEX + (n + 1) b - 1``, validation holds ``VALIDATION_INDEX + 0 ... val - 1``.
``dataset generate`` numbers its images from 0, so no generated test set shares a scene with training or
validation, whatever its seed.
"""

from __future__ import annotations

import dataclasses
import itertools
import signal
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from neurender.dataset import LoadedDataset, open_dataset
from neurender.errors import NeurenderError
from neurender.presets import Preset, load_mixture
from neurender.raster import render_spheres, render_spheres_uint8
from neurender.sampling import sample_mixture
from neurender.scene import DEFAULT_CAMERA, Camera, encode_params
from neurender.training.config import MAX_VALIDATION_PIXELS

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
        if len(val) * self.resolution ** 2 > MAX_VALIDATION_PIXELS:  # val_images 0: the whole split
            raise NeurenderError(f"{path}'s validation split ({len(val)} images of {self.resolution} px) is more "
                                 f"than training holds in memory ({MAX_VALIDATION_PIXELS:,} pixels): set "
                                 "run.val_images to use part of it")
        if not len(val):  # validation picks best.pt and writes the samples: it needs images
            raise NeurenderError(f"{path} has no validation images (made with --val 0), and training validates on "
                                 "them: generate it with --val above 0, or train on --preset scenes")
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

    def load(self, number: int, size: int, rank: int, world: int) -> tuple[torch.Tensor, ...]:
        """Batch `number`, this process's share, on the CPU: encoded params (b, 10), RGBA (b, R, R, 4) uint8."""
        epoch, k = divmod(number, self.epoch_images(size) // size)
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self.train))
        picks = np.sort(self.train[order[k * size:(k + 1) * size]][rank::world])
        return self.encoded[picks], torch.from_numpy(np.asarray(self.data.images[picks]))

    def finish(self, loaded: tuple[torch.Tensor, ...], device: torch.device) -> tuple[torch.Tensor, ...]:
        """``load``'s output -> encoded params (b, 10), image (b, 3, R, R), mask (b, 1, R, R) on `device`."""
        encoded, rgba = (part.to(device) for part in loaded)
        return (encoded, *_rgba_channels_first(rgba.float().div_(255)))


class OnlineSource:
    """Scenes drawn from a preset, or a mixture of presets, and rendered exactly for every batch: unlimited data,
    no disk."""

    def __init__(self, mixture: list[tuple[Preset, float]], seed: int, val_images: int, resolution: int):
        self.mixture, self.seed, self.resolution = mixture, seed, resolution
        self.camera = DEFAULT_CAMERA
        self.camera_dict = dataclasses.asdict(DEFAULT_CAMERA)
        val_params = self._scenes(VALIDATION_INDEX, val_images)
        self.val_encoded = encode_params(torch.from_numpy(val_params), self.camera)
        self.val_rgba = render_spheres_uint8(torch.from_numpy(val_params), resolution, self.camera).numpy()
        if len(mixture) == 1:
            self.identity = {"preset": mixture[0][0].to_dict(), "seed": seed, "resolution": resolution}
            self.description = f"preset {mixture[0][0].name} (online, seed {seed})"
        else:
            self.identity = {"mixture": [[preset.to_dict(), share] for preset, share in mixture], "seed": seed,
                             "resolution": resolution}
            names = ", ".join(f"{preset.name} {share:.0%}" for preset, share in mixture)
            self.description = f"presets {names} (online, seed {seed})"

    def _scenes(self, first: int, count: int) -> np.ndarray:
        return sample_mixture(self.mixture, self.seed, np.arange(first, first + count), self.resolution, self.camera)

    def epoch_images(self, batch: int) -> int:
        return max(1, ONLINE_EPOCH_IMAGES // batch) * batch

    def fit_scenes(self) -> torch.Tensor:
        return encode_params(torch.from_numpy(self._scenes(TRAIN_INDEX, FIT_SCENES)), self.camera)

    def load(self, number: int, size: int, rank: int, world: int) -> tuple[torch.Tensor]:
        """Batch `number`, this process's share, on the CPU: world-space scene parameters (b, 10) float64."""
        return (torch.from_numpy(self._scenes(TRAIN_INDEX + number * size, size)[rank::world]),)

    def finish(self, loaded: tuple[torch.Tensor], device: torch.device) -> tuple[torch.Tensor, ...]:
        """``load``'s scenes rendered on `device`: encoded params (b, 10), image (b, 3, R, R), mask (b, 1, R, R)."""
        params = loaded[0].to(device)
        with torch.no_grad():
            rgba = render_spheres(params, self.resolution, self.camera)
        return (encode_params(params, self.camera), *_rgba_channels_first(rgba))


class _Loads(torch.utils.data.Dataset):
    """Batch number -> ``source.load`` of it: what a DataLoader worker process computes."""

    def __init__(self, source: DatasetSource | OnlineSource, size: int, rank: int, world: int):
        self.source, self.size, self.rank, self.world = source, size, rank, world

    def __getitem__(self, number: int) -> tuple[torch.Tensor, ...]:
        return self.source.load(number, self.size, self.rank, self.world)


def _leave_interrupts_to_the_trainer(_worker: int) -> None:
    """In a loader process: ignore Ctrl-C and SIGTERM. Both reach the whole process group (a terminal's Ctrl-C,
    ``timeout``, a job's end); the trainer saves its state on them and then shuts its loaders down, which it could
    not do with a loader already dead. A loader still exits when the trainer's process does."""
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, signal.SIG_IGN)


def stream(source: DatasetSource | OnlineSource, first: int, size: int, rank: int, world: int, workers: int
           ) -> Iterator[tuple[torch.Tensor, ...]]:
    """``source.load`` of batches first, first + 1, ... in order: in this process (workers 0), or computed ahead
    by `workers` processes (forked: they share the source's arrays, and never touch the GPU)."""
    loads = _Loads(source, size, rank, world)
    if not workers:
        return (loads[number] for number in itertools.count(first))
    loader = torch.utils.data.DataLoader(loads, batch_size=None, sampler=itertools.count(first), num_workers=workers,
                                         prefetch_factor=4, multiprocessing_context="fork",
                                         worker_init_fn=_leave_interrupts_to_the_trainer,
                                         generator=torch.Generator())  # its worker seeds leave torch's RNG be
    return iter(loader)


def open_source(dataset: str, preset: str, seed: int, val_images: int, resolution: int
                ) -> DatasetSource | OnlineSource:
    """The run's data: a dataset directory, or for online data a preset name / TOML file or a mixture of them
    ("easy:1,default:1", ``presets.load_mixture``); exactly one."""
    if bool(dataset) == bool(preset):
        raise NeurenderError("give exactly one of a dataset and a preset")
    if dataset:
        return DatasetSource(Path(dataset), seed, val_images)
    return OnlineSource(load_mixture(preset), seed, val_images or 256, resolution)
