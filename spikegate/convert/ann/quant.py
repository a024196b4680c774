r"""Activation sites: where a spike encoder sits after conversion, and the QCFS quantizer.

An :class:`ActQuant` marks a place in an ANN whose activation crosses a spike boundary. In
float mode (``levels=None``) it is :math:`\mathrm{ReLU}(x)` (``signed=False``) or the identity
(``signed=True``). With ``levels = L`` it is the quantization-clip-floor-shift (QCFS)
activation of Bu et al. (ICLR 2022) with a learnable range :math:`\lambda > 0`:

.. math::

    \text{unsigned: } y &= \frac{\lambda}{L}\,
        \mathrm{clip}\!\left(\left\lfloor \frac{x L}{\lambda} + \tfrac12 \right\rfloor, 0, L\right) \\
    \text{signed: } y &= \frac{\lambda}{L}\,\mathrm{sign}(x)\,
        \mathrm{clip}\!\left(\left\lfloor \frac{|x| L}{\lambda} + \tfrac12 \right\rfloor, 0, L\right)

The floor passes gradients straight through, so both ``x`` and :math:`\lambda` are trained
(quantization-aware fine-tuning). An integrate-and-fire neuron with threshold
:math:`\vartheta = \lambda`, reset by subtraction and initial membrane :math:`\vartheta/2`,
driven for :math:`T = L` steps by the constant input :math:`x`, fires exactly
:math:`\mathrm{clip}(\lfloor xT/\lambda + \tfrac12 \rfloor, 0, T)` spikes (the signed site
uses a second neuron driven by :math:`-x`); so the spike count times :math:`\lambda / T` equals
:math:`y`. That is the equivalence the converter relies on.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from spikegate._validate import check_int, check_positive
from spikegate.neurons import Bounded


def floor_ste(x: Tensor) -> Tensor:
    """``floor(x)`` forward, identity backward."""
    return x + (torch.floor(x) - x).detach()


def qcfs(x: Tensor, lam: Tensor, levels: int, signed: bool) -> Tensor:
    """The QCFS activation (module docstring) with range ``lam`` and ``levels`` steps."""
    u = x / lam
    if signed:
        n = torch.sign(u) * floor_ste(u.abs() * levels + 0.5).clamp(0, levels)
    else:
        n = floor_ste(u * levels + 0.5).clamp(0, levels)
    return n * (lam / levels)


class ActQuant(nn.Module):
    """Activation site (module docstring). ``signed``: the activation takes both signs (an
    identity site) rather than being a ReLU. ``levels``: ``None`` for float, else QCFS with that
    many steps and range ``lam``. ``forward(x) -> y`` (same shape)."""

    def __init__(self, signed: bool = True, levels: int | None = None, lam: float = 1.0) -> None:
        super().__init__()
        self.signed = bool(signed)
        self.levels: int | None = None
        self.lam = Bounded(1.0, learnable=True, transform="positive")
        if levels is not None:
            self.quantize(levels, lam)

    def quantize(self, levels: int, lam: float) -> None:
        """Switch to QCFS with ``levels`` steps and range ``lam`` (kept learnable)."""
        check_int(levels, "levels", minimum=1)
        check_positive(lam, "lam")
        self.levels = levels
        with torch.no_grad():
            self.lam.raw.copy_(self.lam._inverse(torch.tensor(float(lam))))

    @property
    def threshold(self) -> float:
        """The range :math:`\\lambda` as a float (the IF threshold after conversion)."""
        return float(self.lam().detach())

    def forward(self, x: Tensor) -> Tensor:
        if self.levels is None:
            return x if self.signed else torch.relu(x)
        return qcfs(x, self.lam().to(x.dtype), self.levels, self.signed)

    def extra_repr(self) -> str:
        return f"signed={self.signed}, levels={self.levels}"
