r"""Operation counts per inference and an energy estimate, ANN vs SNN.

Three kinds of operations are counted:

* ``mac``: multiply-accumulates. In the ANN every connection of a linear / convolutional layer
  costs one MAC (dense: zeros are not skipped), a product of two signals costs one MAC per
  output element per inner-product term, and a non-linear unit costs one MAC per output
  element (a deliberately simple charge for :math:`\sigma`, exp, division; the unit's ``macs``
  argument overrides it, e.g. for the GLA accumulator).
* ``ac``: accumulates driven by spikes (synaptic operations, SOPs). A spike train is a tensor
  whose non-zero entries all have the same magnitude (the output of one IF encoder, each spike
  worth :math:`\vartheta`); every spike costs one AC per outgoing connection.
* ``neuron``: integrate-and-fire membrane updates, one per neuron per step (an addition, charged
  as an AC).

In the SNN a *graded* signal (anything that is not a spike train: the analog input under
direct coding, the output of a non-linear unit) drives a linear layer sigma-delta style: it costs
one MAC per connection of every entry that *changed* since the previous step, so an input held
constant over the window is paid once. A product whose operand is a spike train pays one AC per
spike and output it feeds (the cumulative rule adds the other operand's running sum); a graded
operand pays one MAC per non-zero entry and output. Units evaluated once per window (window
timing) cost what the ANN op costs; step timing evaluates them every step.

Energy per operation (32-bit float arithmetic in 45 nm CMOS, Horowitz, ISSCC 2014, as used by
SDM and most SNN energy estimates):

.. math:: E = E_{MAC} \cdot N_{MAC} + E_{AC} \cdot (N_{AC} + N_{neuron}),\qquad
          E_{MAC} = 4.6\ \mathrm{pJ},\ E_{AC} = 0.9\ \mathrm{pJ}.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class OpCounts:
    """Operations of one run (all samples of the batch together)."""

    mac: float = 0.0
    ac: float = 0.0
    neuron: float = 0.0

    def per_sample(self, batch: int) -> "OpCounts":
        return OpCounts(self.mac / batch, self.ac / batch, self.neuron / batch)


class EnergyCosts(NamedTuple):
    """Joules per operation (defaults: 32-bit float, 45 nm; Horowitz 2014)."""

    mac: float = 4.6e-12
    ac: float = 0.9e-12


def energy(counts: OpCounts, costs: EnergyCosts = EnergyCosts()) -> float:
    """Energy in joules: ``costs.mac * counts.mac + costs.ac * (counts.ac + counts.neuron)``."""
    return costs.mac * counts.mac + costs.ac * (counts.ac + counts.neuron)


class Counter:
    """Accumulates operations while active (see :func:`counting`). ``steps`` is the number of
    time steps folded into the leading dimension of every tensor (1 for an ANN)."""

    def __init__(self, steps: int, spiking: bool) -> None:
        self.steps = steps
        self.spiking = spiking
        self.counts = OpCounts()

    def linear(self, x: Tensor, connect: Callable[[Tensor], Tensor]) -> None:
        """A linear map of ``x``; ``connect(indicator)`` applies the layer's connectivity
        (weights replaced by ``1`` where non-zero, no bias) to an indicator tensor."""
        with torch.no_grad():
            if not self.spiking:
                self.counts.mac += float(connect(torch.ones_like(x)).sum())
            elif is_spike_train(x):
                self.counts.ac += float(connect((x != 0).to(x.dtype)).sum())
            else:
                self.counts.mac += float(connect((self._delta(x) != 0).to(x.dtype)).sum())

    def product(self, a: Tensor, b: Tensor, out_numel: int, inner: int) -> None:
        """A bilinear product with ``out_numel`` outputs of ``inner`` terms each."""
        if not self.spiking:
            self.counts.mac += float(out_numel * inner)
            return
        for x in (a, b):
            fan = out_numel * inner / x.numel()
            nnz = float((x != 0).sum())
            if is_spike_train(x):
                self.counts.ac += nnz * fan
            else:
                self.counts.mac += nnz * fan

    def unit(self, macs: float) -> None:
        self.counts.mac += float(macs)

    def neurons(self, n: float) -> None:
        self.counts.neuron += float(n)

    def _delta(self, x: Tensor) -> Tensor:
        xs = x.reshape(self.steps, -1)
        d = xs.clone()
        d[1:] -= xs[:-1]
        return d.reshape(x.shape)


_local = threading.local()


def active() -> Counter | None:
    """The counter of the innermost :func:`counting` block of this thread, or ``None``."""
    return getattr(_local, "counter", None)


@contextlib.contextmanager
def counting(steps: int = 1, spiking: bool | None = None) -> Iterator[Counter]:
    """Count operations inside the block. ``steps``: time steps per run (T for an SNN, 1 for an
    ANN); ``spiking`` forces SNN rules when ``steps == 1`` (a one-step SNN)."""
    previous = active()
    counter = Counter(steps, steps > 1 if spiking is None else spiking)
    _local.counter = counter
    try:
        yield counter
    finally:
        _local.counter = previous


def is_spike_train(x: Tensor) -> bool:
    """True when all non-zero entries of ``x`` share one magnitude (one encoder's spikes)."""
    nz = x[x != 0].abs()
    return nz.numel() > 0 and bool((nz == nz[0]).all())


def _connect_fn(module: nn.Module) -> Callable[[Tensor], Tensor] | None:
    if isinstance(module, nn.Linear):
        w = (module.weight != 0).to(module.weight.dtype)
        return lambda ind: F.linear(ind.to(w.dtype), w)
    if isinstance(module, (nn.Conv1d, nn.Conv2d)):
        w = (module.weight != 0).to(module.weight.dtype)
        conv = F.conv1d if isinstance(module, nn.Conv1d) else F.conv2d
        if module.padding_mode != "zeros":
            raise ValueError(f"operation counting supports zero padding only, got {module.padding_mode!r}")
        return lambda ind: conv(ind.to(w.dtype), w, None, module.stride, module.padding, module.dilation, module.groups)
    return None


def count_ops(model: nn.Module, *inputs: Any, steps: int = 1, spiking: bool | None = None) -> OpCounts:
    """Run ``model(*inputs)`` once without gradients and count its operations.

    ``steps``: the number of time steps in the leading dimension of the inputs (T for a
    :class:`~spikegate.convert.SpikingNetwork`, whose ``count_ops`` method passes it; 1 for an
    ANN); ``spiking`` as in :func:`counting`. Returns the totals for the whole batch; divide with :meth:`OpCounts.per_sample`.
    """
    handles = []
    for m in model.modules():
        fn = _connect_fn(m)
        if fn is not None:
            handles.append(m.register_forward_hook(_hook(fn)))
    try:
        with counting(steps, spiking) as counter, torch.no_grad():
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
    return counter.counts


def _hook(fn: Callable[[Tensor], Tensor]) -> Callable[..., None]:
    def hook(module: nn.Module, args: tuple, output: Tensor) -> None:
        counter = active()
        if counter is not None:
            counter.linear(args[0], fn)

    return hook
