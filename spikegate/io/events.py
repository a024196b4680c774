r"""Readers for event-based datasets in their published layouts (``../shared/DATASETS.md`` §2).

**SHD / SSC** (Spiking Heidelberg Digits / Spiking Speech Commands, Cramer et al. 2020), one
HDF5 file per split (``shd_train.h5``, ``ssc_valid.h5``, ...)::

    /spikes/times[i]   variable-length float array: spike times of sample i in SECONDS
    /spikes/units[i]   variable-length int array: input channel of each spike (0..699)
    /labels[i]         class of sample i
    /extra/keys        class names, index = label (optional)

**N-MNIST** (Orchard et al. 2015), one ``.bin`` file per sample under
``<root>/{Train,Test}/<digit>/``; every event is 5 bytes (40 bits, big-endian fields):
bits 39-32 x, 31-24 y, bit 23 polarity (1 = ON), bits 22-0 timestamp in µs. A record with
``y == 240`` is a timestamp-overflow marker: it is dropped and :math:`2^{13}` µs is added to
every later timestamp (the rule of the dataset's own ``eventvision.py``). Sensor 34 x 34.

Both are binned into dense uint8 rasters for training: :func:`bin_events` (SHD: ``[N, steps,
units]``) and :func:`events_to_frames` (N-MNIST: ``[steps, 2, 34, 34]``, channel 0 = OFF,
1 = ON).
"""

from __future__ import annotations

import glob
import os
from typing import NamedTuple, Sequence

import numpy as np

from spikegate._validate import check_int, check_positive
from spikegate.io.datasets import DatasetFormatError, DatasetMissing

SHD_UNITS = 700
NMNIST_SENSOR = (34, 34)
NMNIST_EVENT = np.dtype([("x", np.int16), ("y", np.int16), ("p", np.int8), ("t", np.int64)])
_HOW_TO_GET = {
    "shd": "SHD: download shd_{train,test}.h5.gz from https://zenkelab.org/datasets/ (CC BY 4.0) and gunzip",
    "ssc": "SSC: download ssc_{train,valid,test}.h5.gz from https://zenkelab.org/datasets/ (CC BY 4.0) and gunzip",
    "nmnist": "N-MNIST: download Train.zip and Test.zip from https://www.garrickorchard.com/datasets/n-mnist "
              "(CC BY-SA 4.0) and unzip them into one folder",
}


class EventSamples(NamedTuple):
    """Per-sample event lists: ``times[i]`` (float64, seconds), ``units[i]`` (int64), labels
    ``int64 [N]``, class names (``None`` when the file has none)."""

    times: list[np.ndarray]
    units: list[np.ndarray]
    labels: np.ndarray
    keys: list[str] | None


def read_shd(path: str | os.PathLike, *, dataset: str = "shd") -> EventSamples:
    """Read an SHD or SSC HDF5 file (any float dtype for times, any int dtype for units)."""
    import h5py

    path = os.fspath(path)
    if not os.path.exists(path):
        raise DatasetMissing(f"{path} not found. {_HOW_TO_GET.get(dataset, _HOW_TO_GET['shd'])}")
    try:
        fh = h5py.File(path, "r")
    except OSError as e:
        raise DatasetFormatError(f"{path}: not an HDF5 file ({e})") from None
    with fh:
        for key in ("spikes/times", "spikes/units", "labels"):
            if key not in fh:
                raise DatasetFormatError(f"{path}: missing /{key} (not an SHD/SSC file)")
        t_ds, u_ds = fh["spikes/times"], fh["spikes/units"]
        labels = np.asarray(fh["labels"][()], dtype=np.int64)
        if not (len(t_ds) == len(u_ds) == len(labels)):
            raise DatasetFormatError(
                f"{path}: {len(t_ds)} time lists, {len(u_ds)} unit lists and {len(labels)} labels differ"
            )
        times = [np.asarray(t, dtype=np.float64).ravel() for t in t_ds]
        units = [np.asarray(u, dtype=np.int64).ravel() for u in u_ds]
        keys = None
        if "extra/keys" in fh:
            keys = [k.decode() if isinstance(k, bytes) else str(k) for k in fh["extra/keys"][()]]
    for i, (t, u) in enumerate(zip(times, units)):
        if t.shape != u.shape:
            raise DatasetFormatError(f"{path}: sample {i} has {t.size} times but {u.size} units")
    return EventSamples(times, units, labels, keys)


def bin_events(
    times: Sequence[np.ndarray], units: Sequence[np.ndarray], *, n_units: int, steps: int, max_time: float
) -> np.ndarray:
    """Dense rasters ``uint8 [N, steps, n_units]``: bin ``k`` holds the spikes with
    ``k * max_time/steps <= t < (k+1) * max_time/steps`` (1 if at least one); later spikes and
    units outside ``[0, n_units)`` are dropped."""
    check_int(n_units, "n_units", minimum=1)
    check_int(steps, "steps", minimum=1)
    check_positive(max_time, "max_time")
    out = np.zeros((len(times), steps, n_units), dtype=np.uint8)
    for i, (t, u) in enumerate(zip(times, units)):
        k = np.floor(np.asarray(t, dtype=np.float64) * (steps / max_time)).astype(np.int64)
        u = np.asarray(u, dtype=np.int64)
        keep = (k >= 0) & (k < steps) & (u >= 0) & (u < n_units)
        out[i, k[keep], u[keep]] = 1
    return out


def decode_nmnist(data: bytes | np.ndarray) -> np.ndarray:
    """Decode N-MNIST bytes into a structured array with fields ``x, y, p, t`` (t in µs)."""
    raw = np.frombuffer(data, dtype=np.uint8) if isinstance(data, (bytes, bytearray)) else np.asarray(data, np.uint8)
    if raw.size % 5:
        raise DatasetFormatError(f"N-MNIST data has {raw.size} bytes, not a multiple of 5")
    b = raw.reshape(-1, 5).astype(np.int64)
    x, y, p = b[:, 0], b[:, 1], b[:, 2] >> 7
    t = ((b[:, 2] & 0x7F) << 16) | (b[:, 3] << 8) | b[:, 4]
    overflow = y == 240
    t = t + (np.cumsum(overflow) << 13)
    keep = ~overflow
    ev = np.empty(int(keep.sum()), dtype=NMNIST_EVENT)
    ev["x"], ev["y"], ev["p"], ev["t"] = x[keep], y[keep], p[keep], t[keep]
    return ev


def read_nmnist_bin(path: str | os.PathLike) -> np.ndarray:
    """Events of one N-MNIST ``.bin`` file (see :func:`decode_nmnist`)."""
    with open(path, "rb") as fh:
        data = fh.read()
    try:
        return decode_nmnist(data)
    except DatasetFormatError as e:
        raise DatasetFormatError(f"{path}: {e}") from None


def load_nmnist(
    root: str | os.PathLike, split: str = "Train", *, limit: int | None = None
) -> tuple[list[np.ndarray], np.ndarray]:
    """Events and labels of ``<root>/<split>/<digit>/*.bin`` (split ``"Train"`` or ``"Test"``),
    in sorted file order; ``limit`` keeps the first files of every digit."""
    folder = os.path.join(os.fspath(root), split)
    files = [(d, f) for d in range(10) for f in sorted(glob.glob(os.path.join(folder, str(d), "*.bin")))[:limit]]
    if not files:
        raise DatasetMissing(f"no N-MNIST files under {folder}/<digit>/*.bin. {_HOW_TO_GET['nmnist']}")
    return [read_nmnist_bin(f) for _, f in files], np.array([d for d, _ in files], dtype=np.int64)


def events_to_frames(
    events: np.ndarray, *, steps: int, duration_us: float, sensor: tuple[int, int] = NMNIST_SENSOR
) -> np.ndarray:
    """Bin N-MNIST events into ``uint8 [steps, 2, H, W]`` (1 where a pixel had at least one event
    of that polarity in the bin); events at or after ``duration_us`` are dropped."""
    check_int(steps, "steps", minimum=1)
    check_positive(duration_us, "duration_us")
    h, w = sensor
    out = np.zeros((steps, 2, h, w), dtype=np.uint8)
    k = np.floor(events["t"] * (steps / duration_us)).astype(np.int64)
    keep = (k >= 0) & (k < steps) & (events["x"] >= 0) & (events["x"] < w) & (events["y"] >= 0) & (events["y"] < h)
    out[k[keep], events["p"][keep].astype(np.int64), events["y"][keep], events["x"][keep]] = 1
    return out
