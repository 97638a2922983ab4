"""The ``neurender`` command line: thin click commands that parse, validate, call the library and print."""

from neurender.cli.main import main

__all__ = ["main"]
