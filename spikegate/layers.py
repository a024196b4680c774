r"""Stateless layers that :class:`spikegate.neurons.Sequential` applies to every time step.

They complete ``torch.nn`` where NIR has a primitive that PyTorch lacks:

* :class:`ElementwiseAffine`: :math:`y = s \odot x + b` with fixed ``s`` and ``b`` (NIR's
  ``Scale`` node, and the input gain :math:`R\,\Delta t/\tau` and leak offset
  :math:`v_{leak}\Delta t/\tau` of an imported NIR neuron, see :mod:`spikegate.export.nir`).
* :class:`SumPool2d`: the sum over each window (NIR's ``SumPool2d``), i.e. average pooling
  times the window size, computed without the division.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from spikegate._validate import check_tensor


class ElementwiseAffine(nn.Module):
    r"""``y = scale * x + bias``, elementwise with broadcasting over ``[N, *features]``.

    ``scale`` and ``bias`` are fixed (buffers, not learned): scalars or tensors that
    broadcast against the feature shape. ``x`` and ``y``: ``[N, *features]``.
    """

    def __init__(self, scale: Tensor | float = 1.0, bias: Tensor | float = 0.0) -> None:
        super().__init__()
        scale = check_tensor(torch.as_tensor(scale, dtype=torch.float64), "scale")
        bias = check_tensor(torch.as_tensor(bias, dtype=torch.float64), "bias")
        self.register_buffer("scale", scale.clone())
        self.register_buffer("bias", bias.clone())

    def forward(self, x: Tensor) -> Tensor:
        scale = self.scale.to(dtype=x.dtype, device=x.device)
        bias = self.bias.to(dtype=x.dtype, device=x.device)
        return x * scale + bias

    def extra_repr(self) -> str:
        scale = tuple(self.scale.shape) or float(self.scale)
        return f"scale={scale}, bias={tuple(self.bias.shape) or float(self.bias)}"


class SumPool2d(nn.AvgPool2d):
    r"""Sum pooling over ``kernel_size`` windows: :math:`y = \sum_{window} x`.

    Average pooling with ``divisor_override=1``, so padded zeros add nothing and no division
    is rounded. ``x: [N, C, H, W]`` -> ``[N, C, H_out, W_out]`` as :class:`torch.nn.AvgPool2d`.
    """

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
    ) -> None:
        super().__init__(kernel_size, stride, padding, divisor_override=1)
