r"""Operations and energy per inference of an integer Loihi network.

Counted from the spikes of a run (any back end; they are identical), per sample, per layer:

* **synaptic operations** (SynOps): one per (input spike, target synapse) pair, i.e. the
  accumulations the chip performs: a dense layer adds ``out`` per input spike; a conv layer adds
  ``out_channels/groups`` times the number of output positions the spike's pixel reaches;
* **neuron updates**: every neuron is updated every step (``neurons x T``); those that fire are
  *active* updates;
* **spikes** sent by the layer.

Energy estimate, with :class:`EnergyCosts` (defaults: Loihi silicon as measured by Davies et al.,
"Loihi: a neuromorphic manycore processor with on-chip learning", IEEE Micro 38(1), 2018,
Table 1: 23.6 pJ per synaptic spike operation (their minimum), 52 pJ per inactive and 81 pJ per
active neuron update, 1.7 pJ per spike sent within a tile; Intel has published no per-operation
figures for Loihi 2, so these are Loihi 1 numbers and the estimate is an order of magnitude):

.. math::

    E = 23.6\,\text{pJ}\cdot \text{SynOps} + 52\,\text{pJ}\cdot(\text{updates} - \text{spikes})
        + (81 + 1.7)\,\text{pJ}\cdot \text{spikes}

For comparison the report also gives the multiply-accumulates of the same architecture run once
as a non-spiking network and their energy at :math:`E_{MAC} = 4.6` pJ, and the SynOps at
:math:`E_{AC} = 0.9` pJ (32-bit float, 45 nm; Horowitz, ISSCC 2014, the convention of the
spiking-network literature, see ``../shared/papers/SPEC.md`` §4.6).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from spikegate.export.lava.network import Dense, Flatten, Network, NetworkRun


class EnergyCosts(NamedTuple):
    """Energy per operation in joules (defaults and sources in the module docstring)."""

    synaptic_op: float = 23.6e-12
    neuron_update: float = 52e-12
    active_update: float = 81e-12
    spike: float = 1.7e-12
    mac: float = 4.6e-12
    ac: float = 0.9e-12


class LayerOps(NamedTuple):
    """Per-sample counts of one neuron layer (means over the samples)."""

    name: str
    neurons: int
    input_spikes: float
    synaptic_ops: float
    neuron_updates: float
    spikes: float
    macs: int


class OpsReport(NamedTuple):
    """Operations per inference (``steps`` time steps) and their energy under ``costs``."""

    layers: list[LayerOps]
    steps: int
    costs: EnergyCosts

    def total(self, field: str) -> float:
        return float(sum(getattr(layer, field) for layer in self.layers))

    def loihi_energy(self) -> float:
        """Joules per inference on Loihi (module formula)."""
        c = self.costs
        syn, upd, spk = self.total("synaptic_ops"), self.total("neuron_updates"), self.total("spikes")
        return c.synaptic_op * syn + c.neuron_update * (upd - spk) + (c.active_update + c.spike) * spk

    def table(self) -> str:
        """A plain-text table, one row per layer plus totals and the energy lines."""
        head = f"{'layer':<14}{'neurons':>9}{'in spikes':>11}{'SynOps':>12}{'updates':>10}{'spikes':>9}{'ANN MACs':>11}"
        rows = [head, "-" * len(head)]
        for r in self.layers:
            rows.append(f"{r.name:<14}{r.neurons:>9}{r.input_spikes:>11.1f}{r.synaptic_ops:>12.0f}"
                        f"{r.neuron_updates:>10.0f}{r.spikes:>9.1f}{r.macs:>11}")
        rows.append(f"{'total':<14}{int(self.total('neurons')):>9}{self.total('input_spikes'):>11.1f}"
                    f"{self.total('synaptic_ops'):>12.0f}{self.total('neuron_updates'):>10.0f}"
                    f"{self.total('spikes'):>9.1f}{int(self.total('macs')):>11}")
        c = self.costs
        rows.append(f"energy per inference ({self.steps} steps): Loihi estimate {self.loihi_energy() * 1e9:.2f} nJ; "
                    f"same SynOps at E_AC {c.ac * 1e12:g} pJ: {self.total('synaptic_ops') * c.ac * 1e9:.2f} nJ; "
                    f"non-spiking network at E_MAC {c.mac * 1e12:g} pJ: {self.total('macs') * c.mac * 1e9:.2f} nJ")
        return "\n".join(rows)


def _reach(n: int, k: int, stride: int, pad: int, dil: int, n_out: int) -> Tensor:
    """How many (output position, kernel tap) pairs each input position feeds, along one axis."""
    reach = torch.zeros(n, dtype=torch.float64)
    for i in range(n):
        for tap in range(k):
            j = i + pad - tap * dil
            if j >= 0 and j % stride == 0 and j // stride < n_out:
                reach[i] += 1
    return reach


def operations(net: Network, spikes: Tensor, run: NetworkRun, costs: EnergyCosts | None = None) -> OpsReport:
    """Count the operations of ``net`` on ``spikes: [T, B, *input_shape]`` given ``run``, its
    result with every layer recorded (``record="spikes"`` or ``"states"``); ``costs=None``
    takes the defaults of :class:`EnergyCosts`."""
    costs = EnergyCosts() if costs is None else costs
    idx = net.neuron_layers
    if len(run.spikes) != len(idx):
        raise ValueError("run must hold the spikes of every neuron layer (record='spikes')")
    steps, batch = spikes.shape[:2]
    x = spikes.to(torch.float64)
    layers: list[LayerOps] = []
    shape = net.input_shape
    k = 0
    for i, layer in enumerate(net.layers):
        if isinstance(layer, Flatten):
            x = x.flatten(2)
            shape = net.shapes[i]
            continue
        out_shape = net.shapes[i]
        neurons = int(torch.tensor(out_shape).prod())
        if isinstance(layer, Dense):
            syn = x.sum() * out_shape[0]
            macs = layer.weight.numel()
            name = f"dense{k}"
        else:
            c_out, h_out, w_out = out_shape
            kh, kw = layer.weight.shape[2:]
            ry = _reach(shape[1], kh, layer.stride[0], layer.padding[0], layer.dilation[0], h_out)
            rx = _reach(shape[2], kw, layer.stride[1], layer.padding[1], layer.dilation[1], w_out)
            syn = (x * (ry[:, None] * rx[None, :])).sum() * (c_out // layer.groups)
            macs = h_out * w_out * layer.weight.numel()
            name = f"conv{k}"
        out = run.spikes[k].to(torch.float64)
        layers.append(LayerOps(name, neurons, float(x.sum()) / batch, float(syn) / batch, float(neurons * steps),
                               float(out.sum()) / batch, int(macs)))
        x, shape, k = out, out_shape, k + 1
    return OpsReport(layers, int(steps), costs)
