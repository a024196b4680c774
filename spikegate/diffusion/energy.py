r"""Energy of one noise prediction, spiking U-Net vs ANN (SDM §5, SPEC §4.6).

SDM prices a spiking network by synaptic operations, :math:`\mathrm{SOPs}_l = fr_l \cdot T
\cdot \mathrm{FLOPs}_l` (:math:`fr_l` the firing rate of layer :math:`l`'s input), and the
encoder's real-valued first layer by its MACs:

.. math::

    E = E_{MAC} \cdot \#\mathrm{MAC} + E_{AC} \cdot \#\mathrm{SOP}, \qquad
    E_{MAC} = 4.6\ \mathrm{pJ},\ E_{AC} = 0.9\ \mathrm{pJ}\ \text{(45 nm)}

The counting is :func:`spikegate.convert.counting.count_ops`, shared with the ANN-to-SNN
converter: every spike drives one accumulate per outgoing connection (summed over steps this
is exactly :math:`fr \cdot T \cdot \mathrm{FLOPs}`); a real-valued input pays a MAC per
connection of every entry that changed since the previous step, so the direct-encoded image
is paid once while membrane-valued inputs (a shortcut or output conv) are paid every step;
an ANN pays a MAC for every connection. Batch norm folds into the convs, and element-wise
operations, the TSM gains and the IF updates of the trained network's neurons are not counted
(as in SDM; the converter's IF encoders count their updates as accumulates).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from spikegate.convert.counting import EnergyCosts, count_ops, energy
from spikegate.neurons.base import NeuronModule


class EnergyEstimate(NamedTuple):
    """Per sample and noise prediction: ``mac``, ``ac`` (SOPs plus counted neuron updates),
    ``energy`` in joules, and ``rate``, the mean firing rate of the neurons (``nan`` without
    neurons)."""

    mac: float
    ac: float
    energy: float
    rate: float


@torch.no_grad()
def unet_energy(model: nn.Module, x: Tensor, t: Tensor, costs: EnergyCosts = EnergyCosts()) -> EnergyEstimate:
    """Count one forward pass of a U-Net noise predictor (``model.steps`` spike steps; an ANN
    U-Net has ``steps = 1`` and no neurons) on ``x: [B, C, H, W]``, ``t: [B]`` and price it.

    The counter splits every hooked input into ``steps`` equal parts to see what changed from
    step to step; the time embedding is computed once per sample (not per step), so ``B``
    must be a multiple of ``steps`` and ``t`` should differ between samples for its MACs to
    be counted in full (draw it at random)."""
    steps = int(getattr(model, "steps", 1))
    if x.shape[0] % steps:
        raise ValueError(f"x must hold a multiple of the {steps} spike steps in its batch, got {x.shape[0]}")
    neurons = [m for m in model.modules() if isinstance(m, NeuronModule)]
    spikes: list[tuple[float, int]] = []

    def hook(module: nn.Module, inputs: tuple, output: tuple) -> None:
        s = output[0]
        spikes.append((float((s != 0).sum()), s.numel()))

    handles = [n.register_forward_hook(hook) for n in neurons]
    was_training = model.training
    model.eval()
    try:
        counts = count_ops(model, x, t, steps=steps, spiking=bool(neurons)).per_sample(len(x))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    rate = sum(n for n, _ in spikes) / sum(m for _, m in spikes) if spikes else float("nan")
    return EnergyEstimate(counts.mac, counts.ac + counts.neuron, energy(counts, costs), rate)
