"""Using a trained renderer: rebuild G_ema from a checkpoint (training state or export) and render scenes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from neurender.dataset.images import MAX_SIDE
from neurender.errors import NeurenderError
from neurender.models.generators import build_generator, generator_options, generator_spec, predict_images
from neurender.scene import Camera, encode_params, scenes_problem
from neurender.shipped import renderer_path
from neurender.training.checkpoint import load_checkpoint
from neurender.training.state import generator_record

MAX_RENDER_BYTES = 8_000_000_000  # float32 images one Renderer.render call returns; more scenes are rendered in parts


@dataclass
class Renderer:
    """A trained generator ready to draw scenes: ``load_renderer(...).render(params)``.

    Its inputs are the 10 world-space scene parameters (tx, ty, tz, r, g, b, shininess, lx, ly, lz; see
    ``layout.PARAM_NAMES``), encoded relative to the camera it was trained with; nothing else.
    """

    generator: torch.nn.Module  # G_ema, eval mode
    resolution: int  # R: it draws R x R images
    camera: Camera  # the camera of its training data
    model: dict  # the model config it was built from (arch, width, ...)
    images_seen: int  # training images behind it, earlier runs included
    # how it was trained: one record per run behind it (``training.state.stage_record``)
    training: list[dict] = field(default_factory=list)

    _sizes: dict = field(default_factory=dict, repr=False, compare=False)  # generators rebuilt at other sizes

    @property
    def run_images(self) -> int:
        """Training images of the run that made it, earlier runs excluded (its last stage; the run's own curves
        count these): ``images_seen`` where it does not say how it was trained."""
        last = self.training[-1].get("images") if self.training else None
        return sum(last.values()) if isinstance(last, dict) else self.images_seen

    def render(self, params: np.ndarray, batch: int = 64, device: str | torch.device = "auto",
               resolution: int | None = None) -> np.ndarray:
        """(N, 10) world-space scene parameters -> (N, S, S, 3) float32 RGB in [0, 1], on the CPU; S is
        `resolution`, by default the renderer's own R (another size: ``generator_at``).
        device: "auto" (CUDA when present), "cpu", "cuda" or a torch.device; batch: scenes per forward pass."""
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise NeurenderError(f"batch must be a positive integer, got {batch!r}")
        size = self.resolution if resolution is None else resolution
        generator = self.generator_at(size)  # checks the size
        try:
            scenes = torch.as_tensor(np.asarray(params, np.float64))
        except (TypeError, ValueError) as e:
            raise NeurenderError(f"params must be numbers of shape (N, 10): {e}") from None
        problem = scenes_problem(scenes)
        if problem is not None:
            raise NeurenderError(problem)
        nbytes = len(scenes) * size * size * 3 * 4
        if nbytes > MAX_RENDER_BYTES:
            raise NeurenderError(f"{len(scenes)} scenes at {size} px are {nbytes / 1e9:.1f} GB of float32 images, "
                                 f"over the {MAX_RENDER_BYTES / 1e9:.0f} GB one call returns: render them in parts")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        encoded = encode_params(scenes, self.camera)
        images = predict_images(generator.to(device), encoded, size, batch, device)
        bad = ~np.isfinite(images).all(axis=(1, 2, 3))
        if bad.any():  # written out, they would be black images that look like a render
            raise NeurenderError(f"the renderer ({self.model['arch']}) drew NaN or infinite values for "
                                 f"{int(bad.sum())} of {len(images)} scenes (the first: scene {int(bad.argmax())})")
        return images

    @property
    def any_resolution(self) -> bool:
        """Whether its generator draws any size (``GeneratorSpec.any_resolution``) or only its own R."""
        return generator_spec(self.model["arch"]).any_resolution

    def generator_at(self, resolution: int) -> torch.nn.Module:
        """The generator drawing `resolution` x `resolution` images: its own at R; for one whose contract says it
        can (``GeneratorSpec.any_resolution``: the fields, ``window``), the same weights built at that size
        (kept for the next call); one NeurenderError for a size out of [8, MAX_SIDE] or a generator with a
        fixed grid (the report's convolutional decoders, ``conv_field``)."""
        if resolution == self.resolution:
            return self.generator
        if isinstance(resolution, bool) or not isinstance(resolution, int) or not 8 <= resolution <= MAX_SIDE:
            raise NeurenderError(f"resolution must be an integer from 8 to {MAX_SIDE} px, got {resolution!r}")
        arch = self.model["arch"]
        if not self.any_resolution:
            raise NeurenderError(f"{arch} draws only the {self.resolution} px grid it was trained on (a "
                                 f"convolutional decoder with a fixed grid); the fields and window draw any size")
        if resolution not in self._sizes:
            options = generator_options(arch, self.model.get("width"), self.model.get("norm"),
                                        self.model.get("options"))
            if "trained_resolution" in options and options["trained_resolution"] is None:
                options["trained_resolution"] = self.resolution  # its terms in pixels keep the training's pixel
            generator = build_generator(arch, resolution, options)
            generator.load_state_dict(self.generator.state_dict())
            self._sizes[resolution] = generator.eval()
        return self._sizes[resolution]


def load_renderer(name_or_path: str | Path) -> Renderer:
    """A shipped renderer by name ("universal", "easy", "default", "gan", "conv"), or G_ema of a training checkpoint
    (latest.pt, best.pt, ...) or of an export (renderer.pt). A file whose checksum holds but whose description does
    not (a hand-made one) is one NeurenderError."""
    path = renderer_path(name_or_path)
    state = load_checkpoint(path)
    try:
        record = generator_record(state)
        model, resolution = record.model, record.resolution
        if not isinstance(resolution, int) or isinstance(resolution, bool) or not 8 <= resolution <= 1024:
            raise ValueError(f"resolution {resolution!r} is not an integer in [8, 1024]")
        try:
            options = generator_options(model["arch"], model.get("width"), model.get("norm"), model.get("options"))
            generator = build_generator(model["arch"], resolution, options)
        except NeurenderError as e:
            raise NeurenderError(f"{path}: the generator does not match its description ({e})") from None
        generator.load_state_dict(record.g_ema)
        camera = Camera.from_dict(record.camera)
        images, training = record.images_seen, record.training
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError, ZeroDivisionError) as e:
        reason = f"no {e}" if isinstance(e, KeyError) else str(e).splitlines()[0]
        raise NeurenderError(f"{path}: the generator does not match its description ({reason})") from None
    return Renderer(generator.eval(), resolution, camera, model, images, training)


def check_matches(renderer: Renderer, camera: Camera, what: str) -> None:
    """A clear error when a checkpoint and a dataset disagree on the camera (sizes: ``Renderer.generator_at``)."""
    if renderer.camera != camera:
        raise NeurenderError(f"the checkpoint was trained with another camera than {what}'s")
