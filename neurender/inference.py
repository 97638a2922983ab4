"""Using a trained renderer: rebuild G_ema from a checkpoint (training state or export) and render scenes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from neurender.errors import NeurenderError
from neurender.models.generators import build_generator, generator_options, predict_images
from neurender.scene import Camera, encode_params
from neurender.shipped import renderer_path
from neurender.training.checkpoint import load_checkpoint
from neurender.training.state import stage_record


@dataclass
class Renderer:
    """A trained generator ready to draw scenes: ``load_renderer(...).render(params)``.

    Its inputs are the 10 world-space scene parameters (tx, ty, tz, r, g, b, shininess, lx, ly, lz; see
    ``scene.PARAM_NAMES``), encoded relative to the camera it was trained with; nothing else.
    """

    generator: torch.nn.Module  # G_ema, eval mode
    resolution: int  # R: it draws R x R images
    camera: Camera  # the camera of its training data
    model: dict  # the model config it was built from (arch, width, ...)
    images_seen: int  # training images behind it, earlier runs included
    # how it was trained: one record per run behind it (``training.state.stage_record``)
    training: list[dict] = field(default_factory=list)

    def render(self, params: np.ndarray, batch: int = 64, device: str | torch.device = "auto") -> np.ndarray:
        """(N, 10) world-space scene parameters -> (N, R, R, 3) float32 RGB in [0, 1], on the CPU.
        device: "auto" (CUDA when present), "cpu", "cuda" or a torch.device; batch: scenes per forward pass."""
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        encoded = encode_params(torch.from_numpy(np.asarray(params, np.float64)), self.camera)
        return predict_images(self.generator.to(device), encoded, self.resolution, batch, device)


def load_renderer(name_or_path: str | Path) -> Renderer:
    """A shipped renderer by name ("universal", "easy", "default", "gan"), or G_ema of a training checkpoint (latest.pt,
    best.pt, ...) or of an export (renderer.pt). A file whose checksum holds but whose description does not (a
    hand-made one) is one NeurenderError."""
    path = renderer_path(name_or_path)
    state = load_checkpoint(path)
    try:
        model = state["config"]["model"] if "config" in state else state["model"]
        resolution = state["resolution"]
        if not isinstance(resolution, int) or isinstance(resolution, bool) or not 8 <= resolution <= 1024:
            raise ValueError(f"resolution {resolution!r} is not an integer in [8, 1024]")
        try:
            options = generator_options(model["arch"], model.get("width"), model.get("norm"), model.get("options"))
            generator = build_generator(model["arch"], resolution, options)
        except NeurenderError as e:
            raise NeurenderError(f"{path}: the generator does not match its description ({e})") from None
        generator.load_state_dict(state["g_ema"])
        camera = Camera.from_dict(state["camera"])
        if "counters" in state:
            images = state["counters"]["images"]
            training = [*state["counters"].get("lineage", []), stage_record(state["config"], images)]
        else:
            images, training = state["images_seen"], state.get("training", [])
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError, ZeroDivisionError) as e:
        reason = f"no {e}" if isinstance(e, KeyError) else str(e).splitlines()[0]
        raise NeurenderError(f"{path}: the generator does not match its description ({reason})") from None
    return Renderer(generator.eval(), resolution, camera, model, images, training)


def check_matches(renderer: Renderer, resolution: int, camera: Camera, what: str) -> None:
    """A clear error when a checkpoint and a dataset disagree on resolution or camera."""
    if renderer.resolution != resolution:
        raise NeurenderError(f"the checkpoint renders {renderer.resolution} px but {what} is {resolution} px")
    if renderer.camera != camera:
        raise NeurenderError(f"the checkpoint was trained with another camera than {what}'s")
