"""Deployment to Loihi: integer networks, netx files, the Lava runner and spikegate's emulator.

* :class:`Network` (``Dense``, ``Conv``, ``Flatten``): the integer network; ``run`` is the
  reference, ``from_module``/``to_module`` convert from/to the float twin;
* :func:`emulate`: spikegate's numba emulator; :func:`run_lava`: Intel Lava's fixed-point
  models in the Python 3.10 environment; both return the reference's :class:`NetworkRun`;
* :func:`write_netx` / :func:`read_netx`: lava-dl's netx HDF5 files.
"""

from spikegate.export.lava.emulator import emulate
from spikegate.export.lava.lava_run import LavaError, LavaTiming, LavaUnavailable, lava_python, run_lava, run_lava_jobs
from spikegate.export.lava.netx import NetxUnsupported, read_netx, write_netx
from spikegate.export.lava.network import Conv, Dense, Flatten, Network, NetworkRun

__all__ = [
    "Conv",
    "Dense",
    "Flatten",
    "LavaError",
    "LavaTiming",
    "LavaUnavailable",
    "Network",
    "NetworkRun",
    "NetxUnsupported",
    "emulate",
    "lava_python",
    "read_netx",
    "run_lava",
    "run_lava_jobs",
    "write_netx",
]
