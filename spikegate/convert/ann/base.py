r"""Components written once against an operator set, so that the ANN and its spiking
conversion run the same code.

A :class:`Convertible` implements ``compute(ops, *inputs, state=None) -> (y, state)``. Every
operation that is not linear in a signal goes through ``ops``:

=====================  ============================================  =========================================
call                   ANN (:class:`AnnOps`)                         spiking (``spikegate.convert.SpikeOps``)
=====================  ============================================  =========================================
``site(q, x)``         ``q(x)``: ReLU / identity / QCFS              the IF encoder that replaced ``q``
``unit(f, *xs)``       ``f(*xs)``                                    accumulate-then-compute unit
``mul(a, b)``          ``a * b``                                     cumulative product rule
``matmul(a, b)``       ``a @ b``                                     cumulative product rule
``linear(x, w)``       ``x @ w.T``                                   the same, per step (counted)
``route(z, k)``        top-k of ``z``, softmax of the k kept logits  top-k of the window sum of ``z``, latched
``const(x, like)``     ``x``                                         ``x`` held for every step of ``like``
``aux(name, f, *xs)``  records ``f(*xs)`` in :func:`aux_losses`      nothing
=====================  ============================================  =========================================

Linear layers (``nn.Linear``), reshapes and additions act on the last dimensions and are called
directly. ``ops.lead`` is the number of leading time-step dimensions (0 in the ANN, 1 in the
SNN), so components index sequence and token axes from the end. ANN sequences are time-major,
``[L, B, D]`` (sequence position = time); in the SNN each is carried by a window of T
micro-steps, ``[T, L, B, D]``.
"""

from __future__ import annotations

import abc
import contextlib
import threading
from typing import Any, Callable, Iterator

import torch
from torch import Tensor, nn

from spikegate.convert import counting
from spikegate.convert.ann.quant import ActQuant
from spikegate.neurons import SequenceModule

Fn = Callable[..., Any]


class AnnOps:
    """ANN semantics of the operator set (module table); counts operations when a
    :func:`spikegate.convert.counting.counting` block is active."""

    lead = 0

    def site(self, q: ActQuant, x: Tensor) -> Tensor:
        return q(x)

    def unit(self, f: Fn, *xs: Tensor, macs: float | None = None) -> Any:
        y = f(*xs)
        counter = counting.active()
        if counter is not None:
            first = y[0] if isinstance(y, tuple) else y
            counter.unit(first.numel() if macs is None else macs)
        return y

    def mul(self, a: Tensor, b: Tensor) -> Tensor:
        y = a * b
        _count_product(a, b, y, 1)
        return y

    def matmul(self, a: Tensor, b: Tensor) -> Tensor:
        y = a @ b
        _count_product(a, b, y, a.shape[-1])
        return y

    def linear(self, x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
        counter = counting.active()
        if counter is not None:
            w = (weight != 0).to(weight.dtype)
            counter.linear(x, lambda ind: torch.nn.functional.linear(ind.to(w.dtype), w))
        return torch.nn.functional.linear(x, weight, bias)

    def route(self, logits: Tensor, k: int) -> tuple[Tensor, Tensor]:
        """Top-k routing: ``(indices [N, k], weights [N, k])`` with the weights a softmax
        over the k kept logits (the others get weight 0)."""
        idx = logits.topk(k, dim=-1).indices
        counter = counting.active()
        if counter is not None:
            counter.unit(logits.numel())
        kept = logits.gather(-1, idx)
        return idx, self.unit(lambda z: torch.softmax(z, dim=-1), kept)

    def const(self, x: Tensor, like: Tensor) -> Tensor:
        return x

    def aux(self, name: str, fn: Fn, *xs: Any) -> None:
        """Record an auxiliary training loss ``fn(*xs)`` in the active :func:`aux_losses`
        block (nothing happens outside one)."""
        log = getattr(_local, "aux", None)
        if log is not None:
            log.append((name, fn(*xs)))


def _count_product(a: Tensor, b: Tensor, y: Tensor, inner: int) -> None:
    counter = counting.active()
    if counter is not None:
        counter.product(a, b, y.numel(), inner)


ANN = AnnOps()
_local = threading.local()


@contextlib.contextmanager
def aux_losses() -> Iterator[list[tuple[str, Tensor]]]:
    """Collect ``(name, loss)`` of every auxiliary loss computed inside the block (this
    thread), e.g. the load-balancing loss of :class:`~spikegate.convert.ann.TopKMoE`."""
    previous = getattr(_local, "aux", None)
    log: list[tuple[str, Tensor]] = []
    _local.aux = log
    try:
        yield log
    finally:
        _local.aux = previous


class Convertible(nn.Module, metaclass=abc.ABCMeta):
    """A component written against the operator set (module docstring). Subclasses implement
    :meth:`compute`; :func:`spikegate.convert.to_snn` runs the same method with spiking
    operators."""

    @abc.abstractmethod
    def compute(self, ops: AnnOps, *inputs: Any, state: Any = None) -> tuple[Tensor, Any]:
        """``(y, state)`` of the component, every nonlinear operation through ``ops``."""

    def prepare_conversion(self, require_prepared: bool) -> None:
        """Fix what the spiking version fixes (e.g. the 12-bit GLA decay); with
        ``require_prepared`` raise instead if it is not fixed already (the quantized ANN of a
        QAT model must already match its SNN). Default: nothing to fix."""


class SequenceComponent(Convertible, SequenceModule):
    """A component that mixes along the sequence: ``forward(x: [L, B, D], state=None) ->
    (y: [L, B, D], state)``."""

    def forward(self, x: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        return self.compute(ANN, x, state=state)


class TokenComponent(Convertible):
    """A component applied to each token on its own: ``forward(x: [..., D]) -> [..., D']``."""

    def forward(self, x: Tensor) -> Tensor:
        return self.compute(ANN, x)[0]


def check_no_state(state: Any, name: str) -> None:
    if state is not None:
        raise ValueError(f"{name} keeps no state between calls; state must be None, got {type(state).__name__}")
