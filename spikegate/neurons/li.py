r"""Leaky integrator (LI): a membrane without threshold or spikes, the usual read-out layer.

One step n (per neuron, same units as the input):

.. math::

    V[n] = \beta V[n-1] + X[n]

with :math:`\beta = e^{-\Delta t/\tau_m}` (or given directly); :math:`\beta = 1` is a pure
integrator. The layer's output is the membrane :math:`V` itself, so a classifier reads the
class scores off the last step (or the maximum over time) instead of counting spikes. This
is the discrete form of NIR's ``LI`` node (and, with :math:`\beta = 1`, of its ``I`` node);
see :mod:`spikegate.export.nir` for the mapping of :math:`\tau`, :math:`R` and
:math:`v_{leak}`.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
from torch import Tensor

from spikegate._validate import check_range
from spikegate.neurons.base import Bounded, NeuronModule
from spikegate.neurons.lif import _decay


class LIParams(NamedTuple):
    """beta: membrane decay in (0, 1], scalar or ``[*features]``."""

    beta: Tensor


class LIState(NamedTuple):
    """v: membrane ``[B, *features]``."""

    v: Tensor


def li_step(x: Tensor, state: LIState, p: LIParams) -> tuple[Tensor, LIState]:
    """One LI step. ``x: [B, *features]`` -> ``(membrane V[n], new state)``."""
    v = p.beta * state.v + x
    return v, LIState(v)


class LI(NeuronModule):
    r"""Multi-step leaky integrator layer (equations in :mod:`spikegate.neurons.li`).

    Args:
        beta: membrane decay :math:`\beta \in (0, 1]`, or give ``tau_mem`` and ``dt``
            (same time unit) for :math:`\beta = e^{-dt/\tau_m}`. Default 0.9.
        shape: feature shape; with ``learn_beta`` the decay is then per neuron.
        learn_beta: learn :math:`\beta = \sigma(\theta_\beta)`, kept in (0, 1).
        backend: ``"auto" | "reference" | "cpu" | "cuda"`` (see :mod:`spikegate.kernels`).

    ``forward(x: [T, B, *features], state=None) -> (membrane [T, B, *features], LIState)``.
    """

    op = "li"
    step = staticmethod(li_step)
    state_type = LIState

    def __init__(
        self,
        beta: float | Tensor | None = None,
        *,
        tau_mem: float | Tensor | None = None,
        dt: float | None = None,
        shape: Sequence[int] | int | None = None,
        learn_beta: bool = False,
        backend: str = "auto",
    ) -> None:
        super().__init__(shape, backend)
        if beta is None and tau_mem is None:
            beta = 0.9
        beta = _decay("beta", beta, tau_mem, dt)
        if learn_beta:
            check_range(beta, "beta", 0.0, 1.0, low_open=True, high_open=True)
        self.beta = Bounded(beta, shape=self.param_shape if learn_beta else (), learnable=learn_beta, transform="unit")

    def params(self) -> LIParams:
        return LIParams(self.beta())

    def initial_state(self, like: Tensor) -> LIState:
        return LIState(torch.zeros_like(like))

    def extra_repr(self) -> str:
        return f"shape={self.shape}"
