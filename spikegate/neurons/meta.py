r"""The learnable probabilistic meta-neuron (``../shared/papers/SPEC.md`` §2.4).

A current-based LIF whose spikes are escape-noise Bernoulli draws, and whose *intrinsic*
parameters (membrane and synaptic time constants, threshold, noise temperature) are learned
together with the weights:

.. math::

    I[n] &= \alpha I[n-1] + X[n], &\alpha = e^{-\Delta t/\tau_s} \\
    U[n] &= \beta V[n-1] + I[n],  &\beta = e^{-\Delta t/\tau_m} \\
    p[n] &= \sigma\big((U[n] - \vartheta)/\kappa\big)  &\text{(escape noise, temperature } \kappa) \\
    S[n] &= \mathbb{1}[\xi[n] < p[n]], \quad \xi[n] \sim U(0, 1) &\text{(a Bernoulli(p) draw)} \\
    V[n] &= U[n] - \vartheta S[n] \ \text{(subtract)} \quad\text{or}\quad U[n](1 - S[n]) \ \text{(zero)}

The backward pass is the straight-through estimator through the firing probability
(Bengio et al. 2013): :math:`\partial S/\partial U := \partial p/\partial U
= \sigma'(\cdot)/\kappa`. Learnable values stay physical through their parametrization:
:math:`\tau = \tau_{min} + \mathrm{softplus}(\theta_\tau)`,
:math:`\vartheta = \mathrm{softplus}(\theta_\vartheta)`,
:math:`\kappa = \mathrm{softplus}(\theta_\kappa)`.

The noise :math:`\xi` is drawn up front from the caller's ``generator`` and handed to the
kernel as a second input, so every backend sees the same sample and the same seed gives the
same spikes. With ``stochastic=False`` the draw is replaced by :math:`\xi = 1/2`, i.e. the
neuron fires when :math:`U > \vartheta` (mean-field / evaluation mode).
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
from torch import Tensor

from spikegate._validate import check_choice, check_positive
from spikegate.neurons.base import Bounded, NeuronModule
from spikegate.neurons.lif import RESETS, apply_reset
from spikegate.surrogate import bernoulli_ste

INTRINSIC: tuple[str, ...] = ("tau_mem", "tau_syn", "threshold", "kappa")


class MetaParams(NamedTuple):
    """alpha, beta: decays in (0, 1); threshold, kappa > 0; scalars or ``[*features]``."""

    alpha: Tensor
    beta: Tensor
    threshold: Tensor
    kappa: Tensor
    reset: str = "subtract"


class MetaState(NamedTuple):
    i: Tensor
    v: Tensor


def meta_step(x: tuple[Tensor, Tensor], state: MetaState, p: MetaParams) -> tuple[Tensor, MetaState]:
    """One step. ``x = (current [B, *f], noise [B, *f] in [0, 1))``."""
    current, noise = x
    i = p.alpha * state.i + current
    u = p.beta * state.v + i
    prob = torch.sigmoid((u - p.threshold) / p.kappa)
    s = bernoulli_ste(prob, noise)
    return s, MetaState(i, apply_reset(u, s, p.threshold, p.reset))


class MetaNeuron(NeuronModule):
    r"""Multi-step probabilistic meta-neuron layer.

    Args:
        tau_mem, tau_syn: time constants (> 0, same unit as ``dt``).
        threshold: :math:`\vartheta > 0`; kappa: noise temperature :math:`\kappa > 0`.
        dt: step (> 0).
        reset: ``"subtract"`` | ``"zero"`` | ``"none"``.
        shape: feature shape (learned values per neuron); ``None`` = one per layer.
        learn: which intrinsic parameters are learned, a subset of
            ``("tau_mem", "tau_syn", "threshold", "kappa")``; ``()`` keeps them fixed.
        tau_min: lower bound of the learned time constants.
        stochastic: draw Bernoulli spikes (True) or fire deterministically when
            :math:`U > \vartheta` (False).

    ``forward(x: [T, B, *features], state=None, *, generator=None) -> (spikes, MetaState)``.
    """

    op = "meta"
    step = staticmethod(meta_step)
    state_type = MetaState

    def __init__(
        self,
        tau_mem: float | Tensor = 10.0,
        tau_syn: float | Tensor = 5.0,
        threshold: float | Tensor = 1.0,
        kappa: float | Tensor = 0.1,
        *,
        dt: float = 1.0,
        reset: str = "subtract",
        shape: Sequence[int] | int | None = None,
        learn: Sequence[str] = INTRINSIC,
        tau_min: float = 0.0,
        stochastic: bool = True,
        backend: str = "auto",
    ) -> None:
        super().__init__(shape, backend)
        check_positive(dt, "dt")
        for name, value in (("tau_mem", tau_mem), ("tau_syn", tau_syn), ("threshold", threshold), ("kappa", kappa)):
            check_positive(value, name)
        check_positive(tau_min, "tau_min", allow_zero=True)
        learn = tuple(learn)
        for name in learn:
            check_choice(name, "learn entry", INTRINSIC)
        self.dt = float(dt)
        self.reset = check_choice(reset, "reset", RESETS)
        self.stochastic = bool(stochastic)
        ps = self.param_shape

        def make(value, name, transform, minimum=0.0):
            on = name in learn
            return Bounded(value, shape=ps if on else (), learnable=on, transform=transform, minimum=minimum)

        self.tau_mem = make(tau_mem, "tau_mem", "tau", tau_min)
        self.tau_syn = make(tau_syn, "tau_syn", "tau", tau_min)
        self.threshold = make(threshold, "threshold", "positive")
        self.kappa = make(kappa, "kappa", "positive")

    def params(self) -> MetaParams:
        return MetaParams(
            torch.exp(-self.dt / self.tau_syn()),
            torch.exp(-self.dt / self.tau_mem()),
            self.threshold(),
            self.kappa(),
            self.reset,
        )

    def initial_state(self, like: Tensor) -> MetaState:
        return MetaState(torch.zeros_like(like), torch.zeros_like(like))

    def _inputs(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        if self.stochastic:
            noise = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        else:
            noise = torch.full_like(x, 0.5)
        return x, noise

    def extra_repr(self) -> str:
        return f"shape={self.shape}, dt={self.dt}, reset={self.reset!r}, stochastic={self.stochastic}"
