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


class ParallelKernel:
    """A numba kernel compiled twice: with ``parallel=True`` and as a serial build whose
    ``prange`` loops run as plain loops. Every spikegate kernel takes its worker count as the
    last argument; a call with one worker runs the serial build, because starting a parallel
    region costs about 0.25 ms on this machine even with one thread, five times the whole
    200-step run of a 64-neuron layer at batch 1. Both builds are cached on disk under their
    own names (the serial one as ``<name>_serial``: numba keys cached code by function name and
    bytecode, not by the ``parallel`` flag)."""

    def __init__(self, fn: Callable, options: dict) -> None:
        self.parallel = numba.njit(parallel=True, cache=True, **options)(fn)
        twin = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + "_serial", fn.__defaults__,
                                  fn.__closure__)
        twin.__qualname__ = fn.__qualname__ + "_serial"
        self.serial = numba.njit(cache=True, **options)(twin)
        self.__doc__ = fn.__doc__

    def __call__(self, *args):
        return (self.parallel if args[-1] > 1 else self.serial)(*args)


def parallel_kernel(**options) -> Callable[[Callable], ParallelKernel]:
    """Decorator: ``@parallel_kernel(error_model="numpy")`` in place of
    ``@njit(parallel=True, cache=True, error_model="numpy")`` (see :class:`ParallelKernel`)."""
    return lambda fn: ParallelKernel(fn, options)
