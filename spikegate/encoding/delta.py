r"""Delta (send-on-delta) coding: ON/OFF spikes when a signal moves by more than a threshold.

For a signal :math:`x[t]` and a per-feature reference level :math:`r` (initially
:math:`x[0]`), at each step

.. math::

    \text{ON}[t] = \mathbb{1}[x[t] - r \ge \theta], \quad
    \text{OFF}[t] = \mathbb{1}[r - x[t] \ge \theta], \quad
    r \leftarrow x[t] \text{ where a spike was emitted.}

This is the event camera's level-crossing rule. With ``mode="consecutive"`` the reference is
simply the previous sample, :math:`r = x[t-1]` (change detection).
The ON/OFF polarity becomes a channel axis right after the batch, as for event-camera frames:
``x: [T, B, *features]`` -> ``[T, B, 2, *features]`` (channel 0 = ON, 1 = OFF).
"""

from __future__ import annotations

import torch
from torch import Tensor

from spikegate._validate import check_choice, check_positive, check_sequence


def delta(x: Tensor, threshold: float, *, mode: str = "reference") -> Tensor:
    """ON/OFF spikes ``[T, B, 2, *features]`` of a signal ``x: [T, B, *features]``."""
    x = check_sequence(x, "x")
    check_positive(threshold, "threshold")
    check_choice(mode, "mode", ("reference", "consecutive"))
    if mode == "consecutive":
        d = torch.diff(x, dim=0, prepend=x[:1])
        on, off = d >= threshold, -d >= threshold
    else:
        ref = x[0].clone()
        on_l, off_l = [], []
        for t in range(x.shape[0]):
            up, down = x[t] - ref >= threshold, ref - x[t] >= threshold
            ref = torch.where(up | down, x[t], ref)
            on_l.append(up)
            off_l.append(down)
        on, off = torch.stack(on_l), torch.stack(off_l)
    return torch.stack([on, off], dim=2).to(x.dtype)
