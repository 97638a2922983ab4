"""Where commands write: one check of every output path, and staging folders that replace an output only whole.

``check_output`` runs before a command reads its inputs at length: an output may not be one of its inputs,
contain one or lie inside one, under any of its names (through symbolic links, hard links or bind mounts; whatever
``--overwrite`` says), may not exist unless ``overwrite``, may not be a
file where a folder goes (or the reverse), and must be in a writable folder. ``staging`` builds a folder output
beside its final place under a lock, so a second writer of the same output fails at once, and moves it into
place only when it is complete; a swap that a killed process left half done is completed, and staging folders left
by processes that no longer run are removed.
"""

from __future__ import annotations

import errno
import fcntl
import glob
import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from neurender.errors import NeurenderError


def _within(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies inside it, by any of its names: as written, with every symbolic
    link resolved, or as the same file or folder on disk (device and inode: hard links, bind mounts)."""
    for a, b in ((Path(os.path.abspath(path)), Path(os.path.abspath(folder))),
                 (Path(os.path.realpath(path)), Path(os.path.realpath(folder)))):
        if a == b or b in a.parents:
            return True
    if not os.path.exists(folder):
        return False
    real = Path(os.path.realpath(path))
    return any(os.path.exists(p) and os.path.samefile(p, folder) for p in (real, *real.parents))


def check_output(out: Path, inputs: Iterable[Path] = (), overwrite: bool = False, kind: str = "folder",
                 existing: str = "pass --overwrite to replace it") -> Path:
    """Refuse an unusable output path with one clear NeurenderError; returns ``out``.

    out: the file or folder to write (``kind`` "file" or "folder"); inputs: the files and folders the command
    reads. An existing folder output counts as existing only when it holds something; `existing` is the advice
    the error gives then.
    """
    target = Path(os.path.abspath(out))
    for source in inputs:
        source = Path(os.path.abspath(source))
        inside, contains = _within(target, source), _within(source, target)
        if inside or contains:
            relation = "is" if inside and contains else "lies inside" if inside else "contains"
            raise NeurenderError(f"output {out} {relation} the input {source}: choose another --out "
                                 "(an output never replaces what a command reads)")
    if target.exists():
        if kind == "folder" and not target.is_dir():
            raise NeurenderError(f"output {out} exists and is not a directory")
        if kind == "file" and target.is_dir():
            raise NeurenderError(f"output {out} is a folder, not a file")
        if not overwrite and (kind == "file" or any(target.iterdir())):
            raise NeurenderError(f"output {out} already exists ({existing})")
    parent = _existing_folder(target)
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise NeurenderError(f"cannot write {out}: {parent} is not a writable folder")
    return out


def _existing_folder(path: Path) -> Path:
    folder = Path(os.path.abspath(path)).parent
    while not folder.exists():
        folder = folder.parent
    return folder


def check_room(out: Path, nbytes: int) -> None:
    """Refuse a write of up to ``nbytes`` that the disk holding ``out`` has no room for."""
    folder = _existing_folder(out)
    if not os.access(folder, os.W_OK | os.X_OK) or shutil.disk_usage(folder).total == 0:
        raise NeurenderError(f"cannot write {out}: {folder} is not a writable folder on a disk")
    free = shutil.disk_usage(folder).free
    if nbytes > free:
        raise NeurenderError(f"{out} needs up to {nbytes / 1e9:.2g} GB but its disk has {free / 1e9:.2g} GB free; "
                             "write fewer images, or shards (--shard) on several disks")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pattern(name: str | None) -> str:
    """The glob pattern for one output's name (its brackets and stars taken literally), or for every output."""
    return "*" if name is None else glob.escape(name)


def _stale_pid(path: Path, kind: str) -> int | None:
    """The PID of ``.NAME.KIND-PID`` if the process that made it no longer runs, else None."""
    pid = path.name.rpartition(f".{kind}-")[2]
    return int(pid) if pid.isdigit() and not _alive(int(pid)) else None


def finish_swaps(folder: Path, name: str | None = None) -> list[Path]:
    """Complete the swaps in ``folder`` that a killed process left half done; returns the outputs put back.

    ``staging`` replaces an output in three steps: the old one is moved aside as ``.NAME.old-PID``, the finished
    ``.NAME.partial-PID`` is moved into its place, the old one is removed. A kill between the first two leaves no
    ``NAME``: the finished folder is moved into place now (what the killed run was committed to, since it moves
    the old one aside only once the new one is complete; the old one if the finished one is gone), and only then
    is the old one removed. So nothing complete is removed while its name is empty."""
    restored = []
    for old in Path(folder).glob(f".{_pattern(name)}.old-*"):
        pid = _stale_pid(old, "old")
        if pid is None:
            continue
        target = old.with_name(old.name[1:].rpartition(".old-")[0])
        partial = target.with_name(f".{target.name}.partial-{pid}")
        if not target.exists():
            os.replace(partial if partial.is_dir() else old, target)
            restored.append(target)
        shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink(missing_ok=True)
    return restored


def remove_stale(folder: Path, name: str | None = None) -> list[Path]:
    """Remove the staging folders and temporary files (``.NAME.partial-PID``, ``.NAME.old-PID``,
    ``.NAME.tmp-PID``) in ``folder`` that processes which no longer run left behind, after ``finish_swaps`` has
    put back any output they were replacing; returns what it removed."""
    finish_swaps(folder, name)
    removed = []
    for path in Path(folder).glob(f".{_pattern(name)}.*-*"):
        kind = path.name.rpartition("-")[0].rsplit(".", 1)[-1]
        if kind in ("partial", "old", "tmp") and _stale_pid(path, kind) is not None:
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
            removed.append(path)
    return removed


@contextmanager
def output_lock(out: Path) -> Iterator[None]:
    """Hold ``.NAME.lock`` beside ``out`` for the block; a second holder fails at once with a clear message."""
    lock_path = Path(out).parent / f".{Path(out).name}.lock"
    handle = open(lock_path, "a+")  # noqa: SIM115 (held for the whole block)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise NeurenderError(f"another neurender process is writing {out}; wait for it or choose another --out") \
            from None
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
        lock_path.unlink(missing_ok=True)


def _disk_error(out: Path, e: OSError) -> NeurenderError:
    reason = "the disk is full" if e.errno == errno.ENOSPC else (e.strerror or str(e))
    return NeurenderError(f"could not write {out}: {reason}; nothing was replaced")


@contextmanager
def staging(out: Path, overwrite: bool, inputs: Iterable[Path] = ()) -> Iterator[Path]:
    """A hidden sibling folder to build the folder ``out`` in, moved into place only if the block succeeds.

    Checks ``out`` first (``check_output``), holds its lock throughout, and turns a full disk or another write
    error into one NeurenderError; the previous ``out`` survives any failure.
    """
    check_output(out, inputs, overwrite)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with output_lock(out):
        if finish_swaps(out.parent, out.name) and not overwrite:
            raise NeurenderError(f"output {out} already exists: an earlier run that was killed while it moved its "
                                 f"finished {out.name} into place left it aside, and it is back in place now; pass "
                                 "--overwrite to replace it")
        remove_stale(out.parent, out.name)
        stage = out.parent / f".{out.name}.partial-{os.getpid()}"
        shutil.rmtree(stage, ignore_errors=True)
        try:
            stage.mkdir()  # inside: an interrupt just after it still removes the folder
            yield stage
            if out.exists() and not overwrite and any(out.iterdir()):
                raise NeurenderError(f"output {out} appeared while this run wrote it; nothing was replaced")
            if out.exists():
                old = out.parent / f".{out.name}.old-{os.getpid()}"
                os.replace(out, old)
                os.replace(stage, out)
                shutil.rmtree(old)
            else:
                os.replace(stage, out)
        except OSError as e:
            shutil.rmtree(stage, ignore_errors=True)
            raise _disk_error(out, e) from None
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise


@contextmanager
def staging_file(out: Path, overwrite: bool, inputs: Iterable[Path] = ()) -> Iterator[Path]:
    """``staging`` for one file: a hidden sibling path (``.NAME.partial-PID``) to write, moved onto ``out``
    only if the block succeeds, under ``out``'s lock; a write error becomes one NeurenderError and the previous
    ``out`` survives any failure."""
    check_output(out, inputs, overwrite, kind="file")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with output_lock(out):
        remove_stale(out.parent, out.name)
        with written(out, "partial") as partial:
            yield partial


@contextmanager
def written(path: Path, kind: str = "tmp") -> Iterator[Path]:
    """A temporary sibling (``.NAME.KIND-PID``) to write one file to, moved onto ``path`` only if the block
    succeeds: a full disk or another write error leaves neither a partial file under ``path`` nor the temporary,
    and is one NeurenderError. (Writers that infer the format from the name need it given: the temporary's name
    does not end like ``path``.)"""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{kind}-{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as e:
        raise _disk_error(path, e) from None
    finally:
        tmp.unlink(missing_ok=True)
