"""The top-level click group. Every user error leaves as one line on stderr and exit code 2."""

from __future__ import annotations

import errno
import signal
import sys

import click

from neurender import __version__
from neurender.cli.animate import animate
from neurender.cli.dataset import dataset
from neurender.cli.evaluate import compare, evaluate, results, weights
from neurender.cli.invert import invert
from neurender.cli.plot import plot
from neurender.cli.render import render
from neurender.cli.train import train
from neurender.cli.view import view
from neurender.errors import NeurenderError

FRAGILE_MODULES = ("tqdm", "threading")
"""Packages an interrupt must not land in: raised inside tqdm.__del__ it is swallowed ('Exception ignored') and
the command runs on (a CI run hung so), and cut through a lock's handling it can leave the lock held."""
RETRY_S, RETRIES = 0.05, 40
REDELIVER_S = 2.0
"""An interrupt that was raised but swallowed (by a finaliser or a library's catch-all) is raised again this
many seconds later; one that is unwinding (cleanup under way) is left alone."""
_deferred = 0  # times this command's interrupt was delivered again
_waiting = False  # an interrupt was received and waits for its timer
_raised = False  # an interrupt was raised; the timer checks that it is unwinding


def _terminate(signum, frame) -> None:
    """Ctrl-C and SIGTERM raise KeyboardInterrupt: staging folders, partial files and locks are removed on the
    way out (a training run installs its own handler, which saves latest.pt first). Arriving inside
    FRAGILE_MODULES, the interrupt is delivered again RETRY_S later (SIGALRM), at most RETRIES times, then
    regardless. Once raised, the timer looks again every REDELIVER_S: while no exception is being handled
    (the interrupt was swallowed, and the command runs on) it is raised again."""
    global _deferred, _waiting, _raised
    if _raised and signum == signal.SIGALRM and sys.exc_info()[0] is not None:
        signal.setitimer(signal.ITIMER_REAL, REDELIVER_S)  # the interrupt is unwinding: let its cleanup run
        return
    while frame is not None and _deferred < RETRIES:
        if frame.f_globals.get("__name__", "").split(".")[0] in FRAGILE_MODULES:
            _deferred, _waiting = _deferred + 1, True
            signal.setitimer(signal.ITIMER_REAL, RETRY_S)
            return
        frame = frame.f_back
    _waiting, _raised = False, True
    signal.setitimer(signal.ITIMER_REAL, REDELIVER_S)
    raise KeyboardInterrupt


def _quiet_unraisable(hook):
    """sys.unraisablehook ``hook`` that says nothing of an interrupt: Python prints one raised inside a finaliser
    as 'Exception ignored' with a traceback, and runs on (the timer raises it again)."""
    def unraisable(info) -> None:
        if not issubclass(info.exc_type, KeyboardInterrupt):
            hook(info)
    return unraisable


def _exit_interrupted() -> None:
    """Exit code 130 after an interrupt. CPython 3.11 records a KeyboardInterrupt that passed through exec() of
    a string (dataclasses build their methods so, and an interrupt can land in a lazy import) as unhandled,
    even once caught, and then ends the process by SIGINT instead of its exit code; the next string exec()
    clears that record."""
    exec("pass")  # noqa: S102 (a constant: see above)
    click.echo("aborted", err=True)
    sys.exit(130)


class _Group(click.Group):
    """Prints click's usage errors and NeurenderError as a single 'error: ...' line with exit code 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        global _deferred, _waiting, _raised
        _deferred, _waiting, _raised = 0, False, False
        previous = {s: signal.signal(s, _terminate) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)}
        previous_unraisable, sys.unraisablehook = sys.unraisablehook, _quiet_unraisable(sys.unraisablehook)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except (click.ClickException, NeurenderError) as e:
            if _waiting or _raised:  # the error came from the interruption (helper processes it stopped): say so
                _exit_interrupted()
            message = e.format_message() if isinstance(e, click.ClickException) else str(e)
            click.echo(f"error: {message}", err=True)
            sys.exit(2)
        except click.Abort:
            _exit_interrupted()
        except OSError as e:  # a full disk where no writer turned it into a NeurenderError: still one line
            if e.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            click.echo(f"error: could not write {e.filename or 'a file'}: the disk is full", err=True)
            sys.exit(2)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)  # a waiting interrupt's timer must not outlive its handler
            for s, handler in previous.items():
                signal.signal(s, handler)
            sys.unraisablehook = previous_unraisable
        if standalone_mode:
            sys.exit(rv if isinstance(rv, int) else 0)
        return rv


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="neurender")
def main() -> None:
    """neurender: exact Phong-sphere datasets, conditional neural renderers, and their evaluation."""


main.add_command(dataset)
main.add_command(evaluate)
main.add_command(compare)
main.add_command(results)
main.add_command(weights)
main.add_command(train)
main.add_command(render)
main.add_command(plot)
main.add_command(invert)
main.add_command(animate)
main.add_command(view)
