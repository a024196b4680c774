r"""Rate coding: Bernoulli per-step sampling and Poisson processes.

A homogeneous Poisson process of rate :math:`r` (Hz), binned at :math:`\Delta t`, emits a
spike in each bin independently with probability :math:`p = r \Delta t` (exact for the
Bernoulli process, a good approximation of the Poisson count for :math:`r\Delta t \ll 1`).
:func:`poisson_process` instead draws exact event times from exponential inter-spike
intervals. Every function takes an explicit ``generator``: same seed, same spikes.
"""

from __future__ import annotations

import torch
from torch import Tensor

from spikegate._validate import check_int, check_positive, check_range, check_tensor


def bernoulli(prob: Tensor, steps: int, *, generator: torch.Generator | None = None) -> Tensor:
    """Spikes ``[steps, *prob.shape]``: each entry 1 with probability ``prob`` (in [0, 1]),
    independently per step (rate coding of a static input, e.g. pixel intensities)."""
    prob = check_tensor(prob, "prob")
    check_range(prob, "prob", 0.0, 1.0)
    check_int(steps, "steps", minimum=1)
    u = torch.rand((steps, *prob.shape), generator=generator, dtype=prob.dtype, device=prob.device)
    return (u < prob).to(prob.dtype)


def poisson(
    rates: Tensor, steps: int, dt: float = 1.0, *, generator: torch.Generator | None = None
) -> Tensor:
    r"""Binned Poisson spike trains ``[steps, *rates.shape]`` for ``rates`` in Hz and ``dt`` in
    ms: per bin a spike with :math:`p = r\,\Delta t / 1000`. Raises if some :math:`p > 1`
    (the bin is too coarse for that rate)."""
    rates = check_tensor(rates, "rates")
    check_positive(dt, "dt")
    if bool((rates < 0).any()):
        raise ValueError("rates must be >= 0 Hz")
    p = rates * (dt / 1000.0)
    if bool((p > 1).any()):
        raise ValueError(
            f"rates * dt exceeds one spike per bin (max rate {rates.max().item():g} Hz at dt = {dt} ms)"
        )
    return bernoulli(p, steps, generator=generator)


def poisson_process(
    rate: float, duration: float, *, n: int = 1, generator: torch.Generator | None = None
) -> list[Tensor]:
    r"""Exact Poisson event times: for each of ``n`` trains, cumulative sums of
    :math:`\mathrm{Exp}(r)` intervals below ``duration`` (ms); ``rate`` in Hz.
    Returns a list of ``n`` float64 tensors of spike times in ms."""
    check_positive(rate, "rate", allow_zero=True)
    check_positive(duration, "duration")
    check_int(n, "n", minimum=1)
    out = []
    mean_isi = 1000.0 / rate if rate > 0 else float("inf")
    for _ in range(n):
        times: list[Tensor] = []
        t = 0.0
        while rate > 0:
            # draw in blocks of the expected count plus margin, then cut
            k = max(8, int(1.5 * (duration - t) / mean_isi) + 8)
            isi = -torch.log1p(-torch.rand(k, generator=generator, dtype=torch.float64)) * mean_isi
            block = t + torch.cumsum(isi, 0)
            times.append(block[block < duration])
            if block[-1] >= duration:
                break
            t = float(block[-1])
        out.append(torch.cat(times) if times else torch.zeros(0, dtype=torch.float64))
    return out
