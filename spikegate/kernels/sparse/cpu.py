r"""Numba kernels of sparse spike propagation: a dense weight times a mostly-zero input.

The input rows ``x: [R, K]`` (time and batch folded into R) are compressed to CSR once per call;
then

* forward   :math:`y_r = b + \sum_{k: x_{rk} \ne 0} x_{rk} W_{:,k}` — cost ``nnz * N``,
* weight gradient :math:`\partial L/\partial W_{:,k} = \sum_{r: x_{rk} \ne 0} x_{rk}\, g_r` — cost
  ``nnz * N``, the same kernel applied to ``x^T``,

against ``R * K * N`` for the dense products: each nonzero adds one contiguous row (of ``W^T``,
or of the output gradient) into one accumulator row, four nonzeros per pass. The input gradient
``g W`` is dense (every input position gets a surrogate gradient), so it stays a GEMM.
"""

from __future__ import annotations

import numpy as np
from numba import prange
from torch import Tensor

from spikegate.kernels._numba import parallel_kernel, threads


@parallel_kernel()
def _count(x, counts, workers):  # pragma: no cover - compiled
    rows, k = x.shape
    for w in prange(workers):
        for r in range(w * rows // workers, (w + 1) * rows // workers):
            row = x[r]
            c = 0
            for j in range(k):
                c += row[j] != 0
            counts[r + 1] = c


@parallel_kernel()
def _fill(x, ptr, idx, val, workers):  # pragma: no cover - compiled
    rows, k = x.shape
    for w in prange(workers):
        for r in range(w * rows // workers, (w + 1) * rows // workers):
            p = ptr[r]
            for j in range(k):
                v = x[r, j]
                if v != 0:
                    idx[p] = j
                    val[p] = v
                    p += 1


@parallel_kernel(error_model="numpy", fastmath={"contract"})
def _forward(ptr, idx, val, wt, bias, out, workers):  # pragma: no cover - compiled
    """``out[r] = bias + sum_p val[p] * wt[idx[p]]`` over row r's nonzeros; four nonzeros per
    pass, so each output element is loaded and stored once per four weight rows."""
    rows, n = out.shape
    for w in prange(workers):
        for r in range(w * rows // workers, (w + 1) * rows // workers):
            row = out[r]
            row[:] = bias
            p, end = ptr[r], ptr[r + 1]
            while p + 4 <= end:
                w0, w1, w2, w3 = wt[idx[p]], wt[idx[p + 1]], wt[idx[p + 2]], wt[idx[p + 3]]
                v0, v1, v2, v3 = val[p], val[p + 1], val[p + 2], val[p + 3]
                for j in range(n):
                    row[j] += (v0 * w0[j] + v1 * w1[j]) + (v2 * w2[j] + v3 * w3[j])
                p += 4
            while p < end:
                w0, v0 = wt[idx[p]], val[p]
                for j in range(n):
                    row[j] += v0 * w0[j]
                p += 1


def compress(x: Tensor, max_density: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """CSR of ``x: [R, K]``: row pointers ``[R + 1]`` (int64), column indices and values; ``None``
    (after counting, before building anything) when more than ``max_density`` of ``x`` is nonzero."""
    workers = threads()
    a = x.detach().numpy()
    counts = np.zeros(a.shape[0] + 1, np.int64)
    _count(a, counts, workers)
    ptr = np.cumsum(counts)
    if ptr[-1] > max_density * a.size:
        return None
    idx = np.empty(int(ptr[-1]), np.int32)
    val = np.empty(int(ptr[-1]), a.dtype)
    _fill(a, ptr, idx, val, workers)
    return ptr, idx, val


def forward(csr: tuple[np.ndarray, np.ndarray, np.ndarray], wt: Tensor, bias: Tensor | None) -> Tensor:
    """``x W^T + b`` for ``x`` given as CSR ``[R, K]`` and the transposed weight
    ``wt = W^T: [K, N]``. Returns ``[R, N]``."""
    ptr, idx, val = csr
    n = wt.shape[1]
    b = wt.new_zeros(n) if bias is None else bias.detach().contiguous()
    out = wt.new_empty((len(ptr) - 1, n))
    _forward(ptr, idx, val, wt.detach().numpy(), b.numpy(), out.numpy(), threads())
    return out


def weight_grad(csr_t: tuple[np.ndarray, np.ndarray, np.ndarray], grad: Tensor) -> Tensor:
    """``grad^T x`` for ``grad: [R, N]`` and a sparse ``x: [R, K]`` given as the CSR of ``x^T``;
    returns ``[N, K]``. Row k of its transpose is the sum of the rows of ``grad`` where column k
    of ``x`` fires: the forward kernel applied to ``x^T`` and ``grad``."""
    return forward(csr_t, grad.contiguous(), None).t().contiguous()
