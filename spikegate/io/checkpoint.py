"""Checkpoints: PyTorch state written atomically, loaded with ``weights_only=True``.

A checkpoint is a dict with ``format = "spikegate.checkpoint"``, an integer ``version`` and
the caller's payload (state dicts, optimizer state, plain configuration values: anything
``torch.load(weights_only=True)`` accepts). It is written to a temporary file in the same
folder, synced, then renamed over the target, so a crash never leaves a half-written file
where a good checkpoint stood.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from typing import Any, Mapping

import torch

FORMAT = "spikegate.checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A file is not a usable spikegate checkpoint."""


def save_checkpoint(path: str | os.PathLike, payload: Mapping[str, Any]) -> None:
    """Atomically write ``payload`` (plus format and version) to ``path``."""
    if "format" in payload or "version" in payload:
        raise ValueError("payload keys 'format' and 'version' are reserved")
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".ckpt-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save({"format": FORMAT, "version": VERSION, **payload}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_checkpoint(path: str | os.PathLike, *, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` (``weights_only=True``).

    Raises :class:`CheckpointError` for a missing, foreign, damaged or newer-version file, and
    for one from an older version (with the version it found), so nothing is half-loaded.
    """
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as e:
        raise CheckpointError(f"{path}: not a loadable checkpoint ({type(e).__name__}: {str(e)[:200]})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a spikegate checkpoint")
    version = data.get("version")
    if version != VERSION:
        raise CheckpointError(
            f"{path}: checkpoint version {version} cannot be read by this spikegate (expects {VERSION})"
        )
    return data
