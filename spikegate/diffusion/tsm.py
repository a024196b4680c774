r"""Temporal-wise Spiking Mechanism (TSM; Cao et al. 2024, SDM eq. 16, SPEC §4.3).

A TSM layer rescales the synaptic current of every spike step by its own learnable gain:

.. math::

    U_l[n] = \beta V_l[n-1] + p_l[n] \cdot (W_l * S_{l-1}[n]), \qquad n = 1..T

with one scalar :math:`p_l[n]` per layer and step (shared across channels and space),
initialised to 1, so a fresh TSM layer computes exactly what the plain layer computes. The
bias sits inside the wrapped layer and is scaled too (as in the SDM code). Gradient
(appendix eq. 27): :math:`\partial L/\partial p_l[n] = \sum_i \partial L/\partial u_i^l[n]\,(W S)_i[n]`.

Two-stage training (SDM Alg. 1): train the plain network, then :func:`add_tsm` wraps its
layers in place (weights kept, all gains 1) and weights and gains are fine-tuned together.
"""

from __future__ import annotations

from typing import Iterable

import torch
from torch import Tensor, nn

from spikegate._validate import check_int


class TSM(nn.Module):
    """Wrap a time-wise layer (``nn.Conv2d``, ``nn.Linear``, ...) with per-step gains
    ``gain: [steps]``.

    ``forward(x: [T*B, ...]) -> [T*B, ...]``: the input has time folded into the batch, time
    outermost (the layout :class:`spikegate.neurons.Sequential` hands to non-neuron layers),
    and ``T == steps``. Output step ``n`` is ``gain[n] * layer(x[n])``.
    """

    def __init__(self, layer: nn.Module, steps: int) -> None:
        super().__init__()
        if not isinstance(layer, nn.Module):
            raise TypeError(f"layer must be an nn.Module, got {type(layer).__name__}")
        if isinstance(layer, TSM):
            raise TypeError("layer is already a TSM layer")
        check_int(steps, "steps", minimum=1)
        self.layer = layer
        self.gain = nn.Parameter(torch.ones(steps))

    @property
    def steps(self) -> int:
        return len(self.gain)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[0] % self.steps:
            raise ValueError(
                f"x must be [T*B, ...] with T = {self.steps} spike steps folded into the batch; "
                f"got a leading size of {x.shape[0]}"
            )
        y = self.layer(x)
        y = y.unflatten(0, (self.steps, -1))
        gain = self.gain.to(y.dtype).view(-1, *([1] * (y.dim() - 1)))
        return (y * gain).flatten(0, 1)

    def extra_repr(self) -> str:
        return f"steps={self.steps}"


def add_tsm(
    model: nn.Module,
    steps: int,
    *,
    kinds: tuple[type[nn.Module], ...] = (nn.Conv2d,),
    exclude: Iterable[nn.Module] = (),
) -> nn.Module:
    """Wrap, in place, every sub-layer of a type in ``kinds`` (except those in ``exclude``)
    in a :class:`TSM` with all gains 1; returns ``model``. Layers already wrapped stay as
    they are, so calling it twice changes nothing."""
    check_int(steps, "steps", minimum=1)
    skip = {id(m) for m in exclude}
    for parent in list(model.modules()):
        if isinstance(parent, TSM):
            continue
        for name, child in list(parent.named_children()):
            if isinstance(child, kinds) and id(child) not in skip:
                setattr(parent, name, TSM(child, steps))
    return model


def tsm_gains(model: nn.Module) -> Tensor:
    """The gains of every TSM layer of ``model`` stacked: ``[layers, steps]`` (detached);
    ``[0, 0]`` when it has none."""
    gains = [m.gain.detach() for m in model.modules() if isinstance(m, TSM)]
    return torch.stack(gains) if gains else torch.zeros(0, 0)
