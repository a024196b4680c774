r"""Spike traces: the low-pass memories of past spikes that local learning rules read.

A trace :math:`x` of a spike train :math:`S[n] \in \{0, 1\}` decays with time constant
:math:`\tau` (ms) and jumps at every spike. One step of ``dt`` ms is *decay, then bump*:

.. math::

    x \leftarrow x\, e^{-\Delta t/\tau} \quad\text{(decay)}, \qquad
    x \leftarrow \begin{cases} x + A\,S & \text{mode="all\_to\_all"} \\
                               A & \text{if } S = 1 \text{ (mode="nearest")} \end{cases}

With ``"all_to_all"`` the trace sums the kernels of *all* past spikes, so a pair rule that reads
it pairs every pre- with every post-synaptic spike; with ``"nearest"`` it is reset to ``A`` at
each spike and remembers only the most recent one (Morrison, Diesmann & Gerstner 2008, "nearest
spike" interaction). A rule reads a trace between the two halves of the step (after the decay,
before or after the bump), which is why :func:`decay` and :func:`bump` are separate.

:class:`DoubleExponential` filters spikes with the rise/decay kernel of Nicola & Clopath (2017)
and returns a smooth rate, the read-out feature of the reservoir.

All functions are elementwise on tensors of any shape (``[B, N]`` in the rules) and keep the
dtype of the trace.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from spikegate._validate import check_positive

TRACE_MODES: tuple[str, ...] = ("all_to_all", "nearest")


def decay_factor(tau: float | Tensor, dt: float) -> float | Tensor:
    r""":math:`e^{-\Delta t/\tau}` for ``tau`` and ``dt`` in ms (both > 0); a tensor of time
    constants gives a float64 tensor of factors."""
    check_positive(tau, "tau")
    check_positive(dt, "dt")
    if isinstance(tau, Tensor):
        return torch.exp(-float(dt) / tau.double())
    return math.exp(-float(dt) / float(tau))


def decay(trace: Tensor, factor: float | Tensor) -> Tensor:
    """First half of a step: ``trace * factor`` (``factor`` from :func:`decay_factor`)."""
    return trace * factor


def bump(trace: Tensor, spikes: Tensor, mode: str = "all_to_all", amount: float = 1.0) -> Tensor:
    """Second half of a step: add ``amount`` per spike (``"all_to_all"``) or set the trace to
    ``amount`` where a spike occurred (``"nearest"``). ``spikes`` is 0/1 (float or bool), shaped
    like ``trace`` or broadcastable to it."""
    if mode == "all_to_all":
        return trace + amount * spikes.to(trace.dtype)
    if mode == "nearest":
        return torch.where(spikes.bool(), torch.full_like(trace, amount), trace)
    raise ValueError(f"mode must be one of {', '.join(map(repr, TRACE_MODES))}; got {mode!r}")


def update_trace(
    trace: Tensor, spikes: Tensor, factor: float | Tensor, mode: str = "all_to_all", amount: float = 1.0
) -> Tensor:
    """A whole step: :func:`decay` then :func:`bump`."""
    return bump(decay(trace, factor), spikes, mode, amount)


class DoubleExponentialState(NamedTuple):
    """Two single-exponential traces of the same spikes, ``[B, N]``: time constants
    ``tau_rise`` and ``tau_decay``, unit jumps."""

    rise: Tensor
    decay: Tensor


class DoubleExponential:
    r"""Rise/decay synaptic filter of the read-out features (Nicola & Clopath 2017).

    The filtered rate obeys :math:`\dot r = -r/\tau_d + h`,
    :math:`\dot h = -h/\tau_r + \frac{1}{\tau_r\tau_d}\sum_k \delta(t - t_k)`, whose impulse
    response is :math:`(e^{-t/\tau_d} - e^{-t/\tau_r})/(\tau_d - \tau_r)` (unit area). It is
    computed exactly as the scaled difference of two unit-jump traces,

    .. math::

        r = \frac{1000}{\tau_d - \tau_r}\,(x_d - x_r), \qquad
        x_{d,r} \leftarrow x_{d,r}\, e^{-\Delta t/\tau_{d,r}} + S,

    so ``r`` is in Hz: a neuron firing regularly at f Hz has a mean ``r`` of f.

    Its peak comes :math:`t^* = \frac{\tau_r\tau_d}{\tau_d - \tau_r}\ln\frac{\tau_d}{\tau_r}`
    after the spike: a fast rise (2 ms) makes it a synaptic current, a slow one a delayed bump.

    Args:
        tau_rise, tau_decay: time constants in ms, ``0 < tau_rise < tau_decay``; either may be a
            tensor ``[N]`` (one time constant per neuron: a spectrum of time scales).
        dt: step in ms.
    """

    def __init__(self, tau_rise: float | Tensor = 2.0, tau_decay: float | Tensor = 20.0, dt: float = 0.5) -> None:
        check_positive(tau_rise, "tau_rise")
        check_positive(tau_decay, "tau_decay")
        check_positive(dt, "dt")
        if not bool((torch.as_tensor(tau_decay) > torch.as_tensor(tau_rise)).all()):
            raise ValueError(f"tau_rise must be smaller than tau_decay, got {tau_rise} and {tau_decay}")
        self.dt = float(dt)
        self.tau_rise = self._time_constant(tau_rise)
        self.tau_decay = self._time_constant(tau_decay)
        self.factor_rise = decay_factor(self.tau_rise, self.dt)
        self.factor_decay = decay_factor(self.tau_decay, self.dt)
        self.scale = 1000.0 / (self.tau_decay - self.tau_rise)

    @staticmethod
    def _time_constant(tau: float | Tensor) -> float | Tensor:
        return tau.double() if isinstance(tau, Tensor) else float(tau)

    def initial_state(self, like: Tensor) -> DoubleExponentialState:
        """Zero traces shaped and typed like ``like`` (``[B, N]``)."""
        return DoubleExponentialState(torch.zeros_like(like), torch.zeros_like(like))

    def step(self, spikes: Tensor, state: DoubleExponentialState) -> tuple[Tensor, DoubleExponentialState]:
        """One step: ``spikes [B, N]`` -> ``(rate r [B, N] in Hz, new state)``."""
        rise = update_trace(state.rise, spikes, self.factor_rise)
        slow = update_trace(state.decay, spikes, self.factor_decay)
        return self.scale * (slow - rise), DoubleExponentialState(rise, slow)

    def run(self, spikes: Tensor, state: DoubleExponentialState, every: int = 1) -> tuple[Tensor, DoubleExponentialState]:
        """:meth:`step` over ``spikes [T, N]`` (one sample); the rates of steps 0, ``every``,
        2 ``every``, ... ``[ceil(T / every), N]`` and the state after the last step."""
        out = torch.empty((spikes.shape[0] + every - 1) // every, spikes.shape[1], dtype=torch.float64)
        for s in range(spikes.shape[0]):
            r, state = self.step(spikes[s:s + 1], state)
            if s % every == 0:
                out[s // every] = r[0]
        return out, state

    def __repr__(self) -> str:
        return f"DoubleExponential(tau_rise={self.tau_rise}, tau_decay={self.tau_decay}, dt={self.dt})"
