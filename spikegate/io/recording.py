"""HDF5 recordings of spikes (sparse) and state traces (dense), written as the run goes.

Layout (format ``spikegate.recording``, version 1)::

    /                      attrs: format, version, dt, time_unit, plus user attrs
    /n_steps               int64 (1,)   steps written so far (updated at every flush)
    /complete              int8  (1,)   1 once the recorder closed normally
    /spikes/<name>/times   float64 (K,) spike times in time_unit, chunked + gzip
    /spikes/<name>/units   int32   (K,) unit index of each spike, 0 <= unit < n_units (attr)
    /traces/<name>         (n_steps, *shape) dense trace, chunked along time + gzip

The file is opened in HDF5's single-writer/multiple-reader mode and flushed every
``flush_every`` steps, so a run that is killed keeps everything up to its last flush and the
file stays readable (``Recording.complete`` is then False). Populations and traces are
declared up front, as SWMR requires.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Mapping, Sequence

import h5py
import numpy as np
import torch
from torch import Tensor

from spikegate._validate import check_int, check_positive

FORMAT = "spikegate.recording"
VERSION = 1


class RecordingError(ValueError):
    """A file is not a spikegate recording, or it is damaged."""


def _np(x: Tensor | np.ndarray) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x)


class Recorder:
    """Write a recording step by step.

    Args:
        path: output file (overwritten).
        dt: step length in ``time_unit``.
        spikes: population name -> number of units.
        traces: trace name -> per-step shape (e.g. ``(n,)``).
        flush_every: steps buffered in memory between flushes to disk.
        attrs: extra metadata (numbers or strings) stored on the root.

    Use as a context manager; call :meth:`step` once per time step (or :meth:`extend` with a
    whole ``[T, ...]`` block).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        dt: float,
        spikes: Mapping[str, int] | None = None,
        traces: Mapping[str, Sequence[int]] | None = None,
        time_unit: str = "ms",
        flush_every: int = 1000,
        attrs: Mapping[str, Any] | None = None,
        trace_dtype: str = "float32",
    ) -> None:
        check_positive(dt, "dt")
        self.flush_every = check_int(flush_every, "flush_every", minimum=1)
        self.dt = float(dt)
        self._spec_spikes = {k: check_int(int(v), f"spikes[{k!r}]", minimum=1) for k, v in (spikes or {}).items()}
        self._spec_traces = {k: tuple(int(s) for s in v) for k, v in (traces or {}).items()}
        self._f = h5py.File(path, "w", libver="latest")
        f = self._f
        f.attrs.update({"format": FORMAT, "version": VERSION, "dt": self.dt, "time_unit": time_unit})
        for k, v in (attrs or {}).items():
            f.attrs[k] = v
        f.create_dataset("n_steps", data=np.zeros(1, np.int64))
        f.create_dataset("complete", data=np.zeros(1, np.int8))
        for name, n in self._spec_spikes.items():
            g = f.create_group(f"spikes/{name}")
            g.attrs["n_units"] = n
            kw = dict(maxshape=(None,), chunks=(16384,), compression="gzip", shuffle=True)
            g.create_dataset("times", shape=(0,), dtype="f8", **kw)
            g.create_dataset("units", shape=(0,), dtype="i4", **kw)
        for name, shape in self._spec_traces.items():
            f.create_dataset(
                f"traces/{name}", shape=(0, *shape), maxshape=(None, *shape), dtype=trace_dtype,
                chunks=(min(self.flush_every, 1024), *shape), compression="gzip", shuffle=True,
            )
        f.swmr_mode = True
        self._steps = 0
        self._flushed = 0
        self._buf_spikes: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {k: [] for k in self._spec_spikes}
        self._buf_traces: dict[str, list[np.ndarray]] = {k: [] for k in self._spec_traces}

    # -- writing ------------------------------------------------------------------------------
    def extend(self, spikes: Mapping[str, Tensor | np.ndarray] | None = None,
               traces: Mapping[str, Tensor | np.ndarray] | None = None) -> None:
        """Append a block of steps: spikes ``[T, n_units]`` (0/1) and traces ``[T, *shape]``.
        Every declared population and trace must be given, with the same T."""
        spikes, traces = dict(spikes or {}), dict(traces or {})
        if set(spikes) != set(self._spec_spikes) or set(traces) != set(self._spec_traces):
            raise ValueError(
                f"give spikes for {sorted(self._spec_spikes)} and traces for {sorted(self._spec_traces)}; "
                f"got {sorted(spikes)} and {sorted(traces)}"
            )
        lengths = set()
        for name, s in spikes.items():
            s = _np(s)
            if s.ndim != 2 or s.shape[1] != self._spec_spikes[name]:
                raise ValueError(f"spikes[{name!r}] must be [T, {self._spec_spikes[name]}], got {s.shape}")
            lengths.add(s.shape[0])
            t_idx, units = np.nonzero(s)
            self._buf_spikes[name].append(((self._steps + t_idx) * self.dt, units.astype(np.int32)))
        for name, v in traces.items():
            v = _np(v)
            if v.shape[1:] != self._spec_traces[name]:
                raise ValueError(f"traces[{name!r}] must be [T, {self._spec_traces[name]}], got {v.shape}")
            lengths.add(v.shape[0])
            self._buf_traces[name].append(v)
        if len(lengths) > 1:
            raise ValueError(f"all blocks must cover the same number of steps, got {sorted(lengths)}")
        self._steps += lengths.pop() if lengths else 0
        if self._steps - self._flushed >= self.flush_every:
            self.flush()

    def step(self, spikes: Mapping[str, Tensor | np.ndarray] | None = None,
             traces: Mapping[str, Tensor | np.ndarray] | None = None) -> None:
        """Append one step: spikes ``[n_units]``, traces ``[*shape]``."""
        self.extend(
            {k: _np(v)[None] for k, v in (spikes or {}).items()},
            {k: _np(v)[None] for k, v in (traces or {}).items()},
        )

    def flush(self) -> None:
        """Write the buffered steps to disk and make them durable."""
        f = self._f
        for name, blocks in self._buf_spikes.items():
            if not blocks:
                continue
            times = np.concatenate([b[0] for b in blocks])
            units = np.concatenate([b[1] for b in blocks])
            for key, data in (("times", times), ("units", units)):
                ds = f[f"spikes/{name}/{key}"]
                n = ds.shape[0]
                ds.resize((n + len(data),))
                ds[n:] = data
            blocks.clear()
        for name, blocks in self._buf_traces.items():
            if not blocks:
                continue
            data = np.concatenate(blocks)
            ds = f[f"traces/{name}"]
            n = ds.shape[0]
            ds.resize((n + len(data), *ds.shape[1:]))
            ds[n:] = data
            blocks.clear()
        # the data reach the file before the step count that covers them: HDF5 writes cached
        # objects back in no set order, so a run killed between the two flushes leaves the old
        # count over data that run ahead of it (cut by read_recording), never a count ahead of them
        f.flush()
        f["n_steps"][0] = self._steps
        self._flushed = self._steps
        f.flush()

    def close(self) -> None:
        if not self._f.id.valid:
            return
        self.flush()
        self._f["complete"][0] = 1
        self._f.close()

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:  # keep what was flushed; do not mark the run complete
            self.flush()
            self._f.close()


# --------------------------------------------------------------------------------------------
# Reading


@dataclass
class SpikeTrains:
    """Spikes of one population: parallel arrays of times and unit indices."""

    times: np.ndarray
    units: np.ndarray
    n_units: int

    def dense(self, n_steps: int, dt: float) -> np.ndarray:
        """Binary raster ``[n_steps, n_units]`` (uint8)."""
        out = np.zeros((n_steps, self.n_units), np.uint8)
        out[np.rint(self.times / dt).astype(np.int64), self.units] = 1
        return out


@dataclass
class Recording:
    dt: float
    time_unit: str
    n_steps: int
    complete: bool
    spikes: dict[str, SpikeTrains] = field(default_factory=dict)
    traces: dict[str, np.ndarray] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)


def read_recording(path: str | os.PathLike) -> Recording:
    """Load a recording written by :class:`Recorder`, checking its layout.

    Raises :class:`RecordingError` for a missing, foreign, newer-version or damaged file.
    Spikes and traces are cut to the steps that every dataset holds (an interrupted run reads
    cleanly, as of its last complete flush).
    """
    if not os.path.exists(path):
        raise RecordingError(f"{path}: no such file")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        if "already open for write" not in str(e):
            raise RecordingError(f"{path}: not an HDF5 file, or damaged ({e})") from None
        # The writer was killed (or still runs): its "open for write" flag is set. A SWMR
        # read opens it anyway and sees everything the writer flushed.
        try:
            f = h5py.File(path, "r", swmr=True)
        except OSError as e2:
            raise RecordingError(f"{path}: damaged recording ({e2})") from None
    with f:
        try:
            fmt = f.attrs.get("format")
            fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
            if fmt != FORMAT:
                raise RecordingError(f"{path}: not a spikegate recording (format attribute {fmt!r})")
            version = int(f.attrs.get("version", -1))
            if version > VERSION or version < 1:
                raise RecordingError(f"{path}: recording version {version} is not supported (this spikegate reads {VERSION})")
            dt = float(f.attrs["dt"])
            # the steps every dataset holds: a file whose writer died mid-flush can have a step
            # count ahead of a trace (written by an older spikegate) or data ahead of the count
            traces = dict(f.get("traces", {}).items())
            n_steps = min([int(f["n_steps"][0])] + [ds.shape[0] for ds in traces.values()])
            rec = Recording(dt, str(f.attrs["time_unit"]), n_steps, bool(f["complete"][0]))
            rec.attrs = {k: v for k, v in f.attrs.items() if k not in ("format", "version", "dt", "time_unit")}
            for name, g in f.get("spikes", {}).items():
                times, units = np.asarray(g["times"]), np.asarray(g["units"])
                n_units = int(g.attrs["n_units"])
                if times.shape != units.shape:
                    raise RecordingError(f"{path}: spikes/{name} has {times.size} times but {units.size} units")
                if units.size and (units.min() < 0 or units.max() >= n_units):
                    raise RecordingError(f"{path}: spikes/{name} has unit indices outside 0..{n_units - 1}")
                kept = np.rint(times / dt) < n_steps
                rec.spikes[name] = SpikeTrains(times[kept], units[kept], n_units)
            for name, ds in traces.items():
                rec.traces[name] = np.asarray(ds[:n_steps])
        except RecordingError:
            raise
        except (KeyError, OSError, ValueError, TypeError) as e:
            raise RecordingError(f"{path}: damaged spikegate recording ({type(e).__name__}: {e})") from None
    return rec


def spikes_to_tensor(trains: SpikeTrains, n_steps: int, dt: float) -> Tensor:
    """Binary raster ``[n_steps, n_units]`` as a float tensor."""
    return torch.from_numpy(trains.dense(n_steps, dt)).float()
