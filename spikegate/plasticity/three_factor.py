r"""The error-modulated, attention-gated three-factor Hebbian rule (``SPEC.md`` §3.4).

For read-out weights :math:`W_{mj}` (``[M, N]``: M read-outs, N presynaptic features), with
presynaptic activity :math:`\mathrm{pre}_j(t)`, postsynaptic activity :math:`\mathrm{post}_m(t)`,
a signed error :math:`E_m(t)` (e.g. target minus read-out) and an attention gate
:math:`A_m(t) \in [0, 1]`:

.. math::

    \tau_e \dot e_{mj} &= -e_{mj} + \mathrm{post}_m(t)\,\mathrm{pre}_j(t)
        &\text{(eligibility: Hebbian coincidence)}\\
    \dot W_{mj} &= \eta\, A_m(t)\, E_m(t)\, e_{mj}(t) - \lambda_w W_{mj}
        &\text{(third factor: gated error)}

Discretised over a step of ``dt`` ms with the inputs held constant (exact for the trace):
:math:`e \leftarrow e\,\kappa + (1 - \kappa)\,\mathrm{post} \otimes \mathrm{pre}` with
:math:`\kappa = e^{-\Delta t/\tau_e}`, then
:math:`W \leftarrow \mathrm{clip}(W + \Delta t\,(\eta\, A E \otimes 1 \odot e - \lambda_w W))`.
All three factors are local to the read-out: no error is broadcast to other synapses.

Two ways to apply it:

* online (:meth:`ThreeFactor.step`): the weights change at every step;
* offline consolidation (:meth:`ThreeFactor.accumulate` during a trial, or
  :meth:`ThreeFactor.accumulate_sequence` for a whole trial at once, then
  :meth:`ThreeFactor.consolidate` between trials): the same changes are summed while the
  weights stay fixed, then applied at once, a replay-like batch step (SPEC §3.4, "offline
  consolidation of *what*").

Shapes: ``pre [B, N]``, ``post, error, gate [B, M]`` (``error`` and ``gate`` may be scalars
or ``[M]``); each sample keeps its own eligibility, and a batch contributes the sum of its
samples' changes, as the STDP rules do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from spikegate._validate import check_int, check_positive


class ThreeFactorState(NamedTuple):
    """``eligibility [B, M, N]``: the traces :math:`e_{mj}` of each sample;
    ``pending [M, N]``: changes accumulated for :meth:`ThreeFactor.consolidate`."""

    eligibility: Tensor
    pending: Tensor


def _as_rows(x: Tensor | float, batch: int, m: int, name: str, like: Tensor) -> Tensor:
    t = torch.as_tensor(x, dtype=like.dtype, device=like.device)
    if t.dim() <= 1:
        t = t.expand(batch, m) if t.dim() == 0 or t.shape[0] == m else t
    if t.shape != (batch, m):
        raise ValueError(f"{name} must be a scalar, [M] or [B, M] = [{batch}, {m}], got {tuple(t.shape)}")
    return t


@dataclass(frozen=True)
class ThreeFactor:
    r"""Parameters of the three-factor rule (equations in the module docstring).

    Args:
        eta: learning rate :math:`\eta` (per ms; weight units per unit of error x eligibility).
        tau_e: eligibility time constant :math:`\tau_e` (ms).
        decay: weight decay :math:`\lambda_w` (per ms, >= 0).
        w_min, w_max: weight bounds (default unbounded).
        dt: step in ms.
    """

    eta: float = 1e-4
    tau_e: float = 300.0
    decay: float = 0.0
    w_min: float = -math.inf
    w_max: float = math.inf
    dt: float = 1.0

    def __post_init__(self) -> None:
        check_positive(self.eta, "eta", allow_zero=True)
        check_positive(self.tau_e, "tau_e")
        check_positive(self.decay, "decay", allow_zero=True)
        check_positive(self.dt, "dt")
        if not self.w_min < self.w_max:
            raise ValueError(f"w_min must be below w_max, got {self.w_min} and {self.w_max}")

    def initial_state(self, batch: int, n_pre: int, n_post: int, *, dtype: torch.dtype = torch.float64,
                      device: torch.device | str | None = None) -> ThreeFactorState:
        """Zero eligibility ``[batch, n_post, n_pre]`` and nothing pending ``[n_post, n_pre]``."""
        for name, v in (("batch", batch), ("n_pre", n_pre), ("n_post", n_post)):
            check_int(v, name, minimum=1)
        return ThreeFactorState(torch.zeros(batch, n_post, n_pre, dtype=dtype, device=device),
                                torch.zeros(n_post, n_pre, dtype=dtype, device=device))

    def _trace_and_change(self, pre: Tensor, post: Tensor, error, gate, weight: Tensor, state: ThreeFactorState):
        if pre.dim() != 2 or post.dim() != 2 or pre.shape[0] != post.shape[0]:
            raise ValueError(f"pre and post must be [B, N] and [B, M], got {tuple(pre.shape)} and {tuple(post.shape)}")
        b, n = pre.shape
        m = post.shape[1]
        if weight.shape != (m, n) or state.eligibility.shape != (b, m, n):
            raise ValueError(f"weight must be [M, N] = [{m}, {n}] and the eligibility [B, M, N] = [{b}, {m}, {n}], "
                             f"got {tuple(weight.shape)} and {tuple(state.eligibility.shape)}")
        error = _as_rows(error, b, m, "error", weight)
        gate = _as_rows(gate, b, m, "gate", weight)
        kappa = math.exp(-self.dt / self.tau_e)
        coincidence = post.to(weight.dtype)[:, :, None] * pre.to(weight.dtype)[:, None, :]
        e = state.eligibility * kappa + (1 - kappa) * coincidence
        modulated = torch.einsum("bm,bmn->mn", gate * error, e)
        change = self.dt * (self.eta * modulated - self.decay * weight)
        return e, change

    def _clip(self, w: Tensor) -> Tensor:
        return w.clamp(self.w_min, self.w_max)

    def step(self, pre: Tensor, post: Tensor, error: Tensor | float, gate: Tensor | float, weight: Tensor,
             state: ThreeFactorState) -> tuple[Tensor, ThreeFactorState]:
        """Online: ``(dw [M, N], new state)``; ``weight + dw`` stays in the bounds."""
        e, change = self._trace_and_change(pre, post, error, gate, weight, state)
        return self._clip(weight + change) - weight, ThreeFactorState(e, state.pending)

    def accumulate(self, pre: Tensor, post: Tensor, error: Tensor | float, gate: Tensor | float, weight: Tensor,
                   state: ThreeFactorState) -> ThreeFactorState:
        """Offline: add this step's change to ``state.pending``; the weights stay as they are."""
        e, change = self._trace_and_change(pre, post, error, gate, weight, state)
        return ThreeFactorState(e, state.pending + change)

    def accumulate_sequence(self, pre: Tensor, post: Tensor, error: Tensor, gate: Tensor, weight: Tensor,
                            state: ThreeFactorState) -> ThreeFactorState:
        r""":meth:`accumulate` over ``T`` steps at once (``pre [T, B, N]``, ``post, error, gate
        [T, B, M]``; the weights are fixed, so the sum has a closed form): with
        :math:`g_t = A_t E_t` and :math:`h_s = \sum_{t \ge s} \kappa^{t-s} g_t`,
        :math:`\sum_t g_t e_t = \sum_t \kappa^{t+1} g_t\, e_{-1}
        + (1-\kappa) \sum_s (h_s\,\mathrm{post}_s) \otimes \mathrm{pre}_s`."""
        if pre.dim() != 3 or post.dim() != 3 or post.shape != error.shape or post.shape != gate.shape:
            raise ValueError("pre must be [T, B, N] and post, error, gate [T, B, M]")
        t_len, b, n = pre.shape
        m = post.shape[2]
        if weight.shape != (m, n) or state.eligibility.shape != (b, m, n):
            raise ValueError(f"weight must be [M, N] = [{m}, {n}] and the eligibility [B, M, N] = [{b}, {m}, {n}]")
        kappa = math.exp(-self.dt / self.tau_e)
        g = (gate * error).to(weight.dtype)
        h = torch.empty_like(g)
        acc = torch.zeros_like(g[0])
        for t in range(t_len - 1, -1, -1):
            acc = g[t] + kappa * acc
            h[t] = acc
        post_w, pre_w = post.to(weight.dtype), pre.to(weight.dtype)
        powers = kappa ** torch.arange(1, t_len + 1, dtype=weight.dtype)  # kappa^(t+1)
        modulated = torch.einsum("t,tbm,bmn->mn", powers, g, state.eligibility)
        modulated = modulated + (1 - kappa) * torch.einsum("tbm,tbn->mn", h * post_w, pre_w)
        change = self.dt * (self.eta * modulated - t_len * self.decay * weight)
        tail = kappa ** torch.arange(t_len - 1, -1, -1, dtype=weight.dtype)  # kappa^(T-1-s)
        e = kappa**t_len * state.eligibility + (1 - kappa) * torch.einsum("t,tbm,tbn->bmn", tail, post_w, pre_w)
        return ThreeFactorState(e, state.pending + change)

    def consolidate(self, weight: Tensor, state: ThreeFactorState) -> tuple[Tensor, ThreeFactorState]:
        """Apply what :meth:`accumulate` gathered: ``(dw, state with nothing pending)``."""
        return self._clip(weight + state.pending) - weight, ThreeFactorState(state.eligibility,
                                                                             torch.zeros_like(state.pending))
