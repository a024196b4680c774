"""The heterogeneous Izhikevich (2003) network driven by Poisson input: the main demo job.

Network of Izhikevich, "Simple model of spiking neurons" (IEEE TNN 2003): ``n_exc``
excitatory and ``n_inh`` inhibitory neurons with his heterogeneous parameters
(:func:`spikegate.neurons.izhikevich_population`), all-to-all synapses
:math:`W_{ij} = 0.5\\,U(0,1)` from excitatory and :math:`-U(0,1)` from inhibitory neurons,
integrated with the paper's scheme (two 0.5 ms half-steps for v at dt = 1 ms). The paper's
zero-mean Gaussian thalamic noise (standard deviation 5 for excitatory, 2 for inhibitory
targets) is replaced by balanced Poisson input: each neuron has ``n_afferents`` excitatory
and ``n_afferents`` inhibitory afferents firing at ``input_rate`` Hz, and receives
:math:`w\,(N_E - N_I)` per step, where :math:`N_E, N_I` are the afferent spike counts of the
step and :math:`w` is ``w_exc`` or ``w_inh`` by the target's type. With the defaults (50
afferents of each sign at 10 Hz) the drive has mean 0 and standard deviation :math:`w` per
1 ms step, the statistics of the paper's noise.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
from torch import Tensor

from spikegate._validate import check_int, check_positive
from spikegate.neurons import Izhikevich, Recurrent, izhikevich_population


class NetworkRun(NamedTuple):
    spikes: Tensor  # [T, N] float 0/1
    v: Tensor  # [T, K] membrane of the traced units (mV), spikes drawn at v_peak
    traced: Tensor  # [K] indices of the traced units
    excitatory: Tensor  # [N] bool
    dt: float


def poisson_drive(
    steps: int, n: int, *, dt: float, n_afferents: int, rate: float, weight: Tensor,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Balanced Poisson input current ``[steps, n]``: per step, each target's weight times
    the difference of two Binomial(n_afferents, rate*dt) counts (excitatory minus inhibitory
    afferent spikes)."""
    p = rate * dt / 1000.0
    if p > 1:
        raise ValueError(f"input_rate * dt exceeds one spike per step ({rate} Hz at {dt} ms)")
    probs = torch.full((2, steps, n), p, dtype=torch.float64)
    counts = torch.binomial(torch.full_like(probs, float(n_afferents)), probs, generator=generator)
    return (counts[0] - counts[1]) * weight


def izhikevich_network(
    n_exc: int = 800,
    n_inh: int = 200,
    *,
    duration: float = 1000.0,
    dt: float = 1.0,
    input_rate: float = 10.0,
    n_afferents: int = 50,
    w_exc: float = 5.0,
    w_inh: float = 2.0,
    traced: Sequence[int] = (0, 1, 2, 3),
    generator: torch.Generator | None = None,
) -> NetworkRun:
    """Simulate ``duration`` ms and return spikes of all neurons and membrane traces of
    ``traced`` units (float64, one batch)."""
    check_int(n_exc, "n_exc")
    check_int(n_inh, "n_inh")
    if n_exc + n_inh < 1:
        raise ValueError("the network needs at least one neuron")
    check_positive(duration, "duration")
    check_positive(dt, "dt")
    check_positive(input_rate, "input_rate", allow_zero=True)
    check_int(n_afferents, "n_afferents")
    n = n_exc + n_inh
    steps = int(round(duration / dt))
    traced_idx = torch.as_tensor(list(traced), dtype=torch.int64)
    if traced_idx.numel() and (traced_idx.min() < 0 or traced_idx.max() >= n):
        raise ValueError(f"traced units must lie in 0..{n - 1}")
    pop = izhikevich_population(n_exc, n_inh, generator=generator)
    w = torch.rand(n, n, generator=generator, dtype=torch.float64)
    w[:, :n_exc] *= 0.5
    w[:, n_exc:] *= -1.0
    cell = Izhikevich(None, a=pop.a, b=pop.b, c=pop.c, d=pop.d, dt=dt, scheme="izhikevich2003", shape=n)
    net = Recurrent(cell, n, weight=w, learnable=False)
    drive = poisson_drive(
        steps, n, dt=dt, n_afferents=n_afferents, rate=input_rate,
        weight=torch.where(pop.excitatory, w_exc, w_inh).double(), generator=generator,
    )
    with torch.no_grad():
        spikes, states = net.trace(drive.unsqueeze(1))
    spikes = spikes[:, 0]
    v = states.v[:, 0, traced_idx].clone()
    # membrane is reset within the step that fires; show the spike at the peak for plots
    v[spikes[:, traced_idx] > 0] = cell.v_peak
    return NetworkRun(spikes, v, traced_idx, pop.excitatory, dt)


def rates_hz(spikes: Tensor, dt: float) -> Tensor:
    """Firing rate of every unit (Hz) from a raster ``[T, N]`` with step ``dt`` ms."""
    return spikes.sum(0) / (spikes.shape[0] * dt / 1000.0)


def isi_cv(spikes: Tensor) -> Tensor:
    """Coefficient of variation of the inter-spike intervals of each unit with >= 3 spikes
    (NaN for the others)."""
    out = torch.full((spikes.shape[1],), float("nan"), dtype=torch.float64)
    for j in range(spikes.shape[1]):
        t = torch.nonzero(spikes[:, j]).flatten().double()
        if t.numel() >= 3:
            isi = torch.diff(t)
            out[j] = isi.std() / isi.mean()
    return out
