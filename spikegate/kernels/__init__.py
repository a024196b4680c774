"""How a neuron's time loop is executed: a backend registry over one reference loop.

``kernels`` never imports ``neurons``: a neuron hands its pure step function to
:func:`spikegate.kernels.dispatch.run`, the reference backend loops it, and fused backends
take the same ``(xs, state, params)`` call with plain tensors and numbers.
"""

from spikegate.kernels.dispatch import BACKENDS, BackendError, available, record, register, run, select

__all__ = ["BACKENDS", "BackendError", "available", "record", "register", "run", "select"]
