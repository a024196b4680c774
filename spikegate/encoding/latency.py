r"""Latency (time-to-first-spike) coding: one spike per feature, earlier for larger inputs.

For inputs :math:`x \in [0, 1]` over ``steps`` bins:

* ``mode="linear"``: :math:`t = \mathrm{round}\big((1 - x)(\text{steps} - 1)\big)`;
* ``mode="log"``: :math:`t = \mathrm{round}\big(\tau \ln(1/x)\big)` with
  :math:`\tau = (\text{steps} - 1)/\ln(1/\theta)`, so :math:`x = 1` fires at step 0 and
  :math:`x = \theta` at the last step (the logarithmic compression of an RC membrane's
  first-passage time).

Inputs below ``threshold`` :math:`\theta` emit no spike.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from spikegate._validate import check_choice, check_int, check_range, check_tensor


def spike_times(x: Tensor, steps: int, *, mode: str = "linear", threshold: float = 0.01) -> Tensor:
    """The spike step of every feature (int64, ``-1`` for no spike), same shape as ``x``."""
    x = check_tensor(x, "x")
    check_range(x, "x", 0.0, 1.0)
    check_int(steps, "steps", minimum=1)
    check_choice(mode, "mode", ("linear", "log"))
    check_range(threshold, "threshold", 0.0, 1.0, low_open=True, high_open=True)
    if mode == "linear":
        t = torch.round((1 - x) * (steps - 1))
    else:
        tau = (steps - 1) / math.log(1 / threshold)
        t = torch.round(tau * torch.log(1 / x.clamp(min=threshold)))
    t = t.to(torch.int64).clamp(max=steps - 1)
    return torch.where(x >= threshold, t, torch.full_like(t, -1))


def latency(x: Tensor, steps: int, *, mode: str = "linear", threshold: float = 0.01) -> Tensor:
    """Spikes ``[steps, *x.shape]`` with exactly one spike per feature at
    :func:`spike_times` (none where ``x < threshold``)."""
    t = spike_times(x, steps, mode=mode, threshold=threshold)
    grid = torch.arange(steps, device=x.device).view(steps, *([1] * x.dim()))
    return (grid == t.unsqueeze(0)).to(x.dtype)
