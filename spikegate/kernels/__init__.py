"""How a neuron's time loop is executed: a backend registry over one reference loop.

``kernels`` never imports ``neurons``: a neuron hands its pure step function to
:func:`spikegate.kernels.dispatch.run`, the reference backend loops it, and fused backends
take the same ``(xs, state, params)`` call with plain tensors and numbers.
"""

from spikegate.kernels.dispatch import BACKENDS, BackendError, available, record, register, run, select

# Fused kernels of the leaky family, registered by name: numba and Triton load on first use.
FUSED_OPS: tuple[str, ...] = ("lif", "cuba_lif", "meta")
for _op in FUSED_OPS:
    for _backend in ("cpu", "cuda"):
        register(
            _op,
            _backend,
            f"spikegate.kernels.{_op}.fused:{_backend}",
            devices=(_backend,),
            supports=f"spikegate.kernels.{_op}.fused:supports_{_backend}",
        )

__all__ = ["BACKENDS", "FUSED_OPS", "BackendError", "available", "record", "register", "run", "select"]
