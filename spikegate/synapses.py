"""Synapse layers for spike inputs: drop-in ``torch.nn`` layers whose kernels exploit that most
spikes are zero (:mod:`spikegate.kernels.sparse`).

``Linear`` and ``Conv2d`` have exactly the parameters and state dicts of :class:`torch.nn.Linear`
and :class:`torch.nn.Conv2d`; only the kernel differs: with ``backend="auto"`` a CPU input at most
:data:`spikegate.kernels.sparse.CROSSOVER` (``CONV_CROSSOVER``) dense is propagated sparsely
(forward and weight gradient cost ``nnz * out_features``, ``nnz * k_h * k_w * out_channels``),
anything else by the dense product.
"""

from __future__ import annotations

from torch import Tensor, nn

from spikegate._validate import check_choice
from spikegate.kernels import BACKENDS
from spikegate.kernels.sparse import conv2d, linear


class Linear(nn.Linear):
    """:math:`y = x W^T + b` over the last dimension of ``x: [..., in_features]``.

    Args:
        in_features, out_features, bias, device, dtype: as :class:`torch.nn.Linear`.
        backend: ``"auto"`` (sparse when the input is sparse enough, on the CPU),
            ``"cpu"`` (always sparse), ``"reference"`` (always dense); ``"cuda"`` has no
            sparse kernel and is refused.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        backend: str = "auto",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(in_features, out_features, bias, device=device, dtype=dtype)
        self.backend = check_choice(backend, "backend", BACKENDS)

    def forward(self, x: Tensor) -> Tensor:
        return linear(x, self.weight, self.bias, self.backend)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, backend={self.backend!r}"


class Conv2d(nn.Conv2d):
    r""":math:`Y = W \star X + b` over the last three dimensions of ``x: [..., C_in, H, W]`` (zero
    padding; leading dimensions such as time and batch are folded).

    Args:
        in_channels, out_channels, kernel_size, stride, padding, bias, device, dtype: as
            :class:`torch.nn.Conv2d` (integer or pair padding; groups and dilation are 1).
        backend: ``"auto"`` (sparse when the input is sparse enough, on the CPU), ``"cpu"``
            (always sparse), ``"reference"`` (always dense); ``"cuda"`` is refused.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        bias: bool = True,
        *,
        backend: str = "auto",
        device=None,
        dtype=None,
    ) -> None:
        if isinstance(padding, str):
            raise ValueError(f"padding must be an int or a pair of ints, got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, bias=bias, device=device,
                         dtype=dtype)
        self.backend = check_choice(backend, "backend", BACKENDS)

    def forward(self, x: Tensor) -> Tensor:
        return conv2d(x, self.weight, self.bias, self.stride, self.padding, self.backend)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, backend={self.backend!r}"
