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

from spikegate.kernels._numba import parallel_kernel, threads


@njit(cache=True, inline="always")
def _out_index(pos, pad, tap, stride, size):  # pragma: no cover - compiled
    """The output index that input position ``pos`` reaches through kernel tap ``tap``, or -1."""
    t = pos + pad - tap
    if t < 0 or t % stride != 0:
        return -1
    o = t // stride
    return o if o < size else -1


@njit(cache=True, inline="always")
def _reach(y, x, kh, kw, sh, sw, ph, pw, ho, wo, taps):  # pragma: no cover - compiled
    """Fill ``taps[:n] = (ky, kx, oy, ox)`` for every output an input event at ``(y, x)`` reaches;
    returns ``n``."""
    n = 0
    for ky in range(kh):
        oy = _out_index(y, ph, ky, sh, ho)
        if oy < 0:
            continue
        for kx in range(kw):
            ox = _out_index(x, pw, kx, sw, wo)
            if ox >= 0:
                taps[n, 0], taps[n, 1], taps[n, 2], taps[n, 3] = ky, kx, oy, ox
                n += 1
    return n


@parallel_kernel(error_model="numpy", fastmath={"contract"})
def _scatter(x, src, dst, forward, sh, sw, ph, pw, workers):  # pragma: no cover - compiled
    """For every event ``v = x[b, ci, y, x] != 0`` and every tap ``(ky, kx) -> (oy, ox)`` it reaches:
    forward: ``dst[b, oy, ox] += v * src[ci, ky, kx]`` (src: the weight ``[C_in, k_h, k_w, C_out]``,
    dst: the output ``[B, H_out, W_out, C_out]``); weight gradient: ``dst[worker, ci, ky, kx] +=
    v * src[b, oy, ox]`` (src: the output gradient, dst: one weight accumulator per worker, stacked
    as ``[workers * C_in, k_h, k_w, C_out]``, so that both cases index 4-D arrays alike)."""
    batch, cin, h, w = x.shape
    if forward:
        kh, kw, ho, wo = src.shape[1], src.shape[2], dst.shape[1], dst.shape[2]
    else:
        kh, kw, ho, wo = dst.shape[1], dst.shape[2], src.shape[1], src.shape[2]
    cout = src.shape[3]
    for wid in prange(workers):
        taps = np.empty((kh * kw, 4), np.int64)
        for b in range(wid * batch // workers, (wid + 1) * batch // workers):
            for ci in range(cin):
                for y in range(h):
                    for xx in range(w):
                        v = x[b, ci, y, xx]
                        if v == 0:
                            continue
                        for t in range(_reach(y, xx, kh, kw, sh, sw, ph, pw, ho, wo, taps)):
                            ky, kx, oy, ox = taps[t, 0], taps[t, 1], taps[t, 2], taps[t, 3]
                            if forward:
                                row, add = dst[b, oy, ox], src[ci, ky, kx]
                            else:
                                row, add = dst[wid * cin + ci, ky, kx], src[b, oy, ox]
                            for co in range(cout):
                                row[co] += v * add[co]


def forward(x: Tensor, weight: Tensor, bias: Tensor | None, stride: tuple[int, int],
            padding: tuple[int, int], out_hw: tuple[int, int]) -> Tensor:
    """``conv2d(x, weight, bias)`` for ``x: [B, C_in, H, W]``, ``weight: [C_out, C_in, k_h, k_w]``;
    returns ``[B, C_out, H_out, W_out]`` (a channels-last tensor viewed as NCHW)."""
    cout = weight.shape[0]
    wk = weight.detach().permute(1, 2, 3, 0).contiguous()
    b = x.new_zeros(cout) if bias is None else bias.detach().contiguous()
    out = x.new_empty((x.shape[0], out_hw[0], out_hw[1], cout))
    out[...] = b  # a fresh buffer: never a view of the bias
    _scatter(x.detach().contiguous().numpy(), wk.numpy(), out.numpy(), True, stride[0], stride[1], padding[0],
             padding[1], threads())
    return out.permute(0, 3, 1, 2)


def weight_grad(x: Tensor, grad: Tensor, kernel: tuple[int, int], stride: tuple[int, int],
                padding: tuple[int, int]) -> Tensor:
    """``dL/dW: [C_out, C_in, k_h, k_w]`` from the sparse input ``x: [B, C_in, H, W]`` and the output
    gradient ``grad: [B, C_out, H_out, W_out]``."""
    workers = threads()
    g = grad.detach().permute(0, 2, 3, 1).contiguous()
    cin = x.shape[1]
    parts = np.zeros((workers * cin, kernel[0], kernel[1], grad.shape[1]), dtype=g.numpy().dtype)
    _scatter(x.detach().contiguous().numpy(), g.numpy(), parts, False, stride[0], stride[1], padding[0], padding[1],
             workers)
    total = parts.reshape(workers, cin, kernel[0], kernel[1], grad.shape[1]).sum(0)
    return torch.from_numpy(total).permute(3, 0, 1, 2).contiguous()
