r"""Numba kernels of the sparse 2-D convolution of a spike map (README.md).

A convolution with stride :math:`s` and zero padding :math:`p` maps an input event at
``(b, ci, y, x)`` with value :math:`v` onto every output position ``(oy, ox)`` with
:math:`s\,oy + k_y = y + p` and :math:`s\,ox + k_x = x + p` for a kernel tap ``(ky, kx)``:

* forward: :math:`Y_{b, oy, ox, :} \mathrel{+}= v\, W'_{ci, ky, kx, :}` with the weight laid out
  ``W'[ci, ky, kx, co]``, so every event adds contiguous rows of ``C_out`` values into the
  channels-last output;
* weight gradient: :math:`\partial L/\partial W'_{ci, ky, kx, :} \mathrel{+}= v\, G_{b, oy, ox, :}`
  with the output gradient ``G`` channels-last; each worker accumulates its own copy (summed
  afterwards), so no two threads write the same memory.

Both cost ``nnz(x) * k_h * k_w * C_out`` plus one read of the input map, against
``B * H_out * W_out * C_in * k_h * k_w * C_out`` for the dense convolution. The input gradient is a
transposed convolution of a dense gradient and stays with PyTorch.
"""

from __future__ import annotations

import numpy as np
import torch
from numba import njit, prange
from torch import Tensor

from spikegate.kernels._numba import threads


@njit(cache=True, inline="always")
def _out_index(pos, pad, tap, stride, size):  # pragma: no cover - compiled
    """The output index that input position ``pos`` reaches through kernel tap ``tap``, or -1."""
    t = pos + pad - tap
    if t < 0 or t % stride != 0:
        return -1
    o = t // stride
    return o if o < size else -1


@njit(parallel=True, cache=True, error_model="numpy", fastmath={"contract"})
def _forward(x, wk, bias, out, sh, sw, ph, pw, workers):  # pragma: no cover - compiled
    batch, cin, h, w = x.shape
    _, kh, kw, cout = wk.shape
    ho, wo = out.shape[1], out.shape[2]
    for wid in prange(workers):
        for b in range(wid * batch // workers, (wid + 1) * batch // workers):
            for oy in range(ho):
                for ox in range(wo):
                    out[b, oy, ox, :] = bias
            for ci in range(cin):
                for y in range(h):
                    for xx in range(w):
                        v = x[b, ci, y, xx]
                        if v == 0:
                            continue
                        for ky in range(kh):
                            oy = _out_index(y, ph, ky, sh, ho)
                            if oy < 0:
                                continue
                            for kx in range(kw):
                                ox = _out_index(xx, pw, kx, sw, wo)
                                if ox < 0:
                                    continue
                                row, wrow = out[b, oy, ox], wk[ci, ky, kx]
                                for co in range(cout):
                                    row[co] += v * wrow[co]


@njit(parallel=True, cache=True, error_model="numpy", fastmath={"contract"})
def _weight_grad(x, g, parts, sh, sw, ph, pw, workers):  # pragma: no cover - compiled
    batch, cin, h, w = x.shape
    _, _, kh, kw, cout = parts.shape
    ho, wo = g.shape[1], g.shape[2]
    for wid in prange(workers):
        acc = parts[wid]
        for b in range(wid * batch // workers, (wid + 1) * batch // workers):
            for ci in range(cin):
                for y in range(h):
                    for xx in range(w):
                        v = x[b, ci, y, xx]
                        if v == 0:
                            continue
                        for ky in range(kh):
                            oy = _out_index(y, ph, ky, sh, ho)
                            if oy < 0:
                                continue
                            for kx in range(kw):
                                ox = _out_index(xx, pw, kx, sw, wo)
                                if ox < 0:
                                    continue
                                row, grow = acc[ci, ky, kx], g[b, oy, ox]
                                for co in range(cout):
                                    row[co] += v * grow[co]


def forward(x: Tensor, weight: Tensor, bias: Tensor | None, stride: tuple[int, int],
            padding: tuple[int, int], out_hw: tuple[int, int]) -> Tensor:
    """``conv2d(x, weight, bias)`` for ``x: [B, C_in, H, W]``, ``weight: [C_out, C_in, k_h, k_w]``;
    returns ``[B, C_out, H_out, W_out]`` (a channels-last tensor viewed as NCHW)."""
    cout = weight.shape[0]
    wk = weight.detach().permute(1, 2, 3, 0).contiguous()
    b = x.new_zeros(cout) if bias is None else bias.detach().contiguous()
    out = x.new_empty((x.shape[0], out_hw[0], out_hw[1], cout))
    _forward(x.detach().contiguous().numpy(), wk.numpy(), b.numpy(), out.numpy(), stride[0], stride[1],
             padding[0], padding[1], threads())
    return out.permute(0, 3, 1, 2)


def weight_grad(x: Tensor, grad: Tensor, kernel: tuple[int, int], stride: tuple[int, int],
                padding: tuple[int, int]) -> Tensor:
    """``dL/dW: [C_out, C_in, k_h, k_w]`` from the sparse input ``x: [B, C_in, H, W]`` and the output
    gradient ``grad: [B, C_out, H_out, W_out]``."""
    workers = threads()
    g = grad.detach().permute(0, 2, 3, 1).contiguous()
    parts = np.zeros((workers, x.shape[1], kernel[0], kernel[1], grad.shape[1]), dtype=g.numpy().dtype)
    _weight_grad(x.detach().contiguous().numpy(), g.numpy(), parts, stride[0], stride[1], padding[0], padding[1],
                 workers)
    return torch.from_numpy(parts.sum(0)).permute(3, 0, 1, 2).contiguous()
