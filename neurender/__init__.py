"""neurender: a toolkit for Phong-scene neural rendering.

The package reads as the pipeline: scene -> raster -> presets -> dataset -> models -> training -> metrics ->
report, with the command line (cli) on top. Each module imports only what lies upstream of it.

The public Python API (docs/python-api.md)::

    import neurender as nr
    scenes = nr.sample_scenes(nr.PRESETS["easy"], seed=1, indices=np.arange(8))   # (8, 10) world-space scenes
    exact = nr.render_spheres(torch.from_numpy(scenes))                             # (8, 128, 128, 4) RGBA
    images = nr.load_renderer("easy").render(scenes)                                # (8, 128, 128, 3) RGB
    record = nr.evaluate(exact.numpy(), images)                                     # metrics.json's record
    run = nr.train(nr.load_config("configs/conv/warmup.toml"), out="runs/mine", stop_after_s=600)

Its names are imported on first use, so that ``import neurender`` (and the command line) starts without torch.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_PUBLIC = {  # name -> the module that defines it
    "load_renderer": "neurender.inference", "Renderer": "neurender.inference",
    "SHIPPED": "neurender.shipped",
    "render_spheres": "neurender.raster",
    "sample_scenes": "neurender.sampling", "load_preset": "neurender.presets", "PRESETS": "neurender.presets",
    "Camera": "neurender.scene", "DEFAULT_CAMERA": "neurender.scene", "PARAM_NAMES": "neurender.layout",
    "METRICS": "neurender.metrics.registry",
    "load_config": "neurender.training.config", "train": "neurender.training.api",
    "NeurenderError": "neurender.errors",
}
_RENAMED = {"evaluate": ("neurender.report.evaluation", "evaluate_images")}
__all__ = [  # noqa: RUF022 (in the pipeline's order, not sorted)
    "__version__", "load_renderer", "Renderer", "SHIPPED", "render_spheres", "sample_scenes", "load_preset", "PRESETS",
    "Camera", "DEFAULT_CAMERA", "PARAM_NAMES", "load_config", "train", "METRICS", "NeurenderError", "evaluate"]


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
    elif name in _RENAMED:
        module, attribute = _RENAMED[name]
        value = getattr(importlib.import_module(module), attribute)
    else:
        raise AttributeError(f"module 'neurender' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
