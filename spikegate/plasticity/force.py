r"""FORCE learning of linear read-outs by recursive least squares (Sussillo & Abbott 2009;
spiking networks: Nicola & Clopath 2017), the baseline of ``SPEC.md`` §3.6.

For features :math:`r(t)` (``[N]``), read-outs :math:`z = W r` (``W: [M, N]``) and targets
:math:`y^*(t)`, one update:

.. math::

    e &= W r - y^* &\text{(error before the update)}\\
    k &= \frac{P r}{1 + r^\top P r} &\text{(gain)}\\
    P &\leftarrow P - k\,(P r)^\top \\
    W &\leftarrow W - e \otimes k

with :math:`P(0) = I / \alpha`. :math:`P` is a running estimate of the inverse correlation
matrix of the features: it only shrinks, so the effective learning rate decays as updates
accumulate, and after a change of the task statistics FORCE re-adapts slowly unless
:math:`P` is reset (:meth:`FORCE.reset`). The read-outs share one :math:`P`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from spikegate._validate import check_int, check_positive


class FORCEState(NamedTuple):
    """``p [N, N]``: the inverse correlation estimate; ``updates``: updates since the last reset."""

    p: Tensor
    updates: int


@dataclass(frozen=True)
class FORCE:
    r"""Recursive least squares on read-out weights ``[M, N]``.

    Args:
        alpha: regulariser, :math:`P(0) = I/\alpha` (> 0; small alpha = fast initial learning).
    """

    alpha: float = 1.0

    def __post_init__(self) -> None:
        check_positive(self.alpha, "alpha")

    def initial_state(self, n: int, *, dtype: torch.dtype = torch.float64,
                      device: torch.device | str | None = None) -> FORCEState:
        """:math:`P = I/\\alpha` for ``n`` features."""
        check_int(n, "n", minimum=1)
        return FORCEState(torch.eye(n, dtype=dtype, device=device) / self.alpha, 0)

    def reset(self, state: FORCEState) -> FORCEState:
        """Back to :math:`P = I/\\alpha` (the "FORCE with reset" baseline)."""
        return self.initial_state(state.p.shape[0], dtype=state.p.dtype, device=state.p.device)

    def step(self, features: Tensor, target: Tensor, weight: Tensor, state: FORCEState) -> tuple[Tensor, FORCEState]:
        """One update: ``features [N]``, ``target [M]``, ``weight [M, N]`` -> ``(dw [M, N], state)``."""
        n = state.p.shape[0]
        if features.shape != (n,):
            raise ValueError(f"features must be [N] = [{n}], got {tuple(features.shape)}")
        if weight.dim() != 2 or weight.shape[1] != n or target.shape != (weight.shape[0],):
            raise ValueError(f"weight must be [M, {n}] and target [M], got {tuple(weight.shape)} and {tuple(target.shape)}")
        r = features.to(state.p.dtype)
        pr = state.p @ r
        k = pr / (1.0 + r @ pr)
        p = torch.addr(state.p, k, pr, alpha=-1.0)
        error = weight @ r - target
        return -torch.outer(error, k), FORCEState(p, state.updates + 1)
