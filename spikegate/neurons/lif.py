r"""Leaky integrate-and-fire neurons in discrete time: ``LIF`` and current-based ``CubaLIF``.

LIF, one step n (all quantities per neuron, dimensionless membrane units):

.. math::

    U[n] &= \beta V[n-1] + X[n]                      &\text{(charge)} \\
    S[n] &= H(U[n] - \vartheta)                      &\text{(fire; } H(0) = 1) \\
    V[n] &= U[n] - \vartheta S[n]                    &\text{reset="subtract"} \\
    V[n] &= U[n] (1 - S[n])                          &\text{reset="zero"} \\
    V[n] &= U[n]                                     &\text{reset="none"}

with :math:`\beta = e^{-\Delta t/\tau_m}` (:math:`\beta = 1` is the IF neuron). This is the
exponential-Euler solution of :math:`\tau_m \dot V = -V + R I(t)` with the input already in
units of voltage per step, :math:`X[n] = R I[n] (1 - \beta)`, or simply a synaptic kick.
It equals snnTorch's ``Leaky(reset_delay=False)`` operation for operation.

With a refractory period of ``r`` steps, a neuron that fired holds :math:`V` and ignores its
input for the next ``r`` steps (``state.refrac`` counts them down).

CubaLIF adds a synaptic current with its own decay :math:`\alpha = e^{-\Delta t/\tau_s}`:

.. math::

    I[n] = \alpha I[n-1] + X[n], \qquad U[n] = \beta V[n-1] + I[n]

then fires and resets as LIF (snnTorch ``Synaptic(reset_delay=False)``).
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
from torch import Tensor

from spikegate._validate import check_choice, check_int, check_positive, check_range
from spikegate.neurons.base import Bounded, NeuronModule, decay_from_tau
from spikegate.surrogate import SurrogateSpec, spike
from spikegate.surrogate import surrogate as make_surrogate

RESETS: tuple[str, ...] = ("subtract", "zero", "none")


class LIFParams(NamedTuple):
    """beta: membrane decay in (0, 1]; threshold > 0; both scalar or ``[*features]``."""

    beta: Tensor
    threshold: Tensor
    reset: str = "subtract"
    refractory: int = 0
    surrogate: SurrogateSpec = SurrogateSpec()


class LIFState(NamedTuple):
    """v: membrane after reset ``[B, *features]``; refrac: remaining refractory steps
    (``None`` when the layer has no refractory period)."""

    v: Tensor
    refrac: Tensor | None = None


def apply_reset(u: Tensor, s: Tensor, threshold: Tensor, reset: str) -> Tensor:
    """Membrane after the spike decision (see the module equations)."""
    if reset == "subtract":
        return u - threshold * s
    if reset == "zero":
        return u * (1 - s)
    return u


def lif_step(x: Tensor, state: LIFState, p: LIFParams) -> tuple[Tensor, LIFState]:
    """One LIF step. ``x: [B, *features]`` -> ``(spikes, new state)``."""
    u = p.beta * state.v + x
    if state.refrac is None:
        s = spike(u - p.threshold, p.surrogate)
        return s, LIFState(apply_reset(u, s, p.threshold, p.reset))
    active = state.refrac <= 0
    u = torch.where(active, u, state.v)
    s = spike(u - p.threshold, p.surrogate) * active
    refrac = torch.where(s > 0, torch.full_like(state.refrac, p.refractory), (state.refrac - 1).clamp(min=0))
    return s, LIFState(apply_reset(u, s, p.threshold, p.reset), refrac)


class CubaLIFParams(NamedTuple):
    """alpha: synaptic decay, beta: membrane decay, both in (0, 1]; threshold > 0."""

    alpha: Tensor
    beta: Tensor
    threshold: Tensor
    reset: str = "subtract"
    surrogate: SurrogateSpec = SurrogateSpec()


class CubaLIFState(NamedTuple):
    i: Tensor
    v: Tensor


def cuba_lif_step(x: Tensor, state: CubaLIFState, p: CubaLIFParams) -> tuple[Tensor, CubaLIFState]:
    """One current-based LIF step. ``x: [B, *features]`` -> ``(spikes, new state)``."""
    i = p.alpha * state.i + x
    u = p.beta * state.v + i
    s = spike(u - p.threshold, p.surrogate)
    return s, CubaLIFState(i, apply_reset(u, s, p.threshold, p.reset))


def _decay(name: str, value: float | Tensor | None, tau: float | Tensor | None, dt: float | None) -> float | Tensor:
    if value is not None and tau is not None:
        raise ValueError(f"give either {name} or its time constant with dt, not both")
    if tau is not None:
        if dt is None:
            raise ValueError(f"dt is needed to derive {name} from a time constant")
        check_positive(dt, "dt")
        check_positive(tau, f"tau for {name}")
        value = decay_from_tau(torch.as_tensor(tau, dtype=torch.float64), dt)
    if value is None:
        raise ValueError(f"{name} (or its time constant and dt) is required")
    check_range(value, name, 0.0, 1.0, low_open=True)
    return value


class LIF(NeuronModule):
    r"""Multi-step LIF layer (equations in :mod:`spikegate.neurons.lif`).

    Args:
        beta: membrane decay :math:`\beta \in (0, 1]`, or give ``tau_mem`` and ``dt``
            (same time unit) for :math:`\beta = e^{-dt/\tau_m}`.
        threshold: firing threshold :math:`\vartheta > 0`.
        reset: ``"subtract"`` | ``"zero"`` | ``"none"``.
        shape: feature shape; with ``learn_beta``/``learn_threshold`` the parameters are then
            per neuron, otherwise one value per layer.
        learn_beta: learn :math:`\beta = \sigma(\theta_\beta)`, kept in (0, 1).
        learn_threshold: learn :math:`\vartheta = \mathrm{softplus}(\theta_\vartheta) > 0`.
        refractory: refractory period in steps (0 = none).
        surrogate: backward surrogate (kind name or :class:`SurrogateSpec`).
        backend: ``"auto" | "reference" | "cpu" | "cuda"`` (see :mod:`spikegate.kernels`).

    ``forward(x: [T, B, *features], state=None) -> (spikes [T, B, *features], LIFState)``.
    """

    op = "lif"
    step = staticmethod(lif_step)
    state_type = LIFState

    def __init__(
        self,
        beta: float | Tensor | None = None,
        threshold: float | Tensor = 1.0,
        reset: str = "subtract",
        *,
        tau_mem: float | Tensor | None = None,
        dt: float | None = None,
        shape: Sequence[int] | int | None = None,
        learn_beta: bool = False,
        learn_threshold: bool = False,
        refractory: int = 0,
        surrogate: str | SurrogateSpec = "atan",
        backend: str = "auto",
    ) -> None:
        super().__init__(shape, backend)
        if beta is None and tau_mem is None:
            beta = 0.9
        beta = _decay("beta", beta, tau_mem, dt)
        check_positive(threshold, "threshold")
        if learn_beta:
            check_range(beta, "beta", 0.0, 1.0, low_open=True, high_open=True)
        self.reset = check_choice(reset, "reset", RESETS)
        self.refractory = check_int(refractory, "refractory")
        self.surrogate = make_surrogate(surrogate)
        self.beta = Bounded(beta, shape=self.param_shape if learn_beta else (), learnable=learn_beta, transform="unit")
        self.threshold = Bounded(
            threshold, shape=self.param_shape if learn_threshold else (), learnable=learn_threshold, transform="positive"
        )

    def params(self) -> LIFParams:
        return LIFParams(self.beta(), self.threshold(), self.reset, self.refractory, self.surrogate)

    def initial_state(self, like: Tensor) -> LIFState:
        v = torch.zeros_like(like)
        return LIFState(v, torch.zeros_like(like) if self.refractory > 0 else None)

    def _check_state(self, state: LIFState, x: Tensor) -> None:
        super()._check_state(state, x)
        if (state.refrac is None) != (self.refractory == 0):
            raise ValueError("state.refrac must be a tensor exactly when the layer has a refractory period")

    def extra_repr(self) -> str:
        return f"shape={self.shape}, reset={self.reset!r}, refractory={self.refractory}, surrogate={self.surrogate}"


class CubaLIF(NeuronModule):
    r"""Multi-step current-based LIF layer (synaptic current with its own decay).

    Args:
        alpha / beta: synaptic and membrane decays in (0, 1], or ``tau_syn`` / ``tau_mem``
            with ``dt``.
        threshold, reset, shape, surrogate, backend: as :class:`LIF`.
        learn_alpha / learn_beta / learn_threshold: learn them (per neuron with ``shape``),
            kept in range by sigmoid / softplus.

    ``forward(x: [T, B, *features], state=None) -> (spikes, CubaLIFState(i, v))``.
    """

    op = "cuba_lif"
    step = staticmethod(cuba_lif_step)
    state_type = CubaLIFState

    def __init__(
        self,
        alpha: float | Tensor | None = None,
        beta: float | Tensor | None = None,
        threshold: float | Tensor = 1.0,
        reset: str = "subtract",
        *,
        tau_syn: float | Tensor | None = None,
        tau_mem: float | Tensor | None = None,
        dt: float | None = None,
        shape: Sequence[int] | int | None = None,
        learn_alpha: bool = False,
        learn_beta: bool = False,
        learn_threshold: bool = False,
        surrogate: str | SurrogateSpec = "atan",
        backend: str = "auto",
    ) -> None:
        super().__init__(shape, backend)
        if alpha is None and tau_syn is None:
            alpha = 0.8
        if beta is None and tau_mem is None:
            beta = 0.9
        alpha = _decay("alpha", alpha, tau_syn, dt)
        beta = _decay("beta", beta, tau_mem, dt)
        check_positive(threshold, "threshold")
        for name, v, learn in (("alpha", alpha, learn_alpha), ("beta", beta, learn_beta)):
            if learn:
                check_range(v, name, 0.0, 1.0, low_open=True, high_open=True)
        self.reset = check_choice(reset, "reset", RESETS)
        self.surrogate = make_surrogate(surrogate)
        ps = self.param_shape
        self.alpha = Bounded(alpha, shape=ps if learn_alpha else (), learnable=learn_alpha, transform="unit")
        self.beta = Bounded(beta, shape=ps if learn_beta else (), learnable=learn_beta, transform="unit")
        self.threshold = Bounded(threshold, shape=ps if learn_threshold else (), learnable=learn_threshold)

    def params(self) -> CubaLIFParams:
        return CubaLIFParams(self.alpha(), self.beta(), self.threshold(), self.reset, self.surrogate)

    def initial_state(self, like: Tensor) -> CubaLIFState:
        return CubaLIFState(torch.zeros_like(like), torch.zeros_like(like))

    def extra_repr(self) -> str:
        return f"shape={self.shape}, reset={self.reset!r}, surrogate={self.surrogate}"
