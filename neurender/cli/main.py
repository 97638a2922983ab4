"""The top-level click group. Every user error leaves as one line on stderr and exit code 2."""

from __future__ import annotations

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
_deferred = 0  # times this command's interrupt was delivered again
_waiting = False  # an interrupt was received and waits for its timer


def _terminate(signum, frame) -> None:
    """Ctrl-C and SIGTERM raise KeyboardInterrupt: staging folders, partial files and locks are removed on the
    way out (a training run installs its own handler, which saves latest.pt first). Arriving inside
    FRAGILE_MODULES, the interrupt is delivered again RETRY_S later (SIGALRM), at most RETRIES times, then
    regardless."""
    global _deferred, _waiting
    while frame is not None and _deferred < RETRIES:
        if frame.f_globals.get("__name__", "").split(".")[0] in FRAGILE_MODULES:
            _deferred, _waiting = _deferred + 1, True
            signal.setitimer(signal.ITIMER_REAL, RETRY_S)
            return
        frame = frame.f_back
    _waiting = False
    raise KeyboardInterrupt


class _Group(click.Group):
    """Prints click's usage errors and NeurenderError as a single 'error: ...' line with exit code 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        global _deferred, _waiting
        _deferred, _waiting = 0, False
        previous = {s: signal.signal(s, _terminate) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)}
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except (click.ClickException, NeurenderError) as e:
            if _waiting:  # the error came from the interruption (helper processes it stopped): say that instead
                click.echo("aborted", err=True)
                sys.exit(130)
            message = e.format_message() if isinstance(e, click.ClickException) else str(e)
            click.echo(f"error: {message}", err=True)
            sys.exit(2)
        except click.Abort:
            click.echo("aborted", err=True)
            sys.exit(130)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)  # a waiting interrupt's timer must not outlive its handler
            for s, handler in previous.items():
                signal.signal(s, handler)
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
