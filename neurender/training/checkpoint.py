"""Checkpoints: the full training state in one file, written to a temporary file and moved into place.

A training checkpoint holds G, G_ema, D, both optimizers, the balance controller, counters, RNG states, the
config and a format version; `--resume` restores all of it. An inference export holds G_ema and what is needed
to rebuild it (the model config and resolution), for `render` and `evaluate`.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import zipfile
from pathlib import Path

import torch

from neurender.errors import NeurenderError

FORMAT_VERSION = 2  # 2: a sha256 of the content in every file
DIGEST = "sha256"
KIND_TRAINING, KIND_RENDERER = "neurender-training-state", "neurender-renderer"


def save_atomic(state: dict, path: Path) -> None:
    """torch.save to a temporary sibling, fsync, then os.replace: a crash or a full disk never leaves a
    half-written file under `path`, and the previous file there survives until the new one is complete."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    state = {**state, DIGEST: content_digest(state)}
    try:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except (OSError, RuntimeError) as e:  # torch's zip writer reports a full disk as a RuntimeError
        tmp.unlink(missing_ok=True)
        reason = getattr(e, "strerror", None) or str(e).splitlines()[0]
        raise NeurenderError(f"could not write checkpoint {path} ({reason}); the previous one is kept") from None


def content_digest(state) -> str:
    """sha256 of a checkpoint's content (every tensor's dtype, shape and bytes, every other value's repr, dict
    keys in sorted order), without its own DIGEST entry: a changed byte anywhere changes it."""
    digest = hashlib.sha256()

    def walk(value) -> None:
        if isinstance(value, dict):
            for key in sorted(k for k in value if k != DIGEST):
                digest.update(repr(key).encode())
                walk(value[key])
        elif isinstance(value, list | tuple):
            digest.update(b"[%d" % len(value))
            for item in value:
                walk(item)
        elif isinstance(value, torch.Tensor):
            t = value.detach().cpu().contiguous()
            digest.update(f"{t.dtype}{tuple(t.shape)}".encode())
            digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        else:
            digest.update(repr(value).encode())

    walk(state)
    return digest.hexdigest()


def _check_archive(path: Path) -> None:
    """Every member of the checkpoint's zip archive against its own CRC-32, before anything is unpickled: a
    flipped bit in the pickle would otherwise surface as whatever error the unpickler meets first."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError, NotImplementedError):
        bad = "its archive"
    if bad is not None:
        raise NeurenderError(f"{path} is not a readable checkpoint (corrupt or truncated: {bad} fails its CRC)")


def load_checkpoint(path: Path, kind: str | None = None) -> dict:
    """Read a checkpoint (weights_only: no code runs), checking it is ours, its version and, if given, its kind."""
    path = Path(path)
    if path.is_dir():
        raise NeurenderError(f"{path} is a folder, not a checkpoint file (a run's renderer.pt or latest.pt)")
    if not path.exists():
        raise NeurenderError(f"checkpoint not found: {path}")
    if not path.is_file():
        raise NeurenderError(f"{path} is not a regular file, not a checkpoint")
    _check_archive(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if any(refusal in str(e) for refusal in ("Weights only load failed", "Unsupported global")):  # code
            raise NeurenderError(f"{path} holds code or objects other than tensors and plain data, which are not "
                                 "allowed; it was not loaded (no code ran)") from None
        raise NeurenderError(f"{path} is not a readable checkpoint (corrupt or truncated)") from None
    except (OSError, RuntimeError, EOFError, ValueError, zipfile.BadZipFile):
        raise NeurenderError(f"{path} is not a readable checkpoint (corrupt or truncated)") from None
    if not isinstance(state, dict) or state.get("kind") not in (KIND_TRAINING, KIND_RENDERER):
        raise NeurenderError(f"{path} is not a neurender checkpoint")
    if state.get("format_version") != FORMAT_VERSION:
        raise NeurenderError(f"{path} has checkpoint format {state.get('format_version')}, "
                             f"this neurender reads {FORMAT_VERSION}")
    if state.get(DIGEST) != content_digest(state):
        raise NeurenderError(f"{path} does not match its checksum (corrupt or modified)")
    if kind is not None and state["kind"] != kind:
        raise NeurenderError(f"{path} is a {state['kind']} file, expected a {kind} file")
    return state


def renderer_export(g_ema_state: dict, model: dict, resolution: int, camera: dict, images_seen: int,
                    training: list[dict]) -> dict:
    """The small inference file: G_ema's weights (on the CPU, wherever they trained), how to rebuild it, and how
    it was trained (``training``: one ``state.stage_record`` per run behind it, oldest first)."""
    return {"kind": KIND_RENDERER, "format_version": FORMAT_VERSION, "model": model, "resolution": resolution,
            "camera": camera, "images_seen": images_seen, "training": training,
            "g_ema": {name: tensor.detach().cpu() for name, tensor in g_ema_state.items()}}
