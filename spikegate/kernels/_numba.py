"""What every numba kernel of spikegate shares: the threading layer and the thread count.

numba's default OpenMP layer keeps its own spinning thread pool next to PyTorch's; on a machine
with few cores the two pools spin against each other between a PyTorch op and a numba kernel
(measured here: a 0.3 ms kernel took 28 ms). The ``workqueue`` layer parks its threads
instead, so spikegate selects it unless ``NUMBA_THREADING_LAYER`` says otherwise. (It must be
chosen before numba launches its first parallel kernel; later changes have no effect.)
"""

from __future__ import annotations

import os
import types
from typing import Callable

import numba
import torch

if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"


def threads() -> int:
    """Threads for one kernel call: PyTorch's setting (``torch.set_num_threads``), capped by
    numba's pool; the caller passes it to :func:`numba.set_num_threads` and the kernel."""
    count = max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(count)
    return count


def serial_twin(kernel: Callable, **options) -> Callable:
    """``kernel`` (a ``parallel=True`` dispatcher) compiled once more without ``parallel``:
    its ``prange`` loops run as plain loops. Launching a parallel region costs about 0.25 ms
    on this machine even with one thread, five times the whole 200-step run of a 64-neuron
    layer at batch 1, so one-thread calls take the twin. The twin is a copy of the Python
    function under its own name (``<name>_serial``), which gives it its own on-disk cache
    entry: numba keys cached code by function name and bytecode, not by the
    ``parallel`` flag."""
    fn = kernel.py_func
    twin = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + "_serial", fn.__defaults__, fn.__closure__)
    twin.__qualname__ = fn.__qualname__ + "_serial"
    twin.__doc__ = fn.__doc__
    return numba.njit(cache=True, **options)(twin)
