"""The generator contract, and building generators by name (``models.registry.GENERATORS``).

A generator is an ``nn.Module`` built by ``factory(resolution, **options)`` (a class, or a registered function
that names the class it builds in its return annotation); every option is a keyword with a default, set from a
config's [model] table (width, norm, options) and stored in checkpoints. ``forward(params)`` takes (B, N_PARAMS)
encoded scenes (``scene.encode_params``) to (B, 3, R, R) RGB in [0, 1]. An optional ``param_norm``
(``blocks.ParamNorm``) is fitted by the trainer on the training scenes. What else it can do it states once, as
attributes of its class (``CAPABILITIES``), a plug-in exactly as a built-in:

- ``samples_pixels``: ``forward(params, pixels)`` with (B, P) flat pixel indices returns colour (B, P, 3) and
  coverage logits (B, P), so the warm-up may train it on sampled pixels;
- ``renders_crops``: ``forward(params, origin, size)`` with (B, 2) int64 top-left pixels (row, column) returns
  colour (B, S*S, 3) and logits (B, S*S) of the S x S windows, row by row, equal to those pixels of the whole
  frame, so every phase may train it on crops (D's coordinate maps are the windows' pixel centres,
  ``blocks.window_points``);
- ``any_resolution``: its weights draw any R x R when built at R (per-pixel coordinates, no fixed grid);
- ``family``: generators of one family share their trunk's weights, so ``init_from`` may start one from another.
"""

from __future__ import annotations

import contextlib
import inspect
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from neurender.errors import NeurenderError
from neurender.models.registry import GENERATORS
from neurender.registry import first_line

CAPABILITIES = {"samples_pixels": False, "renders_crops": False, "any_resolution": False, "family": None}


@dataclass(frozen=True)
class GeneratorSpec:
    """A generator's factory and what its class states it can do (``CAPABILITIES``, absent ones at their
    defaults)."""

    factory: Callable[..., nn.Module]

    @property
    def built(self) -> type:
        """The class the factory builds: the factory itself, or its return annotation."""
        if inspect.isclass(self.factory):
            return self.factory
        return typing.get_type_hints(self.factory)["return"]

    def _capability(self, name: str):
        return getattr(self.built, name, CAPABILITIES[name])

    @property
    def samples_pixels(self) -> bool:
        return bool(self._capability("samples_pixels"))

    @property
    def renders_crops(self) -> bool:
        return bool(self._capability("renders_crops"))

    @property
    def any_resolution(self) -> bool:
        return bool(self._capability("any_resolution"))

    @property
    def family(self) -> str | None:
        family = self._capability("family")
        return family if isinstance(family, str) else None

    @property
    def options(self) -> dict:
        """The factory's keyword arguments and their defaults (all but the resolution)."""
        parameters = list(inspect.signature(self.factory).parameters.values())[1:]
        return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}

    @property
    def option_types(self) -> dict[str, tuple[type, ...]]:
        """The types each option accepts, from the factory's annotations (``float | None``: float, int, None),
        else from its default's type; options with neither are absent."""
        try:
            parameters = inspect.signature(self.factory, eval_str=True).parameters
        except (NameError, TypeError, AttributeError, SyntaxError):  # a user's annotations that do not resolve:
            parameters = inspect.signature(self.factory).parameters  # strings, which fall back to the defaults
        accepted = {name: _accepted_types(parameters[name].annotation, default)
                    for name, default in self.options.items()}
        return {name: kinds for name, kinds in accepted.items() if kinds}


def _accepted_types(hint, default) -> tuple[type, ...]:
    """What an option annotated `hint` (or, without a usable one, defaulting to `default`) may be set to: an int
    where a float goes, a list where a tuple goes."""
    parts = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    kinds = tuple(typing.get_origin(p) or p for p in parts)
    if hint is inspect.Parameter.empty or not all(isinstance(k, type) for k in kinds):
        kinds = (type(default),) if default is not None else ()
    return kinds + ((int,) if float in kinds else ()) + ((list,) if tuple in kinds else ())


def generator_spec(arch: str) -> GeneratorSpec:
    """A registered architecture's spec, or for "package.module:Class" one read from the class. The module must be
    listed in $NEURENDER_PLUGINS (refused before it is imported otherwise; ``registry.allowed_plugin``) and
    importable (e.g. with its folder on PYTHONPATH), and the attribute an ``nn.Module`` subclass (refused before it
    is called otherwise)."""
    return GeneratorSpec(GENERATORS.get(arch))


def _check_option_type(arch: str, name: str, value, accepted: tuple[type, ...] | None) -> None:
    """A NeurenderError unless `value` is one of the `accepted` types (a bool is never taken for a number)."""
    if accepted is None:
        return
    if isinstance(value, bool) and bool not in accepted or not isinstance(value, accepted):
        names = " or ".join(dict.fromkeys("none" if t is type(None) else "a number" if t is float else t.__name__
                                          for t in accepted if not (t is int and float in accepted)))
        raise NeurenderError(f"{arch} option {name} must be {names}, got {value!r}")


def generator_options(arch: str, width: int | None = None, norm: str | None = None,
                      options: dict | None = None) -> dict:
    """The keyword arguments `arch` is built with: its defaults, then [model] width and norm where it has those
    options (other generators take no norm), then [model] options. An option it does not have, or a value of a
    type it does not take (``GeneratorSpec.option_types``), is a NeurenderError."""
    spec = generator_spec(arch)
    known = spec.options
    unknown = sorted(set(options or {}) - set(known))
    if unknown:
        raise NeurenderError(f"{arch} has no option {', '.join(unknown)}; its options: {', '.join(known) or 'none'}")
    accepted = spec.option_types
    for name, value in (options or {}).items():
        _check_option_type(arch, name, value, accepted.get(name))
    shorthands = {k: v for k, v in (("width", width), ("norm", norm)) if v is not None and k in known}
    return {**known, **shorthands, **(options or {})}


def _check_output(arch: str, call: str, out, shapes: tuple[tuple[int, ...], ...]) -> None:
    """One NeurenderError unless `out` is the tensor (or tuple of tensors) of the given shapes, floating point and
    finite, and an image (one tensor) in [0, 1]."""
    values = out if isinstance(out, tuple) and len(shapes) > 1 else (out,)
    expected = " and ".join(f"({', '.join(map(str, shape))})" for shape in shapes)
    if len(values) != len(shapes) or not all(isinstance(v, torch.Tensor) for v in values):
        got = f"a tuple of {len(out)}" if isinstance(out, tuple) else type(out).__name__
        raise NeurenderError(f"{arch}: {call} returned {got}, not {expected} tensor(s) (docs/generators.md)")
    for value, shape in zip(values, shapes, strict=True):
        if tuple(value.shape) != shape:
            raise NeurenderError(f"{arch}: {call} returned shape {tuple(value.shape)}, expected {shape}")
        if not value.is_floating_point():
            raise NeurenderError(f"{arch}: {call} returned {value.dtype}, expected a floating-point tensor")
        if not torch.isfinite(value).all():
            raise NeurenderError(f"{arch}: {call} returned NaN or infinite values on fresh weights")
    if len(shapes) == 1 and not 0 <= values[0].min() <= values[0].max() <= 1:
        raise NeurenderError(f"{arch}: {call} returned values outside [0, 1] "
                             f"({values[0].min().item():.3g} to {values[0].max().item():.3g}): clamp its RGB")


def check_contract(arch: str, generator: nn.Module, params: torch.Tensor, resolution: int, pixels: int = 0,
                   crop: int = 0) -> None:
    """The generator contract on one batch, before a run makes anything: ``generator`` has parameters to train,
    and without gradients in eval mode ``forward(params)`` on params (B, 10) returns (B, 3, R, R) floating-point
    values in [0, 1]; with ``pixels`` > 0, ``forward(params, indices)`` returns colour (B, pixels, 3) and logit
    (B, pixels); with ``crop`` > 0, ``forward(params, origin, crop)`` returns (B, crop^2, 3) and (B, crop^2); all
    finite. The
    generator's mode and the random generators' states are as they were. A broken clause (or any exception
    raised) is one NeurenderError that names `arch`."""
    if not any(p.requires_grad for p in generator.parameters()):
        raise NeurenderError(f"{arch} has no parameters to train (docs/generators.md)")
    b, device = len(params), params.device
    calls = [("forward(params)", (params,), ((b, 3, resolution, resolution),))]
    if pixels:
        indices = torch.arange(pixels, device=device).expand(b, -1) % (resolution * resolution)
        calls.append(("forward(params, pixels)", (params, indices), ((b, pixels, 3), (b, pixels))))
    if crop:
        origin = torch.zeros(b, 2, dtype=torch.long, device=device)
        calls.append(("forward(params, origin, size)", (params, origin, crop), ((b, crop * crop, 3), (b, crop * crop))))
    with probing(generator, device):
        for call, args, shapes in calls:
            try:
                out = generator(*args)
            except Exception as e:  # a user's code: whatever it raises is one line
                raise NeurenderError(f"{arch}: {call} failed on a batch of {b}: {first_line(e)}") from None
            _check_output(arch, call, out, shapes)


@contextlib.contextmanager
def probing(model: nn.Module, device: torch.device) -> Iterator[None]:
    """Calls of `model` that leave no trace: eval mode (no batch statistics updated) and no gradients inside, the
    model's mode and the random generators' states (CPU, and `device`'s if CUDA) as they were after."""
    training, cuda = model.training, [device.index or 0] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=cuda), torch.no_grad():
            model.eval()
            yield
    finally:
        model.train(training)


@torch.no_grad()
def predict_images(generator: nn.Module, encoded: torch.Tensor, resolution: int, batch: int = 64,
                   device: str | torch.device = "cpu") -> np.ndarray:
    """A generator's images of encoded scenes in batches, without gradients: (N, 10) -> (N, R, R, 3) float32 in
    [0, 1] on the CPU, R = resolution."""
    out = [generator(encoded[s:s + batch].to(device)).float().permute(0, 2, 3, 1).cpu().numpy()
           for s in range(0, len(encoded), batch)]
    return np.concatenate(out) if out else np.zeros((0, resolution, resolution, 3), np.float32)


def build_generator(arch: str, resolution: int, options: dict | None = None) -> nn.Module:
    """A generator by registry name (or "package.module:Class") with the given keyword arguments (missing ones
    take the factory's defaults). A factory that refuses them is one NeurenderError."""
    spec = generator_spec(arch)
    yours = arch not in GENERATORS  # a plug-in's constructor: whatever it raises is one line
    try:
        return spec.factory(resolution, **(options or {}))
    except (TypeError, ValueError) as e:
        raise NeurenderError(f"cannot build {arch} at {resolution} px with {options}: {e}") from None
    except Exception as e:
        if not yours:
            raise
        raise NeurenderError(f"cannot build {arch} at {resolution} px with {options}: {first_line(e)}") from None
