r"""The stimuli of the what/when task as input currents onto the reservoir.

Each cue :math:`c` drives its own random subset :math:`S_c` of the neurons and, with
``cue_shared > 0``, a subset :math:`S_0` that every cue drives (what the cues have in common,
such as their onset; the *when* of an outcome is the same for every cue, so a read-out can
learn it once for all cues on these neurons). A cue reaches neuron :math:`j` through afferent
synapses of the neuron's own kinetics (decay :math:`\tau_{d,j}` log-uniform in ``cue_tau``,
rise :math:`\tau_{r,j}` a log-uniform fraction ``cue_rise`` of it; slow, NMDA- or
metabotropic-like currents of diverse time scales):

.. math::

    \tau_{r,j} \dot h_j = -h_j + \mathbb 1_\mathrm{cue}(t), \qquad
    \tau_{d,j} \dot s_j = -s_j + h_j, \qquad I_j(t) = A\, s_j(t) / \max_t s_j,

a double-exponential response to the cue's pulse with peak :math:`A` (the read-out features'
synapse, :class:`~spikegate.plasticity.DoubleExponential`, integrated exactly per step), reached the later the
slower the rise (for a short cue near :math:`\tau_r\tau_d\ln(\tau_d/\tau_r)/(\tau_d-\tau_r)`).
Each driven neuron therefore fires most at its own delay after the cue, a population of
time cells that tiles the delays (spectral timing). Without rises the current saturates at
:math:`A` during the cue and then decays, :math:`I_j = A e^{-(t - t_\mathrm{off})/\tau_{d,j}}`;
with ``cue_tau=None`` the cue is a step current of amplitude :math:`A`. The current a cue
leaves beyond its trial's end carries into the next trial. Outcome stimuli are step currents
onto their own subsets.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from spikegate.plasticity import DoubleExponential


class StimulusInput:
    """The stimuli's subsets and the cue afferents' current across trials.

    Args:
        subsets: neuron indices of the cues' own subsets, then of outcomes A and B.
        n: number of neurons; ``steps``: steps per trial; ``dt``: step (ms).
        amplitude: the current :math:`A` of every stimulus (model units).
        cue_on, cue_ms: the cue's onset in its trial and its length (ms), the same every trial.
        shared: neuron indices every cue drives as well (may be empty).
        tau_decay, tau_rise: per neuron decay and rise times (ms) of the cue afferents ``[n]``
            (``tau_rise`` ``None``: the current saturates at :math:`A` during the cue and then
            decays); ``tau_decay`` ``None``: the cue is a step current.
        cue_amplitude: the cue afferents' peak current (default ``amplitude``).
    """

    def __init__(self, subsets: list[np.ndarray], n: int, steps: int, dt: float, amplitude: float, cue_on: float,
                 cue_ms: float, shared: np.ndarray | None = None, tau_decay: Tensor | None = None,
                 tau_rise: Tensor | None = None, cue_amplitude: float | None = None) -> None:
        for name, tau in (("tau_decay", tau_decay), ("tau_rise", tau_rise)):
            if tau is not None and (tau.shape != (n,) or not bool(torch.all(tau > 0))):
                raise ValueError(f"{name} must hold {n} positive times (ms), got shape {tuple(tau.shape)}")
        if tau_rise is not None and tau_decay is None:
            raise ValueError("tau_rise needs tau_decay")
        self.subsets, self.n, self.steps, self.dt, self.amplitude = subsets, n, steps, dt, amplitude
        self.cue_amplitude = amplitude if cue_amplitude is None else cue_amplitude
        self.cue_span = int(round(cue_on / dt)), int(round((cue_on + cue_ms) / dt))  # steps [on, off)
        self.shared = torch.as_tensor(np.asarray([] if shared is None else shared), dtype=torch.long)
        self._cue_units = [torch.unique(torch.cat([torch.as_tensor(s, dtype=torch.long), self.shared]))
                           for s in subsets[:-2]]
        # the cue afferents' response to the cue, from its onset, over two trials [2 steps, n]
        cue_steps = self.cue_span[1] - self.cue_span[0]
        self.response = None if tau_decay is None else cue_response(cue_steps, 2 * steps, dt, tau_decay, tau_rise)
        self.pending = torch.zeros(steps, n, dtype=torch.float64)  # current carried into the next trial

    def cue_units(self, cue: int) -> Tensor:
        """The neurons cue ``cue`` drives: its own subset and the shared one."""
        return self._cue_units[cue]

    def populations(self) -> list[np.ndarray]:
        """Every stimulus population: the cues' own subsets, outcomes A and B, and the shared
        subset if there is one."""
        return list(self.subsets) + ([self.shared.numpy()] if self.shared.numel() else [])

    def trial(self, cue: int, outcome: int | None = None, outcome_on: float = 0.0, outcome_ms: float = 0.0) -> Tensor:
        """The current ``[steps, n]`` of one trial: cue ``cue``, and outcome ``outcome`` (0 = A,
        1 = B; ``None`` = none) from ``outcome_on`` ms for ``outcome_ms``; the cue afferents'
        current beyond the trial's end is kept for the next."""
        a, b = self.cue_span
        units = self._cue_units[cue]
        if self.response is None:
            current = torch.zeros(self.steps, self.n, dtype=torch.float64)
            current[a:b, units] = self.cue_amplitude
        else:
            current, self.pending = self.pending, torch.zeros(self.steps, self.n, dtype=torch.float64)
            current[a:, units] += self.cue_amplitude * self.response[: self.steps - a, units]
            self.pending[:, units] = self.cue_amplitude * self.response[self.steps - a: 2 * self.steps - a, units]
        if outcome is not None:
            a, b = int(round(outcome_on / self.dt)), int(round((outcome_on + outcome_ms) / self.dt))
            current[a:b, torch.as_tensor(self.subsets[-2 + outcome], dtype=torch.long)] += self.amplitude
        return current


def cue_response(cue_steps: int, steps: int, dt: float, tau_decay: Tensor, tau_rise: Tensor | None) -> Tensor:
    r"""Response ``[steps, n]`` of the cue afferents to a cue of ``cue_steps`` steps, peak 1.

    Without rise times: 1 during the cue, then :math:`e^{-(t - t_\mathrm{off})/\tau_d}`.
    With them: the cue pulse through the read-out's double-exponential synapse
    (:class:`~spikegate.plasticity.DoubleExponential`, exact per step; ``tau_rise < tau_decay``),
    normalised to a peak of 1; it peaks later the slower the rise, so each neuron is driven
    hardest at its own delay after the cue (time cells)."""
    n = tau_decay.numel()
    if tau_rise is None:
        k = torch.arange(steps - cue_steps, dtype=torch.float64)[:, None]
        out = torch.ones(steps, n, dtype=torch.float64)
        out[cue_steps:] = torch.exp(-(k + 1) * dt / tau_decay)
        return out
    synapse = DoubleExponential(tau_rise, tau_decay, dt)
    pulse = torch.zeros(steps, n, dtype=torch.float64)
    pulse[:cue_steps] = 1.0
    out, _ = synapse.run(pulse, synapse.initial_state(torch.zeros(1, n, dtype=torch.float64)))
    return out / out.max(0).values


def log_uniform(rng: np.random.Generator, lo: float, hi: float, n: int) -> Tensor:
    """``n`` values log-uniform in ``[lo, hi]`` (float64)."""
    return torch.from_numpy(np.exp(rng.uniform(math.log(lo), math.log(hi), n)))
