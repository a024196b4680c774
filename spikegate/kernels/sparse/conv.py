r"""2-D convolution of a spike map whose cost follows the number of spikes.

:func:`conv2d` computes ``torch.nn.functional.conv2d(x, weight, bias, stride, padding)`` for
``x: [..., C_in, H, W]`` (leading dimensions, e.g. time and batch, are folded). Backends as for
:func:`spikegate.kernels.sparse.linear`:

* ``"reference"``: the dense convolution (oneDNN on the CPU), any device;
* ``"cpu"``: the numba kernels of :mod:`.conv_cpu` — forward and weight gradient cost
  ``nnz(x) * k_h * k_w * C_out``; CPU tensors only;
* ``"auto"``: on the CPU, sparse when the input's density is at most :data:`CONV_CROSSOVER`,
  dense otherwise; the dense convolution on any other device.

The input gradient (a transposed convolution of the dense output gradient) is dense either way;
the backward keeps what ``nn.Conv2d`` keeps (the input and the weight). Groups and dilation other
than 1 are refused.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from spikegate.kernels.dispatch import note
from spikegate.kernels.sparse.linear import check_backend, sparse_capable

# Density up to which the sparse kernels beat oneDNN's convolution, forward and backward
# together, measured with benchmarks/sparse_linear.py (conv section) on the 2-core Xeon.
CONV_CROSSOVER = 0.02


def _geometry(x: Tensor, weight: Tensor, stride: list[int], padding: list[int]) -> tuple[int, int]:
    kh, kw = weight.shape[2], weight.shape[3]
    return ((x.shape[2] + 2 * padding[0] - kh) // stride[0] + 1, (x.shape[3] + 2 * padding[1] - kw) // stride[1] + 1)


def _sparse(x: Tensor, force: bool) -> bool:
    return force or int(torch.count_nonzero(x)) <= CONV_CROSSOVER * x.numel()


@torch.library.custom_op("spikegate::spike_conv2d", mutates_args=())
def spike_conv2d(x: Tensor, weight: Tensor, bias: Optional[Tensor], stride: list[int], padding: list[int],
                 force_sparse: bool) -> Tensor:
    """``x: [B, C_in, H, W]`` (CPU) -> ``[B, C_out, H_out, W_out]``, sparse or dense as in the module."""
    if not _sparse(x, force_sparse):
        note("conv2d", "reference")
        return F.conv2d(x, weight, bias, stride, padding)
    note("conv2d", "cpu")
    from spikegate.kernels.sparse import conv_cpu

    y = conv_cpu.forward(x, weight, bias, tuple(stride), tuple(padding), _geometry(x, weight, stride, padding))
    return y.contiguous()


@spike_conv2d.register_fake
def _conv_fake(x, weight, bias, stride, padding, force_sparse):
    return x.new_empty((x.shape[0], weight.shape[0], *_geometry(x, weight, stride, padding)))


@torch.library.custom_op("spikegate::spike_conv2d_weight_grad", mutates_args=())
def spike_conv2d_weight_grad(grad: Tensor, x: Tensor, weight_shape: list[int], stride: list[int],
                             padding: list[int], force_sparse: bool) -> Tensor:
    """``dL/dW`` of the convolution, sparse when the input is sparse enough."""
    if not _sparse(x, force_sparse):
        return torch.nn.grad.conv2d_weight(x, weight_shape, grad, stride, padding)
    from spikegate.kernels.sparse import conv_cpu

    return conv_cpu.weight_grad(x, grad, (weight_shape[2], weight_shape[3]), tuple(stride), tuple(padding))


@spike_conv2d_weight_grad.register_fake
def _weight_grad_fake(grad, x, weight_shape, stride, padding, force_sparse):
    return grad.new_empty(weight_shape)


def _setup_context(ctx, inputs, output) -> None:
    x, weight, bias, stride, padding, force_sparse = inputs
    ctx.save_for_backward(x, weight)
    ctx.stride, ctx.padding, ctx.force_sparse = stride, padding, force_sparse
    ctx.has_bias = bias is not None


def _backward(ctx, grad):
    x, weight = ctx.saved_tensors
    need_x, need_w, need_b = ctx.needs_input_grad[:3]
    grad = grad.contiguous()
    gx = torch.nn.grad.conv2d_input(x.shape, weight, grad, ctx.stride, ctx.padding) if need_x else None
    gw = (spike_conv2d_weight_grad(grad, x, list(weight.shape), ctx.stride, ctx.padding, ctx.force_sparse)
          if need_w else None)
    gb = grad.sum((0, 2, 3)) if ctx.has_bias and need_b else None
    return gx, gw, gb, None, None, None


spike_conv2d.register_autograd(_backward, setup_context=_setup_context)


def _pair(value: int | tuple[int, int] | list[int], name: str, minimum: int) -> list[int]:
    pair = [value, value] if isinstance(value, int) else list(value)
    if len(pair) != 2 or not all(isinstance(v, int) and v >= minimum for v in pair):
        raise ValueError(f"{name} must be an int >= {minimum} or a pair of them, got {value!r}")
    return pair


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int | tuple[int, int] = 1,
           padding: int | tuple[int, int] = 0, backend: str = "auto") -> Tensor:
    """``conv2d`` of ``x: [..., C_in, H, W]`` with ``weight: [C_out, C_in, k_h, k_w]`` and zero
    padding -> ``[..., C_out, H_out, W_out]``, on the backend described in the module docstring."""
    check_backend(backend)
    if weight.dim() != 4:
        raise ValueError(f"weight must be [C_out, C_in, k_h, k_w], got shape {tuple(weight.shape)}")
    if x.dim() < 3 or x.shape[-3] != weight.shape[1]:
        raise ValueError(f"x must be [..., {weight.shape[1]}, H, W] for this weight, got shape {tuple(x.shape)}")
    stride, padding = _pair(stride, "stride", 1), _pair(padding, "padding", 0)
    on_cpu = sparse_capable("conv2d", x, backend)
    lead = x.shape[:-3]
    x4 = x.reshape(-1, *x.shape[-3:])
    if backend == "reference" or not on_cpu:
        note("conv2d", "reference")
        y = F.conv2d(x4, weight, bias, stride, padding)
    else:
        y = spike_conv2d(x4.contiguous(), weight.to(x.dtype), None if bias is None else bias.to(x.dtype), stride,
                         padding, backend == "cpu")
    return y.reshape(*lead, *y.shape[1:])
