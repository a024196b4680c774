r"""Glue for building convertible models: a ReLU MLP, a pre-norm residual wrapper and a
sequence pooling layer.

* :class:`MLP`: :math:`y = W_2\,\mathrm{ReLU}(W_1 x + b_1) + b_2`, the ReLU an unsigned
  :class:`ActQuant` site (an IF encoder after conversion). Used as the FFN and as MoE expert.
* :class:`PreNormResidual`: :math:`x \leftarrow x + f(\mathrm{Norm}(x))`, the norm an
  accumulate-then-compute unit after conversion.
* :class:`SequencePool`: mean (or last) over the sequence axis, kept as a length-1 sequence
  so a time-major ``Sequential`` can follow with a read-out ``Linear``.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from spikegate._validate import check_choice
from spikegate.convert.ann.base import AnnOps, Convertible, SequenceComponent, TokenComponent, check_no_state
from spikegate.convert.ann.quant import ActQuant


class MLP(TokenComponent):
    """Two-layer ReLU MLP ``d_in -> d_hidden -> d_out`` (module docstring); ``x: [..., d_in]``."""

    def __init__(self, d_in: int, d_hidden: int, d_out: int | None = None) -> None:
        super().__init__()
        self.fc1 = nn.Linear(d_in, d_hidden)
        self.act = ActQuant(signed=False)
        self.fc2 = nn.Linear(d_hidden, d_in if d_out is None else d_out)

    def compute(self, ops: AnnOps, x: Tensor, state: Any = None) -> tuple[Tensor, None]:
        check_no_state(state, "MLP")
        return self.fc2(ops.site(self.act, self.fc1(x))), None


class PreNormResidual(SequenceComponent):
    """``x + fn(norm(x))`` over ``x: [L, B, D]``; ``fn`` is any :class:`Convertible` (its state
    is passed through), ``norm`` a ``nn.LayerNorm`` / ``nn.RMSNorm`` (or any module applied
    as a unit)."""

    def __init__(self, norm: nn.Module, fn: Convertible) -> None:
        super().__init__()
        if not isinstance(fn, Convertible):
            raise TypeError(f"fn must be a Convertible component, got {type(fn).__name__}")
        self.norm = norm
        self.fn = fn

    def compute(self, ops: AnnOps, x: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        y, state = self.fn.compute(ops, ops.unit(self.norm, x), state=state)
        return x + y, state


class SequencePool(SequenceComponent):
    """``x: [L, B, D] -> [1, B, D]``: the mean over positions (``mode="mean"``) or the last one
    (``"last"``); linear, so it converts exactly."""

    def __init__(self, mode: str = "mean") -> None:
        super().__init__()
        self.mode = check_choice(mode, "mode", ("mean", "last"))

    def compute(self, ops: AnnOps, x: Tensor, state: Any = None) -> tuple[Tensor, None]:
        check_no_state(state, "SequencePool")
        if self.mode == "mean":
            return x.mean(dim=-3, keepdim=True), None
        return x[..., -1:, :, :], None
