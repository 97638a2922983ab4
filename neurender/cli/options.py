"""Option types shared by the commands."""

from __future__ import annotations

import math
import re
from pathlib import Path

import click

from neurender.errors import NeurenderError
from neurender.models.registry import GENERATORS
from neurender.presets import MAX_SEED, PRESETS, mixture_parts
from neurender.shipped import DEFAULT_RENDERER, SHIPPED, renderer_path


class FiniteFloat(click.FloatRange):
    """A FloatRange that also refuses nan and inf (which compare false with every bound and slip through)."""

    name = "finite float"

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


class PresetName(click.ParamType):
    """A preset: one of presets.PRESETS, or a TOML file that exists (its contents are checked when loaded)."""

    name = "preset"

    def convert(self, value, param, ctx):
        if value in PRESETS:
            return value
        if not str(value).endswith(".toml"):
            self.fail(f"unknown preset {value!r}: use {', '.join(PRESETS)} or a .toml file", param, ctx)
        if Path(value).is_dir():
            self.fail(f"{value} is a folder, not a preset file", param, ctx)
        if not Path(value).is_file():
            self.fail(f"{value}: no such preset file", param, ctx)
        return str(value)


PRESET = PresetName()


class PresetMixture(PresetName):
    """Online training data: a PRESET, or a mixture of them with their shares ("easy:1,default:1")."""

    name = "preset[:share,...]"

    def convert(self, value, param, ctx):
        try:
            parts = mixture_parts(str(value))
        except NeurenderError as e:
            self.fail(str(e), param, ctx)
        for name, _ in parts:
            super().convert(name, param, ctx)
        return str(value)


MIXTURE = PresetMixture()


class ArchName(click.ParamType):
    """--arch: a registered generator (models.registry.GENERATORS), or package.module:Class for one of your own
    (imported when the run is built; docs/generators.md)."""

    name = "arch"

    def convert(self, value, param, ctx):
        if value in GENERATORS or re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", value):
            return value
        self.fail(f"{value!r} is not one of {', '.join(GENERATORS)}, nor package.module:Class", param, ctx)


ARCH = ArchName()
EXISTING = click.Path(exists=True, path_type=Path)  # an input: checked before the command starts


def preset_list(value: str, option: str = "--presets") -> list[str]:
    """A comma-separated list of presets, each a PRESET; a click.BadParameter otherwise."""
    names = [p.strip() for p in value.split(",") if p.strip()]
    if not names:
        raise click.BadParameter("give at least one preset, e.g. easy,default", param_hint=option)
    for name in names:
        try:
            PRESET.convert(name, None, None)
        except click.BadParameter as e:
            raise click.BadParameter(e.message, param_hint=option) from None
    return names


RESOLUTION = click.IntRange(8, 2048)  # image sides: dataset.images.MAX_SIDE, the largest the readers take
SEED = click.IntRange(0, MAX_SEED)  # every command's --seed


def seed_list(value: str, option: str = "--seeds") -> list[int]:
    """A comma-separated list of distinct seeds, each in SEED's range (no empty items: '1,,2' is a seed left out);
    a click.BadParameter otherwise."""
    try:
        seeds = [int(s) for s in value.split(",")]
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of integers", param_hint=option) \
            from None
    if min(seeds) < 0 or max(seeds) > MAX_SEED or len(set(seeds)) != len(seeds):
        raise click.BadParameter(f"give distinct seeds from 0 to {MAX_SEED}, e.g. 1,2,3", param_hint=option)
    return seeds


class RendererFile(click.ParamType):
    """--checkpoint: a shipped renderer's name (universal, easy, default, gan, conv) or a renderer file (renderer.pt, a
    training checkpoint); converted to the file's path, which must exist (checked before torch is imported)."""

    name = "renderer"

    def convert(self, value, param, ctx):
        try:
            path = renderer_path(value)
        except NeurenderError as e:
            self.fail(str(e), param, ctx)
        if path.is_dir():
            self.fail(f"{value} is a folder, not a renderer file (its renderer.pt, say)", param, ctx)
        if not path.is_file():
            self.fail(f"{value}: no such file (give a renderer.pt, a training checkpoint, or a shipped renderer: "
                      f"{', '.join(SHIPPED)})", param, ctx)
        return path


RENDERER = RendererFile()
RENDERER_HELP = (f"a trained renderer: {', '.join(SHIPPED)} (shipped), or a renderer.pt or training checkpoint; "
                 f"{DEFAULT_RENDERER} draws every scene the camera sees")
