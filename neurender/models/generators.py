"""The generators, by name. Input: (B, 10) normalised relative parameters (``scene.encode_params``); output:
(B, 3, R, R) RGB in [0, 1] (a linear output clamped, see ``blocks.clamp_unit``). Widths halve at each doubling
of resolution, from `width` channels at 4x4."""

from __future__ import annotations

import contextlib
import importlib
import inspect
import itertools
import math
import os
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from neurender.errors import NeurenderError
from neurender.models.blocks import (
    N_PARAMS,
    CSPUp,
    FiLM,
    ParamNorm,
    ParamsToMap,
    clamp_unit,
    conv_block,
    norm_layer,
    param_embedding,
)
from neurender.models.conv_field import conv_field
from neurender.models.field import Q_LIMIT, R2_LIMIT, field, phong_field, sphere_projection
from neurender.models.window import window
from neurender.scene import AMBIENT, DEFAULT_CAMERA, encoded_diffuse, pixel_centres_ndc, ray_directions


def stage_channels(resolution: int, width: int, minimum: int = 16) -> list[int]:
    """Channels at 4x4, 8x8, ..., resolution: width, width/2, ..., never below `minimum`."""
    stages = int(math.log2(resolution // 4))
    if resolution < 8 or 4 * 2 ** stages != resolution:
        raise ValueError(f"resolution must be a power of two >= 8, got {resolution}")
    return [max(minimum, width >> i) for i in range(stages + 1)]


class AddCoords(nn.Module):
    """CoordConv's input: the pixel centres' coordinates as two more channels, (B, C, H, W) -> (B, C + 2, H, W),
    column and row each in (-1, 1), the same grid at every resolution (so a stage can place what it draws)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        rows = (torch.arange(h, device=x.device, dtype=x.dtype) + 0.5) * (2 / h) - 1
        cols = (torch.arange(w, device=x.device, dtype=x.dtype) + 0.5) * (2 / w) - 1
        grid = torch.stack(torch.meshgrid(cols, rows, indexing="xy"))  # (2, H, W): column, row
        return torch.cat([x, grid.expand(b, -1, -1, -1)], dim=1)


def add_sphere_frame(x: torch.Tensor, centre: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
    """A frame that follows the sphere, as three more channels: (B, C, H, W) -> (B, C + 3, H, W), each pixel
    centre's NDC coordinates p (x right, y up) relative to the projection of the sphere's centre in units of its
    apparent radius, ``q = (p - centre) / radius`` (clamped to +-Q_LIMIT), and ``|q|^2`` (clamped to R2_LIMIT).
    centre (B, 2) and radius (B, 1) are ``field.sphere_projection``'s, fixed functions of the parameters: the
    field's frame before its learned corrections. The outline of a sphere near the optical axis is close to
    ``|q|^2 = 1``, the rest of the frame a perspective's stretch of it, which the convolutions learn."""
    b, _, h, w = x.shape
    cols = pixel_centres_ndc(w).to(x.device, x.dtype)
    rows = -pixel_centres_ndc(h).to(x.device, x.dtype)  # row 0 is the top: y up
    qx = ((cols[None, :] - centre[:, :1]) / radius)[:, None, None, :].expand(b, 1, h, w)  # (B, 1, H, W)
    qy = ((rows[None, :] - centre[:, 1:]) / radius)[:, None, :, None].expand(b, 1, h, w)
    r2 = (qx * qx + qy * qy).clamp(max=R2_LIMIT)
    return torch.cat([x, qx.clamp(-Q_LIMIT, Q_LIMIT), qy.clamp(-Q_LIMIT, Q_LIMIT), r2], dim=1)


def extra_channels(coords: bool, frame: bool) -> int:
    """Input channels a stage gets beyond the last one's output: 2 image coordinates, 3 of the sphere's frame."""
    return 2 * coords + 3 * frame


SHADINGS = ("free", "phong")  # what the last convolution's three channels are: RGB, or Phong's three terms
FILM_EMBEDDING = 128  # width of the parameter embedding that FiLM reads


class _Upsampling(nn.Module):
    """MLP to a 4x4 map, a list of x2 stages, then a 3x3 convolution to three channels, clamped to [0, 1]. With
    `coords`, every stage and the last convolution also see the pixel coordinates (``AddCoords``); with `frame`,
    the coordinates in a frame that follows the sphere (``add_sphere_frame``, before ``AddCoords``' two); the
    stages were built for those 2 and 3 more input channels.

    `shading`: "free" reads the three channels as RGB; "phong" reads them as an ambient weight w, a diffuse factor
    a and a specular term s and composes them the way the scene's shading does, ``AMBIENT w + kd a + s`` with kd
    the scene's diffuse colour (a decoding of the input), so the network draws one shading and the colour comes
    from the parameters. With `film`, each stage's output is modulated by an embedding of the parameters
    (``blocks.FiLM``, a no-op at the start), so a scene can scale what a stage draws where, coordinates included.
    Weights are kept channels-last (about 20% faster convolutions on the CPU)."""

    def __init__(self, channels: list[int], stages: list[nn.Module], coords: bool = False, shading: str = "free",
                 film: bool = False, frame: bool = False):
        super().__init__()
        if shading not in SHADINGS:
            raise ValueError(f"shading must be one of {', '.join(SHADINGS)}, got {shading!r}")
        extra = extra_channels(coords, frame)
        self.shading, self.film, self.frame = shading, film, frame
        self.param_norm = ParamNorm()
        self.start = ParamsToMap(channels[0])
        self.stages = nn.Sequential(*[nn.Sequential(AddCoords(), s) if coords else s for s in stages])
        self.to_rgb = nn.Sequential(AddCoords(), nn.Conv2d(channels[-1] + extra, 3, 3, padding=1)) if coords \
            else nn.Conv2d(channels[-1] + extra, 3, 3, padding=1)
        if film:
            self.embed = param_embedding(FILM_EMBEDDING)
            self.films = nn.ModuleList(FiLM(FILM_EMBEDDING, c) for c in channels[1:])
        self.to(memory_format=torch.channels_last)

    def forward(self, params: torch.Tensor) -> torch.Tensor:
        params_n = self.param_norm(params)
        x = self.start(params_n)
        sphere = sphere_projection(params, DEFAULT_CAMERA.tan_half_fov) if self.frame else None
        e = self.embed(params_n) if self.film else None
        for i, stage in enumerate(self.stages):
            x = stage(x if sphere is None else add_sphere_frame(x, *sphere))
            if e is not None:
                x = self.films[i](x, e)
        out = self.to_rgb(x if sphere is None else add_sphere_frame(x, *sphere))
        if self.shading == "phong":
            ambient, diffuse, specular = out.unsqueeze(2).unbind(1)  # each (B, 1, H, W)
            kd = encoded_diffuse(params)[:, :, None, None]  # (B, 3, 1, 1)
            out = AMBIENT * ambient + kd * diffuse + specular
        return clamp_unit(out)


def upsample(resolution: int, width: int, norm: str, coords: bool, shading: str, film: bool,
             frame: bool) -> nn.Module:
    """The report's baseline: nearest-neighbour upsampling + one 3x3 convolution per stage."""
    ch, extra = stage_channels(resolution, width), extra_channels(coords, frame)
    return _Upsampling(ch, [nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), conv_block(a + extra, b, norm))
                            for a, b in itertools.pairwise(ch)], coords, shading, film, frame)


def deconv(resolution: int, width: int, norm: str, coords: bool, shading: str, film: bool,
           frame: bool) -> nn.Module:
    """The report's model 2: transposed convolutions (kernel 4, stride 2) with normalisation."""
    ch, extra = stage_channels(resolution, width), extra_channels(coords, frame)
    return _Upsampling(ch, [nn.Sequential(nn.ConvTranspose2d(a + extra, b, 4, stride=2, padding=1, bias=norm == "none"),
                                          norm_layer(norm, b), nn.LeakyReLU(0.2, inplace=True))
                            for a, b in itertools.pairwise(ch)], coords, shading, film, frame)


def hybrid(resolution: int, width: int, norm: str, coords: bool, shading: str, film: bool,
           frame: bool) -> nn.Module:
    """The report's best: bilinear upsampling + two 3x3 convolutions per stage."""
    ch, extra = stage_channels(resolution, width), extra_channels(coords, frame)
    return _Upsampling(ch, [nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                                          conv_block(a + extra, b, norm), conv_block(b, b, norm))
                            for a, b in itertools.pairwise(ch)], coords, shading, film, frame)


def cspup(resolution: int, width: int, norm: str, coords: bool, shading: str, film: bool,
          frame: bool) -> nn.Module:
    """A stack of CSPup blocks (two other reports' generator)."""
    ch, extra = stage_channels(resolution, width), extra_channels(coords, frame)
    return _Upsampling(ch, [CSPUp(a + extra, b, norm) for a, b in itertools.pairwise(ch)], coords, shading, film, frame)


def _report(factory, coords: bool):
    """The report's generator as the report built it, or with CoordConv added (``AddCoords`` before every stage
    and the RGB convolution: the smallest change that lets a stage know where it draws)."""
    def build(resolution: int, width: int = 256, norm: str = "batch", shading: str = "free",
              film: bool = False, frame: bool = False) -> nn.Module:
        return factory(resolution, width, norm, coords, shading, film, frame)
    build.__name__ = f"{factory.__name__}_coord" if coords else factory.__name__
    build.__doc__ = f"{factory.__doc__}{' With coordinate channels at every stage (CoordConv).' if coords else ''}"
    return build


class CoordGenerator(nn.Module):
    """Every pixel sees its own camera-ray direction and the scene: a per-pixel network (1x1 convolutions with
    FiLM from a parameter embedding) followed by two 3x3 convolutions that smooth across neighbours.

    The ray directions are the camera's (``scene.ray_directions``) in the same view space as the encoded
    sphere and light positions, so where the sphere lands is a function the network can represent directly.
    """

    def __init__(self, resolution: int, width: int = 32, depth: int = 3, embedding: int = 128,
                 frequencies: int = 4):
        super().__init__()
        self.param_norm = ParamNorm()
        rays = ray_directions(DEFAULT_CAMERA, resolution).view(3, resolution, resolution)
        bands = [rays] + [f(rays * math.pi * 2 ** k) for k in range(frequencies) for f in (torch.sin, torch.cos)]
        self.register_buffer("coords", torch.cat(bands)[None], persistent=False)
        self.embed = param_embedding(embedding)
        c_in = self.coords.shape[1] + N_PARAMS
        self.layers = nn.ModuleList(nn.Conv2d(c_in if i == 0 else width, width, 1) for i in range(depth))
        self.films = nn.ModuleList(FiLM(embedding, width) for _ in range(depth))
        self.smooth = nn.Sequential(nn.Conv2d(width, 16, 3, padding=1), nn.LeakyReLU(0.2, inplace=True),
                                    nn.Conv2d(16, 3, 3, padding=1))


    def forward(self, params: torch.Tensor) -> torch.Tensor:
        params = self.param_norm(params)
        b = params.shape[0]
        _, _, h, w = self.coords.shape
        x = torch.cat([self.coords.expand(b, -1, -1, -1), params[:, :, None, None].expand(-1, -1, h, w)], dim=1)
        e = self.embed(params)
        for layer, film in zip(self.layers, self.films, strict=True):
            x = nn.functional.leaky_relu(film(layer(x), e), 0.2)
        return clamp_unit(self.smooth(x))


@dataclass(frozen=True)
class GeneratorSpec:
    """One architecture and what it can do: the written contract of every generator (docs/generators.md).

    ``factory(resolution, **options)`` builds it; every option is a keyword with a default (``options`` reads them
    from the signature), set from a config's [model] table (width, norm, options) and stored in checkpoints.
    ``forward(params)`` takes (B, 10) encoded scenes (``scene.encode_params``) to (B, 3, R, R) RGB in [0, 1]. An
    optional ``param_norm`` (``blocks.ParamNorm``) is fitted by the trainer on the training scenes.
    """

    factory: Callable[..., nn.Module]
    samples_pixels: bool = False  # forward(params, pixels): (B, P) pixel indices -> colour (B, P, 3), logit (B, P)
    renders_crops: bool = False  # forward(params, origin, size): a window's colour (B, S*S, 3) and logit (B, S*S)
    trunk: str | None = None  # specs with the same trunk: init_from may start one from the other
    any_resolution: bool = False  # its weights draw any R x R when built at R (per-pixel coordinates, no fixed grid)

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


PLUGINS_ENV = "NEURENDER_PLUGINS"  # the plug-in modules a run or a checkpoint may import (allowed_plugin)

_REPORT = {"upsample": upsample, "deconv": deconv, "hybrid": hybrid, "cspup": cspup}
REPORT_GENERATORS = {**{name: _report(f, False) for name, f in _REPORT.items()},
                     **{f"{name}_coord": _report(f, True) for name, f in _REPORT.items()}}
GENERATORS: dict[str, GeneratorSpec] = {
    **{name: GeneratorSpec(factory) for name, factory in REPORT_GENERATORS.items()},
    "coord": GeneratorSpec(CoordGenerator),
    "field": GeneratorSpec(field, samples_pixels=True, trunk="field", any_resolution=True),
    "phong_field": GeneratorSpec(phong_field, samples_pixels=True, trunk="field", any_resolution=True),
    "conv_field": GeneratorSpec(conv_field, renders_crops=True, trunk="field"),
    "window": GeneratorSpec(window, any_resolution=True),
}


def allowed_plugin(module: str) -> bool:
    """Whether $NEURENDER_PLUGINS (comma-separated module or package names) lists `module` or a package above it:
    the only plug-in modules neurender imports, since importing one runs its code and checkpoints name them."""
    listed = [name.strip() for name in os.environ.get(PLUGINS_ENV, "").split(",") if name.strip()]
    return any(module == name or module.startswith(name + ".") for name in listed)


def generator_spec(arch: str) -> GeneratorSpec:
    """A registered architecture's spec, or for "package.module:Class" one read from the class: its constructor,
    and its ``samples_pixels`` / ``renders_crops`` / ``any_resolution`` attributes where it has them. The module
    must be listed in $NEURENDER_PLUGINS (``allowed_plugin``; refused before it is imported otherwise) and
    importable (e.g. with its folder on PYTHONPATH), and the attribute an ``nn.Module`` subclass (refused before it
    is called otherwise)."""
    if arch in GENERATORS:
        return GENERATORS[arch]
    module, sep, name = arch.partition(":")
    if not sep or not module or not name:
        raise NeurenderError(f"unknown architecture {arch!r}; known: {', '.join(GENERATORS)}, or "
                             "package.module:Class for your own (docs/generators.md)")
    if not allowed_plugin(module):  # a checkpoint names its arch: loading one must not import a module unasked
        raise NeurenderError(f"{arch} is a plug-in generator, and importing {module!r} runs its code: neurender "
                             f"imports only the modules listed in ${PLUGINS_ENV}; if you trust it, set "
                             f"{PLUGINS_ENV}={module} (docs/generators.md)")
    try:
        imported = importlib.import_module(module)
    except ImportError as e:
        raise NeurenderError(f"cannot import {module!r} for --arch {arch}: {e} (is its folder on PYTHONPATH?)") \
            from None
    except (Exception, SystemExit) as e:  # a user's module: whatever it raises or exits with is one line
        raise NeurenderError(f"importing {module!r} for --arch {arch} failed: {_first_line(e)}") from None
    factory = getattr(imported, name, None)
    if factory is None:
        raise NeurenderError(f"{module!r} has no {name!r} (--arch {arch})")
    if not (inspect.isclass(factory) and issubclass(factory, nn.Module)):  # checked before anything is called:
        # a checkpoint names its arch, and a name like os:_exit must never run
        raise NeurenderError(f"{arch} is not a generator class (a torch.nn.Module subclass, docs/generators.md)")
    return GeneratorSpec(factory, bool(getattr(factory, "samples_pixels", False)),
                         bool(getattr(factory, "renders_crops", False)),
                         any_resolution=bool(getattr(factory, "any_resolution", False)))


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


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


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
                raise NeurenderError(f"{arch}: {call} failed on a batch of {b}: {_first_line(e)}") from None
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
        raise NeurenderError(f"cannot build {arch} at {resolution} px with {options}: {_first_line(e)}") from None
