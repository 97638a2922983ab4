"""Registries: one per extension point (generators, GAN losses, objectives, balancing rules; presets and metrics
keep their own tables of data). A registry maps names to ``module:attribute`` paths and imports an entry on
first use, so that the command line and config checks read the names without importing torch. A name of the form
``package.module:Class`` is a plug-in: imported only if ``$NEURENDER_PLUGINS`` lists its module (importing a
module runs its code, and checkpoints and configs name them), and only a class is taken from it. What an entry
must provide is written on its kind's base class (docs/architecture.md lists the contracts)."""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Iterator

from neurender.errors import NeurenderError

PLUGINS_ENV = "NEURENDER_PLUGINS"  # the plug-in modules a run or a checkpoint may import (allowed_plugin)


def allowed_plugin(module: str) -> bool:
    """Whether $NEURENDER_PLUGINS (comma-separated module or package names) lists `module` or a package above it:
    the only plug-in modules neurender imports, since importing one runs its code and checkpoints name them."""
    listed = [name.strip() for name in os.environ.get(PLUGINS_ENV, "").split(",") if name.strip()]
    return any(module == name or module.startswith(name + ".") for name in listed)


def first_line(error: BaseException) -> str:
    """An exception as one line: its type and the first line of its message."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


class Registry:
    """Names of one kind of extension -> ``module:attribute``, imported on first use; plug-ins by
    ``package.module:Class`` (``kind`` names the kind in messages, ``setting`` the option or config key that
    names an entry, ``base`` the ``module:Class`` a plug-in must subclass, ``docs`` where its contract is)."""

    def __init__(self, kind: str, setting: str, base: str, docs: str, entries: dict[str, str]):
        self.kind, self.setting, self.base, self.docs = kind, setting, base, docs
        self._paths = dict(entries)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._paths)

    def __contains__(self, name: object) -> bool:
        return name in self._paths

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def check_name(self, name: str) -> None:
        """A NeurenderError unless `name` is registered or has the ``package.module:Class`` form (nothing is
        imported here)."""
        module, sep, attr = name.partition(":")
        if name not in self._paths and not (sep and module and attr):
            raise NeurenderError(f"unknown {self.kind} {name!r}; known: {', '.join(self._paths)}, or "
                                 f"package.module:Class for your own ({self.docs})")

    def get(self, name: str) -> type:
        """The registered entry, or a plug-in's class (refused before import unless allowed, and before it is
        called unless it subclasses ``base``)."""
        self.check_name(name)
        if name in self._paths:
            module, _, attr = self._paths[name].partition(":")
            return getattr(importlib.import_module(module), attr)
        module, _, attr = name.partition(":")
        if not allowed_plugin(module):  # a checkpoint or config names it: loading one must not import it unasked
            raise NeurenderError(f"{name} is a plug-in {self.kind}, and importing {module!r} runs its code: "
                                 f"neurender imports only the modules listed in ${PLUGINS_ENV}; if you trust it, "
                                 f"set {PLUGINS_ENV}={module} ({self.docs})")
        try:
            imported = importlib.import_module(module)
        except ImportError as e:
            raise NeurenderError(f"cannot import {module!r} for {self.setting} {name}: {e} (is its folder on "
                                 "PYTHONPATH?)") from None
        except (Exception, SystemExit) as e:  # a user's module: whatever it raises or exits with is one line
            raise NeurenderError(f"importing {module!r} for {self.setting} {name} failed: {first_line(e)}") from None
        found = getattr(imported, attr, None)
        if found is None:
            raise NeurenderError(f"{module!r} has no {attr!r} ({self.setting} {name})")
        base_module, _, base_name = self.base.partition(":")
        base = getattr(importlib.import_module(base_module), base_name)
        if not (inspect.isclass(found) and issubclass(found, base)):  # checked before anything is called: a
            # checkpoint names it, and a name like os:_exit must never run
            raise NeurenderError(f"{name} is not a {self.kind} class (a {base.__module__}.{base.__qualname__} "
                                 f"subclass, {self.docs})")
        return found
