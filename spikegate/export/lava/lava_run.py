"""Main side of the Lava bridge: find the Lava interpreter, hand it a job, read the spikes back.

Lava runs only on Python 3.10 (``make lava-env`` builds ``.venv-lava`` in the repository root).
The interpreter is ``$SPIKEGATE_LAVA_PYTHON`` if set, else ``<repo>/.venv-lava/bin/python``.
Networks travel as netx files (with spikegate's extensions) inside one HDF5 job, the runner
(``runner/runner.py``, a script that imports only numpy, h5py and lava) runs them in a subprocess and
writes the spikes into a result file.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Callable, NamedTuple, Sequence

import torch
from torch import Tensor

from spikegate.export.lava.netx import write_layers
from spikegate.export.lava.network import RECORD, Network, NetworkRun

ENV_VAR = "SPIKEGATE_LAVA_PYTHON"
RUNNER = Path(__file__).with_name("runner") / "runner.py"


class LavaUnavailable(RuntimeError):
    """No usable Lava environment; the message says how to build one."""


class LavaError(RuntimeError):
    """The Lava runner failed; the message carries the end of its error output."""


class LavaTiming(NamedTuple):
    """Seconds spent by the runner: building and compiling the process graph, and running it."""

    build_s: float
    run_s: float


def repo_root() -> Path:
    """The folder that holds the ``spikegate`` package (the repository root of a checkout)."""
    return Path(__file__).resolve().parents[3]


def lava_python() -> str:
    """Path of the Lava interpreter (``$SPIKEGATE_LAVA_PYTHON`` or ``<repo>/.venv-lava/bin/python``).

    Raises :class:`LavaUnavailable` if it does not exist."""
    path = os.environ.get(ENV_VAR) or str(repo_root() / ".venv-lava" / "bin" / "python")
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise LavaUnavailable(
            f"no Lava interpreter at {path}: build it with `make lava-env` (Python 3.10, lava-nc 0.10) "
            f"or point {ENV_VAR} at one"
        )
    return path


def run_lava_jobs(
    jobs: Sequence[tuple[Network, Tensor]],
    *,
    record: str = "output",
    progress: Callable[[int], None] | None = None,
) -> list[tuple[NetworkRun, LavaTiming]]:
    """Run several ``(network, spikes [T, B, *input_shape])`` jobs in one Lava process (one
    interpreter start for all). Returns one ``(NetworkRun, LavaTiming)`` per job; ``progress(n)``
    is called as samples finish."""
    import h5py

    if record not in RECORD:
        raise ValueError(f"record must be one of {', '.join(RECORD)}; got {record!r}")
    if not jobs:
        raise ValueError("jobs must hold at least one (network, spikes) pair")
    python = lava_python()
    inputs = [net.check_input(spikes, f"jobs[{i}] spikes") for i, (net, spikes) in enumerate(jobs)]
    with tempfile.TemporaryDirectory(prefix="spikegate-lava-") as tmp:
        job_path, out_path, err_path = (os.path.join(tmp, n) for n in ("job.h5", "result.h5", "stderr.txt"))
        with h5py.File(job_path, "w") as f:
            for i, ((net, _), x) in enumerate(zip(jobs, inputs)):
                g = f.create_group(f"runs/{i}")
                g.attrs["record"] = record
                g.attrs["chunks"] = 1 if progress is None else 20  # each run() call costs a little
                write_layers(g.create_group("layer"), net, extensions=True)
                g.create_dataset("input", data=x.transpose(0, 1).contiguous().numpy(), compression="gzip",
                                 compression_opts=1)
        _spawn([python, str(RUNNER), job_path, out_path], err_path, progress)
        with h5py.File(out_path, "r") as f:
            return [_read_result(f[f"runs/{i}"], record) for i in range(len(jobs))]


def _read_result(g, record: str) -> tuple[NetworkRun, LavaTiming]:
    keys = sorted(g["spikes"].keys(), key=int)

    def load(name: str) -> list[Tensor]:  # [B, T, ...] in the file -> [T, B, ...]
        return [torch.from_numpy(g[f"{name}/{k}"][()]).transpose(0, 1).contiguous() for k in keys]

    run = NetworkRun(load("spikes"), *((load("u"), load("v")) if record == "states" else ()))
    return run, LavaTiming(float(g.attrs["build_s"]), float(g.attrs["run_s"]))


def _spawn(cmd: list[str], err_path: str, progress: Callable[[int], None] | None) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    with open(err_path, "w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env)
        done = 0
        try:
            for line in proc.stdout or ():
                parts = line.split()
                if len(parts) == 3 and parts[0] == "progress":
                    now = int(parts[1])
                    if progress is not None and now > done:
                        progress(now - done)
                    done = now
            proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    if proc.returncode != 0:
        with open(err_path) as fh:
            tail = fh.read()[-3000:]
        raise LavaError(f"the Lava runner exited with status {proc.returncode}:\n{tail}")


def run_lava(
    net: Network,
    spikes: Tensor,
    *,
    record: str = "output",
    progress: Callable[[int], None] | None = None,
) -> NetworkRun:
    """Run ``spikes: [T, B, *input_shape]`` through ``net`` on Lava's bit-accurate models
    (``Loihi2SimCfg(select_tag="fixed_pt")``), all samples in one run. Same result type as
    :meth:`Network.run` and :func:`~spikegate.export.lava.emulate`."""
    return run_lava_jobs([(net, spikes)], record=record, progress=progress)[0][0]
