"""What every numba kernel of spikegate shares: the threading layer and the thread count.

numba's default OpenMP layer keeps its own spinning thread pool next to PyTorch's; on a machine
with few cores the two pools spin against each other between a PyTorch op and a numba kernel
(measured here: a 0.3 ms kernel took 28 ms). The ``workqueue`` layer parks its threads
instead, so spikegate selects it unless ``NUMBA_THREADING_LAYER`` says otherwise. (It must be
chosen before numba launches its first parallel kernel; later changes have no effect.)
"""

from __future__ import annotations

import os

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
