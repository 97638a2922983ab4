"""Option types shared by the commands."""

from __future__ import annotations

import math

import click


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
