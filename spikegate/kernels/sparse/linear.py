r"""Linear map of a spike tensor whose cost follows the number of spikes.

:func:`linear` computes :math:`y = x W^T + b` for ``x: [..., K]``. Backends:

* ``"reference"``: the dense product (:func:`torch.nn.functional.linear`), any device;
* ``"cpu"``: the sparse kernels of :mod:`.cpu` — forward and weight gradient cost
  ``nnz(x) * N`` instead of ``R * K * N``; CPU tensors only;
* ``"auto"``: on the CPU, sparse when the input's density (fraction of nonzeros) is at most
  :data:`CROSSOVER`, dense otherwise; the dense product on any other device.

The choice is made inside the custom operator ``spikegate::spike_linear`` when it runs, so it
follows each batch's spike rate and a compiled graph keeps it. :func:`spikegate.kernels.record`
logs ``("linear", "cpu")`` or ``("linear", "reference")`` for every call.

The input gradient :math:`g W` is dense either way. The weight gradient is recomputed sparsely
from the saved input, so the backward keeps exactly what ``nn.Linear`` keeps.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from spikegate.kernels.dispatch import BACKENDS, BackendError, note

# Density (nonzeros / elements) up to which the sparse kernels beat oneDNN's dense GEMM, for
# forward and backward together. Measured with benchmarks/sparse_linear.py on the 2-core
# Xeon (AVX-512) these kernels were written on; see README.md.
CROSSOVER = 0.05


def _compressed(x: Tensor, force: bool) -> tuple | None:
    """The CSR of ``x: [R, K]`` if the sparse kernels should run (forced, or density at most
    :data:`CROSSOVER`), else ``None``."""
    from spikegate.kernels.sparse import cpu

    return cpu.compress(x, 1.0 if force else CROSSOVER)


@torch.library.custom_op("spikegate::spike_linear", mutates_args=())
def spike_linear(x: Tensor, weight: Tensor, bias: Optional[Tensor], force_sparse: bool) -> Tensor:
    """``x: [R, K]`` (CPU) -> ``[R, N]``, sparse or dense as described in the module."""
    csr = _compressed(x, force_sparse)
    note("linear", "reference" if csr is None else "cpu")
    if csr is None:
        return F.linear(x, weight, bias)
    from spikegate.kernels.sparse import cpu

    return cpu.forward(csr, weight.t().contiguous(), bias)


@spike_linear.register_fake
def _spike_linear_fake(x, weight, bias, force_sparse):
    return x.new_empty((x.shape[0], weight.shape[0]))


@torch.library.custom_op("spikegate::spike_linear_weight_grad", mutates_args=())
def spike_linear_weight_grad(grad: Tensor, x: Tensor, force_sparse: bool) -> Tensor:
    """``grad^T x`` (``[N, K]``), sparse when the input is sparse enough."""
    csr_t = _compressed(x.t().contiguous(), force_sparse)
    if csr_t is None:
        return grad.t() @ x
    from spikegate.kernels.sparse import cpu

    return cpu.weight_grad(csr_t, grad)


@spike_linear_weight_grad.register_fake
def _weight_grad_fake(grad, x, force_sparse):
    return grad.new_empty((grad.shape[1], x.shape[1]))


def _setup_context(ctx, inputs, output) -> None:
    x, weight, bias, force_sparse = inputs
    ctx.save_for_backward(x, weight)
    ctx.force_sparse = force_sparse
    ctx.has_bias = bias is not None


def _backward(ctx, grad):
    x, weight = ctx.saved_tensors
    need_x, need_w, need_b, _ = ctx.needs_input_grad
    gx = grad @ weight if need_x else None
    gw = spike_linear_weight_grad(grad, x, ctx.force_sparse) if need_w else None
    gb = grad.sum(0) if ctx.has_bias and need_b else None
    return gx, gw, gb, None


spike_linear.register_autograd(_backward, setup_context=_setup_context)


def check_backend(backend: str) -> None:
    """Refuse a backend name that does not exist."""
    if backend not in BACKENDS:
        raise BackendError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")


def sparse_capable(op: str, x: Tensor, backend: str) -> bool:
    """Whether the sparse CPU kernels of ``op`` can take ``x`` (float32/float64 on the CPU); a
    backend that cannot serve the call (``"cuda"``, or ``"cpu"`` for another tensor) is refused."""
    on_cpu = x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64)
    if backend == "cuda":
        raise BackendError(f"no sparse CUDA kernel is registered for {op!r}; available: auto, reference, cpu")
    if backend == "cpu" and not on_cpu:
        raise BackendError(
            f"the sparse 'cpu' kernel for {op!r} runs on float32/float64 CPU tensors, not "
            f"{x.dtype} on {x.device.type}; backends that can: reference"
        )
    return on_cpu


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None, backend: str = "auto") -> Tensor:
    """:math:`x W^T + b` for ``x: [..., K]``, ``weight: [N, K]``, ``bias: [N]`` -> ``[..., N]``,
    on the backend described in the module docstring."""
    check_backend(backend)
    if x.shape[-1] != weight.shape[1]:
        raise ValueError(f"x has {x.shape[-1]} features, but weight expects {weight.shape[1]}")
    if backend == "reference" or not sparse_capable("linear", x, backend):
        note("linear", "reference")
        return F.linear(x, weight, bias)
    x2 = x.reshape(-1, x.shape[-1]).contiguous()
    y = spike_linear(x2, weight.to(x.dtype), None if bias is None else bias.to(x.dtype), backend == "cpu")
    return y.reshape(*x.shape[:-1], weight.shape[0])
