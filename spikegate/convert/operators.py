r"""Spiking operators: the IF spike encoder, accumulate-then-compute units, the cumulative
product rule, window-latched top-k routing, and the operator set that runs a
:class:`~spikegate.convert.ann.Convertible` as a spiking network.

A signal is a train ``[T, ...]`` of per-step values; the value it carries is its window mean
:math:`\bar x = \frac1T \sum_t x_t` (so a linear layer applied per step is exact on values).

**Encoder.** An integrate-and-fire neuron (:class:`~spikegate.neurons.LIF` with
:math:`\beta = 1`, reset by subtraction) with threshold :math:`\vartheta` and initial membrane
:math:`\vartheta/2` emits spikes worth :math:`\vartheta`; the signed encoder pairs it with a
neuron driven by :math:`-x`. Driven by a constant :math:`m` for T steps it fires
:math:`\mathrm{clip}(\lfloor mT/\vartheta + \frac12 \rfloor, 0, T)` times: the QCFS value.

**Units** for a non-linear :math:`f` (softmax, :math:`\sigma`, norms, the GLA accumulator)
integrate their inputs :math:`X_t = \sum_{\tau \le t} x_\tau` and emit differences so that the
running sum of the output is :math:`t\, f(X_t/t)` (expectation compensation, ECMT): its window
mean is :math:`f(\bar x)`.

**Products** of two trains use the cumulative rule: with running sums :math:`A_t, B_t`,
:math:`P_t = P_{t-1} + f(A_{t-1}, b_t) + f(a_t, B_t) = f(A_t, B_t)` for bilinear :math:`f`
(each term is driven by the spikes of one operand against the running sum of the other), and
the output's running sum is :math:`P_t / t`: window mean :math:`f(\bar a, \bar b)`, exact.

**Timing.** ``"window"`` (pipelined, the default): every encoder integrates its input over the
whole window before it fires, driven by the window mean; units and products emit once, at the
last step. Each stage then reproduces the quantized ANN exactly, one window of latency per
stage. ``"step"`` (streaming): encoders integrate the instantaneous input and units emit every
step; the window means are approximate (the IF "unevenness" error). In both, top-k routing is
decided once on the window sum of the logits and latched (CONVERSION.md A4).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from spikegate._validate import check_choice, check_positive, check_sequence
from spikegate.convert import counting
from spikegate.convert.ann.base import Convertible
from spikegate.convert.ann.quant import ActQuant
from spikegate.neurons import LIF, LIFState, SequenceModule

TIMINGS: tuple[str, ...] = ("window", "step")


class IFEncoder(LIF):
    """Spike encoder (module docstring): IF neuron(s) with threshold ``threshold``, reset by
    subtraction, initial membrane ``threshold / 2``; ``signed`` adds the neuron driven by
    :math:`-x`. ``forward(x: [T, B, ...], state=None) -> (spikes * threshold, LIFState)``
    (a signed encoder's state stacks its positive and negative neurons: ``v: [2, B, ...]``)."""

    def __init__(self, threshold: float, signed: bool, timing: str = "window", backend: str = "auto") -> None:
        check_positive(threshold, "threshold")
        super().__init__(beta=1.0, threshold=float(threshold), reset="subtract", backend=backend)
        self.signed = bool(signed)
        self.timing = check_choice(timing, "timing", TIMINGS)
        self.theta = float(threshold)

    def initial_state(self, like: Tensor) -> LIFState:
        return LIFState(torch.full_like(like, self.theta / 2))

    def forward(self, x: Tensor, state: LIFState | None = None) -> tuple[Tensor, LIFState]:  # type: ignore[override]
        x = check_sequence(x, "x")
        drive = x.mean(0, keepdim=True).expand_as(x) if self.timing == "window" else x
        if self.signed:
            drive = torch.stack([drive, -drive], dim=1)
        s, state = super().forward(drive, state)
        counter = counting.active()
        if counter is not None:
            counter.neurons(drive.numel())
        if self.signed:
            s = s[:, 0] - s[:, 1]
        return s * self.theta, state

    def extra_repr(self) -> str:
        return f"threshold={self.theta:.6g}, signed={self.signed}, timing={self.timing!r}"


def accumulate_compute(f: Callable[..., Any], xs: Sequence[Tensor], timing: str) -> Any:
    """Accumulate-then-compute unit for ``f`` over trains ``xs`` (each ``[T, ...]``).

    ``f`` acts on value-shaped tensors (no time axis). Returns a train whose running sum is
    :math:`t f(X_t / t)`; when ``f`` returns a tuple, the first entry becomes the train and the
    others are returned as evaluated on the whole window (e.g. a final recurrent state)."""
    steps = xs[0].shape[0]
    if timing == "window":
        y = f(*(x.mean(0) for x in xs))
        first = y[0] if isinstance(y, tuple) else y
        train = first.new_zeros(steps, *first.shape)
        train[-1] = steps * first
        return (train, *y[1:]) if isinstance(y, tuple) else train
    sums = [x.cumsum(0) for x in xs]
    out, previous, y = [], None, None
    for t in range(steps):
        y = f(*(s[t] / (t + 1) for s in sums))
        first = y[0] if isinstance(y, tuple) else y
        cum = (t + 1) * first
        out.append(cum if previous is None else cum - previous)
        previous = cum
    train = torch.stack(out)
    return (train, *y[1:]) if isinstance(y, tuple) else train


def cumulative_product(f: Callable[[Tensor, Tensor], Tensor], a: Tensor, b: Tensor, timing: str) -> Tensor:
    """Product of two trains ``a, b: [T, ...]`` for a bilinear ``f`` (``torch.mul``,
    ``torch.matmul``) by the cumulative rule (module docstring); the window mean of the result
    is ``f(mean(a), mean(b))``."""
    sum_a, sum_b = a.cumsum(0), b.cumsum(0)
    p = (f(sum_a - a, b) + f(a, sum_b)).cumsum(0)  # p[t] = f(A_t, B_t)
    steps = p.shape[0]
    if timing == "window":
        out = torch.zeros_like(p)
        out[-1] = p[-1] / steps
        return out
    t = torch.arange(1, steps + 1, dtype=p.dtype, device=p.device).view(-1, *([1] * (p.dim() - 1)))
    cum = p / t
    return torch.cat([cum[:1], cum[1:] - cum[:-1]])


class SpikeOps:
    """Spiking semantics of the operator set of :mod:`spikegate.convert.ann.base` (one leading
    time axis, ``lead = 1``), with the given ``timing``."""

    lead = 1

    def __init__(self, timing: str = "window") -> None:
        self.timing = check_choice(timing, "timing", TIMINGS)

    def site(self, q: nn.Module, x: Tensor) -> Tensor:
        if not isinstance(q, IFEncoder):
            raise TypeError(f"a spiking component reached an unconverted activation site ({type(q).__name__}); convert it with to_snn")
        return q(x)[0]

    def unit(self, f: Callable[..., Any], *xs: Tensor, macs: float | None = None) -> Any:
        counter = counting.active()

        def counted(*values: Tensor) -> Any:
            y = f(*values)
            if counter is not None:
                first = y[0] if isinstance(y, tuple) else y
                counter.unit(first.numel() if macs is None else macs)
            return y

        return accumulate_compute(counted, xs, self.timing)

    def _product(self, f: Callable[[Tensor, Tensor], Tensor], a: Tensor, b: Tensor, inner: int) -> Tensor:
        y = cumulative_product(f, a, b, self.timing)
        counter = counting.active()
        if counter is not None:
            counter.product(a, b, y.numel(), inner)
        return y

    def mul(self, a: Tensor, b: Tensor) -> Tensor:
        return self._product(torch.mul, a, b, 1)

    def matmul(self, a: Tensor, b: Tensor) -> Tensor:
        return self._product(torch.matmul, a, b, a.shape[-1])

    def linear(self, x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
        counter = counting.active()
        if counter is not None:
            w = (weight != 0).to(weight.dtype)
            counter.linear(x, lambda ind: F.linear(ind.to(w.dtype), w))
        return F.linear(x, weight, bias)

    def route(self, logits: Tensor, k: int) -> tuple[Tensor, Tensor]:
        """``logits: [T, ..., E]`` -> ``(indices [..., k], weights [T, ..., k])``: top-k of the
        window sum, decided once at the window end; weights by a softmax unit."""
        idx = logits.sum(0).topk(k, dim=-1).indices
        counter = counting.active()
        if counter is not None:
            counter.unit(logits[0].numel())
        kept = logits.gather(-1, idx.expand(logits.shape[0], *idx.shape))
        return idx, self.unit(lambda z: torch.softmax(z, dim=-1), kept)

    def const(self, x: Tensor, like: Tensor) -> Tensor:
        """``x`` held for every step of ``like``'s window."""
        return x.expand(like.shape[0], *x.shape)

    def aux(self, name: str, fn: Callable[..., Any], *xs: Any) -> None:
        """Auxiliary training losses do not exist in the SNN."""


class SpikingUnit(SequenceModule):
    """A non-linear module (norm, sigmoid, ...) run as an accumulate-then-compute unit:
    ``forward(x: [T, ...], state=None) -> (y: [T, ...], None)``."""

    def __init__(self, fn: nn.Module, timing: str = "window") -> None:
        super().__init__()
        self.fn = fn
        self.ops = SpikeOps(timing)

    def forward(self, x: Tensor, state: None = None) -> tuple[Tensor, None]:
        if state is not None:
            raise ValueError("a spiking unit keeps no state between windows; state must be None")
        return self.ops.unit(self.fn, check_sequence(x, "x")), None


class SpikingComponent(SequenceModule):
    """A converted :class:`~spikegate.convert.ann.Convertible` (activation sites already
    replaced by :class:`IFEncoder`) run with :class:`SpikeOps`:
    ``forward(x: [T, ...], state=None) -> (y: [T, ...], state)``; :meth:`run` takes several
    inputs (e.g. MoVE's values, hidden states and tokens)."""

    def __init__(self, component: Convertible, timing: str = "window") -> None:
        super().__init__()
        self.component = component
        self.ops = SpikeOps(timing)

    def forward(self, x: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        return self.run(x, state=state)

    def run(self, *inputs: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        return self.component.compute(self.ops, *inputs, state=state)


def is_site(module: nn.Module) -> bool:
    """An activation site: :class:`~spikegate.convert.ann.ActQuant` or ``nn.ReLU``."""
    return isinstance(module, (ActQuant, nn.ReLU))
