"""Argument types the benchmark scripts share: a value out of range is argparse's one error line (exit 2), before
any work (``python -m benchmarks.KIND.NAME``)."""

from __future__ import annotations

import argparse
import math


def _at_least(low: float, kind: type, strictly: bool = False):
    words = "an integer" if kind is int else "a number"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {words}, got {text!r}") from None
        if not math.isfinite(value) or value < low or strictly and value == low:
            raise argparse.ArgumentTypeError(f"expected {words} {'above' if strictly else 'of at least'} {low:g}, "
                                             f"got {text!r}")
        return value

    parse.__name__ = words  # argparse names the type in its message
    return parse


def names_in(known, what: str):
    """A comma-separated list of names, each one of `known` (an unknown one, or none, is the error)."""
    def parse(text: str) -> list[str]:
        names = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in names if name not in known]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"unknown {what} {', '.join(unknown) or repr(text)}; known: "
                                             f"{', '.join(known)}")
        return names

    parse.__name__ = f"list of {what}s"
    return parse


POSITIVE = _at_least(1, int)  # counts, repeats, threads, workers
NONNEGATIVE = _at_least(0, int)  # seeds, optional lengths
DURATION = _at_least(0, float, strictly=True)  # a time budget
