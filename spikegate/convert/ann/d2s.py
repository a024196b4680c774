r"""Temperature (dense-to-sparse) gating (Nie et al. 2021; analysed by Nguyen, Akbarian & Ho,
ICML 2024, arXiv 2401.13875), with the activation-before-softmax variant.

For a token :math:`x` and :math:`E` experts, scores :math:`z = W x + b`:

.. math::

    \text{plain: } g &= \mathrm{softmax}(z / \tau) \\
    \text{activation variant: } g &= \mathrm{softmax}(a(z) / \tau), \quad a \in \{\sigma, \tanh\}

The temperature is annealed from :math:`\tau_0` (dense) to :math:`\tau_1` (sparse) over
``anneal_steps`` optimiser steps, exponentially,
:math:`\tau(s) = \tau_0 (\tau_1/\tau_0)^{\min(s/S, 1)}`, or linearly. The activation breaks the
interaction between :math:`\tau` and :math:`W` that makes the plain gate's parameter estimates
converge slowly (the paper's motivation). The schedule is explicit: call :meth:`anneal` with the
step number; the current :math:`\tau` is a buffer saved with the model.

Conversion converts the gate at its current (final, low) temperature: the scores accumulate
from the input spikes, :math:`a` and the softmax are accumulate-then-compute units. As the
router of a :class:`~spikegate.convert.ann.TopKMoE` the top-k choice is latched at the window end.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from spikegate._validate import check_choice, check_int, check_positive
from spikegate.convert.ann.base import AnnOps, TokenComponent, check_no_state

ACTIVATIONS = {"none": None, "sigmoid": torch.sigmoid, "tanh": torch.tanh}


class DenseToSparseGate(TokenComponent):
    """Tempered softmax gate (module docstring).

    Args:
        d_model, n_experts: input width and number of experts.
        activation: ``"none"`` (plain dense-to-sparse gate) | ``"sigmoid"`` | ``"tanh"``.
        tau_start, tau_end: initial and final temperature (> 0).
        anneal_steps: steps of the schedule; schedule: ``"exponential"`` | ``"linear"``.

    ``forward(x: [..., d_model]) -> g: [..., n_experts]`` (rows sum to 1).
    """

    def __init__(
        self,
        d_model: int,
        n_experts: int,
        activation: str = "none",
        tau_start: float = 2.0,
        tau_end: float = 0.1,
        anneal_steps: int = 1000,
        schedule: str = "exponential",
    ) -> None:
        super().__init__()
        check_int(n_experts, "n_experts", minimum=1)
        self.activation = check_choice(activation, "activation", tuple(ACTIVATIONS))
        check_positive(tau_start, "tau_start")
        check_positive(tau_end, "tau_end")
        self.tau_start, self.tau_end = float(tau_start), float(tau_end)
        self.anneal_steps = check_int(anneal_steps, "anneal_steps", minimum=1)
        self.schedule = check_choice(schedule, "schedule", ("exponential", "linear"))
        self.proj = nn.Linear(d_model, n_experts)
        self.register_buffer("tau", torch.tensor(self.tau_start))

    def temperature(self, step: int) -> float:
        """:math:`\\tau` after ``step`` optimiser steps (module docstring)."""
        check_int(step, "step")
        f = min(step / self.anneal_steps, 1.0)
        if self.schedule == "exponential":
            return self.tau_start * (self.tau_end / self.tau_start) ** f
        return self.tau_start + (self.tau_end - self.tau_start) * f

    def anneal(self, step: int) -> float:
        """Set the temperature buffer for ``step`` and return it."""
        tau = self.temperature(step)
        self.tau.fill_(tau)
        return tau

    def logits(self, ops: AnnOps, x: Tensor) -> Tensor:
        """The tempered scores :math:`a(z)/\\tau` whose softmax is the gate."""
        z = self.proj(x)
        act = ACTIVATIONS[self.activation]
        if act is not None:
            z = ops.unit(act, z)
        return z / self.tau.to(z.dtype)

    def compute(self, ops: AnnOps, x: Tensor, state: Any = None) -> tuple[Tensor, None]:
        check_no_state(state, "DenseToSparseGate")
        return ops.unit(lambda s: torch.softmax(s, dim=-1), self.logits(ops, x)), None
