"""The worker processes that score images (``suite.score``). This module imports nothing heavy, so a command can
start them first: each worker's start-up (torch and the metrics' libraries, seconds) then overlaps the command's
own imports and reading."""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager

from neurender.errors import NeurenderError

PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent ends


def _end_with(parent: int) -> None:
    """Worker initializer's first step: this worker ends when the process that started it ends, however it ends
    (SIGKILL included: Linux's PR_SET_PDEATHSIG sends it SIGTERM), so no worker, and no resource tracker that its
    pipe keeps alive, outlives the command; if that process is already gone, now. Elsewhere, a no-op."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux
        return
    if os.getppid() != parent:
        os._exit(1)


def _start_worker(parent: int) -> None:
    _end_with(parent)
    _one_thread()


def _one_thread() -> None:
    """Worker initializer: OpenMP (FLIP's and torch's), BLAS and torch's pool all single-threaded, and the metrics'
    libraries imported (LPIPS weights load on first use, in the worker's first task). Ctrl-C reaches the workers
    too (the terminal signals the whole process group): it ends them as SIGTERM does, without Python's traceback
    of whatever each was waiting on; the command reports the interruption once."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    import torch
    from threadpoolctl import threadpool_limits

    from neurender.metrics import flip, hausdorff, lpips, pixel, ssim  # noqa: F401  (the metrics and their libraries)

    threadpool_limits(1)
    torch.set_num_threads(1)


@contextmanager
def scoring_pool(workers: int) -> Iterator[ProcessPoolExecutor | None]:
    """Worker processes for ``suite.score``, started at once. None for workers <= 1 (score in this process).
    A worker that dies (a signal to the whole process group, the system out of memory) is one NeurenderError."""
    if workers <= 1:
        yield None
        return
    context = multiprocessing.get_context("spawn")  # fork is unsafe once torch has started its threads
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                             initargs=(os.getpid(),)) as pool:
        for _ in range(workers):
            pool.submit(_one_thread)  # starts every worker now
        try:
            yield pool
        except BrokenProcessPool:
            raise NeurenderError("a scoring process ended before its work was done (stopped by a signal, or the "
                                 "system ran out of memory)") from None
