r"""Synthetic two-class spike-train sources of the LZC papers (``../shared/papers/SPEC.md`` §2.3,
``TARGETS.md`` §1): each sample is ``channels`` binary trains of ``steps`` bins, and the two
classes differ only in the statistics of the trains.

* ``"rate"``: homogeneous Poisson trains binned at ``dt`` ms, class 0 at ``rates[0]`` Hz and
  class 1 at ``rates[1]`` Hz, :math:`P(\text{spike in a bin}) = r\,\Delta t / 1000`
  (D1: 20 vs 30 Hz; D2 "hard rate": 20 vs 24 Hz).
* ``"bernoulli"``: i.i.d. bins with spike probability ``probs[0]`` or ``probs[1]``.
* ``"markov"``: a two-state (silent/spike) Markov chain per channel. Both classes have the same
  stationary spike probability :math:`p`; class 0 is memoryless
  (:math:`P(1 \mid 0) = P(1 \mid 1) = p`), class 1 is bursty:
  :math:`P(1 \mid 1) = ` ``burst`` and :math:`P(1 \mid 0) = p(1 - \text{burst})/(1 - p)`, which keeps
  the stationary probability at :math:`p` while the mean burst length becomes
  :math:`1/(1 - \text{burst})` bins. Only temporal structure separates the classes.
* ``"motif"``: Poisson background at ``rate``; every sample carries a block of
  ``motif_steps`` bins starting at a random time, in which the background is replaced by a
  spike pattern with ``motif_rate``. In class 1 that pattern is one fixed spatio-temporal motif
  (the same for every sample, drawn once from ``motif_seed``); in class 0 it is a fresh random
  pattern of the same rate. Both classes have the same mean rate.

Samples come back as ``x: uint8 [N, steps, channels]`` (sample-major; take ``x[idx].transpose(0,
1)`` for the time-major ``[T, B, C]`` the networks use) and ``y: int64 [N]`` with exactly
``n // 2`` samples of class 0 (shuffled). Every source takes an explicit ``generator``.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
from torch import Tensor

from spikegate._validate import check_choice, check_int, check_positive, check_range

SOURCES: tuple[str, ...] = ("rate", "bernoulli", "markov", "motif")


class SpikeSamples(NamedTuple):
    """``x: uint8 [N, steps, channels]`` spike trains, ``y: int64 [N]`` labels."""

    x: Tensor
    y: Tensor


def _labels(n: int, generator: torch.Generator | None) -> Tensor:
    y = torch.zeros(n, dtype=torch.int64)
    y[n // 2:] = 1
    return y[torch.randperm(n, generator=generator)]


def _bernoulli(p: Tensor, shape: tuple[int, ...], generator: torch.Generator | None) -> Tensor:
    return (torch.rand(shape, generator=generator, dtype=torch.float64) < p).to(torch.uint8)


def _markov(p01: Tensor, p11: Tensor, n: int, steps: int, channels: int, p_start: Tensor,
            generator: torch.Generator | None) -> Tensor:
    """Two-state chains ``[n, steps, channels]`` with per-sample transition probabilities."""
    u = torch.rand((n, steps, channels), generator=generator, dtype=torch.float64)
    out = torch.empty((n, steps, channels), dtype=torch.uint8)
    s = u[:, 0] < p_start.view(n, 1)
    out[:, 0] = s
    p01, p11 = p01.view(n, 1), p11.view(n, 1)
    for t in range(1, steps):
        s = u[:, t] < torch.where(s, p11, p01)
        out[:, t] = s
    return out


def lzc_source(
    kind: str,
    n: int,
    *,
    channels: int = 50,
    steps: int = 200,
    dt: float = 1.0,
    rates: Sequence[float] = (20.0, 30.0),
    probs: Sequence[float] = (0.02, 0.03),
    p: float = 0.05,
    burst: float = 0.5,
    rate: float = 20.0,
    motif_steps: int = 50,
    motif_rate: float = 20.0,
    motif_seed: int = 1234,
    generator: torch.Generator | None = None,
) -> SpikeSamples:
    """Draw ``n`` labelled samples of source ``kind`` (one of :data:`SOURCES`; parameters as in
    the module docstring, rates in Hz, ``dt`` in ms)."""
    check_choice(kind, "kind", SOURCES)
    check_int(n, "n", minimum=2)
    check_int(channels, "channels", minimum=1)
    check_int(steps, "steps", minimum=1)
    check_positive(dt, "dt")
    y = _labels(n, generator)
    shape = (n, steps, channels)
    if kind in ("rate", "bernoulli"):
        pair = [r * dt / 1000.0 for r in rates] if kind == "rate" else list(probs)
        if len(pair) != 2:
            raise ValueError(f"{'rates' if kind == 'rate' else 'probs'} must hold two values (class 0, class 1)")
        check_range(torch.tensor(pair), "per-bin spike probability", 0.0, 1.0)
        prob = torch.tensor(pair, dtype=torch.float64)[y].view(n, 1, 1)
        return SpikeSamples(_bernoulli(prob, shape, generator), y)
    if kind == "markov":
        check_range(p, "p", 0.0, 1.0, low_open=True, high_open=True)
        check_range(burst, "burst", p, 1.0, high_open=True)
        p11 = torch.where(y == 1, torch.tensor(burst, dtype=torch.float64), torch.tensor(p, dtype=torch.float64))
        p01 = p * (1 - p11) / (1 - p)
        start = torch.full((n,), p, dtype=torch.float64)
        return SpikeSamples(_markov(p01, p11, n, steps, channels, start, generator), y)
    check_int(motif_steps, "motif_steps", minimum=1)
    if motif_steps > steps:
        raise ValueError(f"motif_steps ({motif_steps}) must be <= steps ({steps})")
    pb, pm = rate * dt / 1000.0, motif_rate * dt / 1000.0
    check_range(pb, "rate * dt / 1000", 0.0, 1.0)
    check_range(pm, "motif_rate * dt / 1000", 0.0, 1.0)
    x = _bernoulli(torch.tensor(pb, dtype=torch.float64), shape, generator)
    fixed = _bernoulli(torch.tensor(pm, dtype=torch.float64), (motif_steps, channels),
                       torch.Generator().manual_seed(motif_seed))
    fresh = _bernoulli(torch.tensor(pm, dtype=torch.float64), (n, motif_steps, channels), generator)
    block = torch.where((y == 1).view(n, 1, 1), fixed.unsqueeze(0), fresh)
    start = torch.randint(0, steps - motif_steps + 1, (n,), generator=generator)
    t = start.view(n, 1) + torch.arange(motif_steps).view(1, motif_steps)
    x[torch.arange(n).view(n, 1), t] = block
    return SpikeSamples(x, y)
