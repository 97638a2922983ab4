"""Option types shared by the commands."""

from __future__ import annotations

import math

import click

from neurender.errors import NeurenderError
from neurender.shipped import SHIPPED, renderer_path


class FiniteFloat(click.FloatRange):
    """A FloatRange that also refuses nan and inf (which compare false with every bound and slip through)."""

    name = "finite float"

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


class LazyChoice(click.Choice):
    """A Choice whose names come from a registry that is imported only when they are needed (checking a
    value, or a command's own --help), so that the command line starts without torch."""

    def __init__(self, names):
        self._names = names  # () -> iterable of names
        self.case_sensitive = True

    @property
    def choices(self):
        return tuple(self._names())


MAX_SEED = 2**63 - 1  # numpy's and torch's generators take seeds up to here
SEED = click.IntRange(0, MAX_SEED)  # every command's --seed


def seed_list(value: str, option: str = "--seeds") -> list[int]:
    """A comma-separated list of distinct seeds, each in SEED's range; a click.BadParameter otherwise."""
    try:
        seeds = [int(s) for s in value.split(",") if s.strip()]
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of integers", param_hint=option) \
            from None
    if not seeds or min(seeds) < 0 or max(seeds) > MAX_SEED or len(set(seeds)) != len(seeds):
        raise click.BadParameter(f"give distinct seeds from 0 to {MAX_SEED}, e.g. 1,2,3", param_hint=option)
    return seeds


class RendererFile(click.ParamType):
    """--checkpoint: a shipped renderer's name (easy, default, gan) or a renderer file (renderer.pt, a training
    checkpoint); converted to the file's path, which must exist (checked before torch is imported)."""

    name = "renderer"

    def convert(self, value, param, ctx):
        try:
            path = renderer_path(value)
        except NeurenderError as e:
            self.fail(str(e), param, ctx)
        if not path.is_file():
            self.fail(f"{value}: no such file (give a renderer.pt, a training checkpoint, or a shipped renderer: "
                      f"{', '.join(SHIPPED)})", param, ctx)
        return path


RENDERER = RendererFile()
RENDERER_HELP = f"a trained renderer: {', '.join(SHIPPED)} (shipped), or a renderer.pt or training checkpoint"
