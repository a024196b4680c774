"""Synapse layers for spike inputs: drop-in ``torch.nn`` layers whose kernels exploit that most
spikes are zero (:mod:`spikegate.kernels.sparse`).

``Linear`` has exactly the parameters and state dict of :class:`torch.nn.Linear`; only the
kernel differs: with ``backend="auto"`` a CPU input at most
:data:`spikegate.kernels.sparse.CROSSOVER` dense is propagated sparsely (forward and weight
gradient cost ``nnz * out_features``), anything else by the dense product.
"""

from __future__ import annotations

from torch import Tensor, nn

from spikegate._validate import check_choice
from spikegate.kernels import BACKENDS
from spikegate.kernels.sparse import linear


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
