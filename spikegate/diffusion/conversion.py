r"""ANN-to-SNN path of SDM (SPEC §4.7; Fast-SNN recipe): quantize the ANN U-Net's ReLUs to
``b`` bits, then run it with integrate-and-fire neurons for :math:`T = 2^b - 1` steps.

ANN quantizer (QCFS, :class:`spikegate.convert.ann.ActQuant`, range :math:`s` learnable):

.. math::  Q = \frac{s}{T}\,\mathrm{clip}\bigl(\lfloor x T / s + \tfrac12 \rfloor, 0, T\bigr)

SNN (:class:`spikegate.convert.IFEncoder`): IF neuron with threshold :math:`\theta = s`, reset
by subtraction, initial membrane :math:`\mu = \theta/2`, each spike worth :math:`\theta` (the
next layer's weights scaled by :math:`s`, SDM eq. 24). Driven by a constant input for
:math:`T` steps it fires :math:`\mathrm{clip}(\lfloor xT/\theta + \frac12\rfloor, 0, T)` times,
so its rate times :math:`\theta` equals :math:`Q`: exactly so for the first spiking layer, whose
input (the direct-encoded image after conv and BN) is constant over the steps. Deeper layers
receive spike trains that vary from step to step and accumulate error (``timing="step"``, the
real dynamics); ``timing="window"`` drives every neuron with its input's window mean instead,
which reproduces the quantized ANN at every layer (one window of latency per layer).

The converted U-Net decodes by rate: the body's output is averaged over the :math:`T` steps and
the output layers (BN, Swish, convs) run once on that mean, the rate read-out of a converted
network; SDM's converted model averages its last spiking block over time likewise.
"""

from __future__ import annotations

import copy

from torch import Tensor, nn

from spikegate._validate import check_choice, check_int
from spikegate.convert import IFEncoder, prepare_qat
from spikegate.convert.ann import ActQuant
from spikegate.convert.operators import TIMINGS
from spikegate.diffusion.unet import SpikingUNet


def _check_ann(model: nn.Module) -> SpikingUNet:
    if not isinstance(model, SpikingUNet) or model.config()["activation"] != "relu" or model.steps != 1:
        raise TypeError("model must be an ANN SpikingUNet (activation='relu', steps=1)")
    return model


def _sites(model: nn.Module) -> list[tuple[nn.Module, str, ActQuant]]:
    return [
        (parent, name, child)
        for parent in model.modules()
        for name, child in parent.named_children()
        if isinstance(child, ActQuant)
    ]


def quantize_unet(ann: SpikingUNet, bits: int = 2, calibration: tuple[Tensor, Tensor] | None = None) -> SpikingUNet:
    r"""A copy of the ANN U-Net with every ReLU replaced by a ``bits``-bit QCFS site
    (:math:`T = 2^b - 1` levels), ready for quantization-aware training.

    ``calibration = (x, t)``: one batch whose activations set each range :math:`s` (99.9th
    percentile, :func:`spikegate.convert.prepare_qat`). ``None``: ranges 1, to be overwritten by
    loading a trained state dict.
    """
    _check_ann(ann)
    check_int(bits, "bits", minimum=1)
    levels = 2**bits - 1
    if calibration is not None:
        return prepare_qat(ann, calibration, levels)
    model = copy.deepcopy(ann)
    for parent, name, child in [(p, n, c) for p in model.modules() for n, c in p.named_children() if isinstance(c, nn.ReLU)]:
        setattr(parent, name, ActQuant(signed=False, levels=levels, lam=1.0))
    return model


def convert_unet(quantized: SpikingUNet, *, timing: str = "step") -> SpikingUNet:
    """The spiking U-Net of a quantized ANN U-Net (module docstring): every QCFS site becomes an
    IF encoder with :math:`\\theta = s`, :math:`\\mu = \\theta/2`, for ``T`` = the sites' levels
    spike steps, with the rate read-out. The ANN is left unchanged."""
    check_choice(timing, "timing", TIMINGS)
    sites = _sites(quantized)
    if not isinstance(quantized, SpikingUNet) or not sites:
        raise TypeError("quantized must be a SpikingUNet whose activations are QCFS sites (see quantize_unet)")
    levels = {site.levels for _, _, site in sites}
    if len(levels) != 1 or None in levels:
        raise ValueError(f"every site must be quantized with the same number of levels, got {sorted(map(str, levels))}")
    steps = levels.pop()
    snn = copy.deepcopy(quantized).eval()
    for parent, name, site in _sites(snn):
        setattr(parent, name, IFEncoder(site.threshold, signed=False, timing=timing))
    snn.steps = steps
    snn.decode = "rate"
    snn._config.update(steps=steps, decode="rate")
    return snn
