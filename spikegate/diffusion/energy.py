r"""Energy estimate of a spiking network from operation counts (SDM §5, SPEC §4.6).

Every ``nn.Conv2d`` / ``nn.Linear`` call is counted during one forward pass:

* its input is binary (spikes): accumulate-only synaptic operations,
  :math:`\mathrm{SOPs} = fr \cdot T \cdot \mathrm{FLOPs}` with :math:`fr` the input's firing
  rate and FLOPs the layer's multiply-accumulates per step; with time folded into the batch
  this is simply :math:`fr \cdot` (MACs of the call);
* its input is real-valued: MACs (the encoder conv, a shortcut or output conv on membrane
  values, the time-embedding MLP, every layer of an ANN). A real-valued input that is the same
  at all :math:`T` steps (the direct-encoded image) is computed once, not :math:`T` times.

.. math::

    E = E_{MAC} \cdot \#\mathrm{MAC} + E_{AC} \cdot \#\mathrm{SOP}, \qquad
    E_{MAC} = 4.6\ \mathrm{pJ},\ E_{AC} = 0.9\ \mathrm{pJ} \ \text{(45 nm)}

Batch norm folds into the preceding conv at inference, and element-wise additions, the TSM
gains and the neurons' updates are not counted (as in SDM). Counts are per sample.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import torch
from torch import Tensor, nn

from spikegate._validate import check_int, check_positive

E_MAC = 4.6e-12
E_AC = 0.9e-12


class LayerOps(NamedTuple):
    """One counted layer: its name, MACs and SOPs per sample, and the input firing rate
    (``nan`` for a real-valued input)."""

    name: str
    mac: float
    sop: float
    rate: float


class EnergyReport(NamedTuple):
    """Totals per sample: ``mac``, ``sop``, ``energy`` in joules (with the constants used),
    the ``layers`` and the mean firing rate of the spike inputs (weighted by FLOPs)."""

    mac: float
    sop: float
    energy: float
    rate: float
    layers: tuple[LayerOps, ...]


def _macs_per_call(layer: nn.Module, out: Tensor) -> float:
    if isinstance(layer, nn.Conv2d):
        k = layer.in_channels // layer.groups * layer.kernel_size[0] * layer.kernel_size[1]
        return float(out.numel() * k)
    return float(out.numel() * layer.in_features)


def _constant_over_time(x: Tensor, steps: int) -> bool:
    if steps == 1 or x.shape[0] % steps:
        return False
    xs = x.unflatten(0, (steps, -1))
    return bool((xs == xs[:1]).all())


@torch.no_grad()
def count_energy(
    model: nn.Module,
    run: Callable[[], Any],
    *,
    batch: int,
    steps: int = 1,
    e_mac: float = E_MAC,
    e_ac: float = E_AC,
) -> EnergyReport:
    """Count the operations of ``model``'s Conv2d/Linear layers while ``run()`` does one
    forward pass over ``batch`` samples with ``steps`` spike steps folded into the layers'
    batch (``1`` for an ANN), and price them."""
    check_int(batch, "batch", minimum=1)
    check_int(steps, "steps", minimum=1)
    check_positive(e_mac, "e_mac")
    check_positive(e_ac, "e_ac")
    totals: dict[str, list[float]] = {}

    def hook(name: str):
        def fn(layer: nn.Module, inputs: tuple, out: Tensor) -> None:
            x = inputs[0]
            macs = _macs_per_call(layer, out)
            entry = totals.setdefault(name, [0.0, 0.0, 0.0, 0.0])
            if bool(((x == 0) | (x == 1)).all()):
                rate = float(x.double().mean())
                entry[1] += rate * macs
                entry[2] += rate * macs
                entry[3] += macs
            else:
                entry[0] += macs / steps if _constant_over_time(x, steps) else macs

        return fn

    handles = [
        m.register_forward_hook(hook(name))
        for name, m in model.named_modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))
    ]
    try:
        run()
    finally:
        for h in handles:
            h.remove()
    layers = tuple(
        LayerOps(name, mac / batch, sop / batch, spike_in / flops if flops else float("nan"))
        for name, (mac, sop, spike_in, flops) in totals.items()
    )
    mac = sum(layer.mac for layer in layers)
    sop = sum(layer.sop for layer in layers)
    flops = sum(v[3] for v in totals.values())
    rate = sum(v[2] for v in totals.values()) / flops if flops else float("nan")
    return EnergyReport(mac, sop, e_mac * mac + e_ac * sop, rate, layers)
