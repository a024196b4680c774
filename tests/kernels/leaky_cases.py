"""Random problems for the leaky-family kernels, and the comparison against the reference loop.

A case is one op (``lif``, ``lif_refractory``, ``cuba_lif``, ``meta``) with random input current,
initial state and parameters, each requiring grad where it can; the loss weighs the spikes and
the final state with random weights, so every gradient path is exercised.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import Tensor

from spikegate.kernels import reference
from spikegate.neurons.lif import CubaLIFParams, CubaLIFState, LIFParams, LIFState, cuba_lif_step, lif_step
from spikegate.neurons.meta import MetaParams, MetaState, meta_step
from spikegate.surrogate import surrogate

OPS = ("lif", "lif_refractory", "cuba_lif", "meta")
REGISTRY_OP = {"lif": "lif", "lif_refractory": "lif", "cuba_lif": "cuba_lif", "meta": "meta"}


@dataclass
class Case:
    op: str
    step: Callable[..., Any]
    xs: Any
    state: Any
    params: Any
    leaves: list[Tensor]  # everything the loss is differentiated by
    weights: list[Tensor]  # loss weights for spikes and the final-state tensors


def _param(g: torch.Generator, mode: str, lo: float, hi: float, shape: tuple[int, ...], dtype) -> Tensor:
    """A parameter in [lo, hi]: per neuron ``[*features]``, per sample ``[B, *features]``, a
    learnable ``scalar``, or a ``fixed`` scalar (no grad)."""
    size = {"neuron": shape[1:], "sample": shape, "scalar": (), "fixed": ()}[mode]
    value = lo + (hi - lo) * torch.rand(size, generator=g, dtype=dtype)
    return value.requires_grad_(mode != "fixed")


def make_case(
    op: str,
    reset: str = "subtract",
    kind: str = "atan",
    steps: int = 63,
    batch: int = 3,
    features: tuple[int, ...] = (37,),
    dtype: torch.dtype = torch.float64,
    params: str = "neuron",
    seed: int = 0,
    start: float = 0.0,
) -> Case:
    """``start`` lifts the initial membrane (a single step only fires from near threshold)."""
    g = torch.Generator().manual_seed(seed)
    shape = (batch, *features)
    rand = lambda *s: torch.rand(s, generator=g, dtype=dtype)  # noqa: E731
    # Drive that keeps the spike rate moderate: without a reset the membrane integrates freely,
    # and a synaptic current integrates the input once more.
    mean = 0.22 if reset != "none" else 0.06
    gain = 1.0 if op.startswith("lif") else 0.4
    x = (gain * (0.55 * (rand(steps, *shape) - 0.5) + mean)).requires_grad_()
    v0 = (start + 0.8 * rand(*shape)).requires_grad_()
    beta = _param(g, params, 0.7, 0.98, shape, dtype)
    thr = _param(g, params, 0.8, 1.2, shape, dtype)
    if op in ("lif", "lif_refractory"):
        refractory = op == "lif_refractory"
        refrac = torch.randint(0, 3, shape, generator=g).to(dtype) if refractory else None
        p = LIFParams(beta, thr, reset, 2 if refractory else 0, surrogate(kind))
        state, step, xs = LIFState(v0, refrac), lif_step, x
        leaves = [x, v0, beta, thr]
    else:
        i0 = (0.2 * rand(*shape)).requires_grad_()
        alpha = _param(g, params, 0.4, 0.9, shape, dtype)
        leaves = [x, i0, v0, alpha, beta, thr]
        if op == "cuba_lif":
            p = CubaLIFParams(alpha, beta, thr, reset, surrogate(kind))
            state, step, xs = CubaLIFState(i0, v0), cuba_lif_step, x
        else:
            kappa = _param(g, params, 0.1, 0.4, shape, dtype)
            p = MetaParams(alpha, beta, thr, kappa, reset)
            state, step, xs = MetaState(i0, v0), meta_step, (x, rand(steps, *shape))
            leaves.append(kappa)
    leaves = [t for t in leaves if t.requires_grad]
    weights = [torch.randn((steps, *shape), generator=g, dtype=dtype)]
    weights += [torch.randn(shape, generator=g, dtype=dtype) for s in state if s is not None]
    return Case(op, step, xs, state, p, leaves, weights)


@contextlib.contextmanager
def poisoned():
    """Fresh memory is NaN inside the block: under ``torch.use_deterministic_algorithms(True)``
    PyTorch fills ``torch.empty`` with NaN (max for integers), and the fused engines allocate
    their outputs and scratch through it, so an element a kernel forgets to write shows up."""
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        assert torch.utils.deterministic.fill_uninitialized_memory
        yield
    finally:
        torch.use_deterministic_algorithms(previous)


def evaluate(case: Case, run: Callable[..., Any], poison: bool = True) -> tuple[Tensor, list[Tensor], list[Tensor]]:
    """Run ``run(xs, state, params)`` (with fresh memory poisoned); return the spikes, the final
    state and the gradient of the weighted loss with respect to every leaf."""
    with poisoned() if poison else contextlib.nullcontext():
        spikes, final = run(case.xs, case.state, case.params)
        outs = [spikes, *(s for s in final if s is not None)]
        loss = sum((o * w).sum() for o, w in zip(outs, case.weights))
        grads = torch.autograd.grad(loss, case.leaves)
    return spikes.detach(), [s.detach() for s in outs[1:]], list(grads)


def reference_run(case: Case):
    return evaluate(case, lambda xs, st, p: reference.run(case.step, xs, st, p), poison=False)


def assert_matches(case: Case, got, want, *, grad_rtol: float) -> None:
    """Spikes identical, final state equal to rounding, every gradient close."""
    spikes, state, grads = got
    ref_spikes, ref_state, ref_grads = want
    rate = ref_spikes.mean().item()
    assert 0.01 < rate < 0.95, f"degenerate case: spike rate {rate:.3f}"
    assert torch.equal(spikes, ref_spikes), f"{int((spikes != ref_spikes).sum())} spikes differ"
    for a, b in zip(state, ref_state):
        torch.testing.assert_close(a, b, rtol=grad_rtol, atol=grad_rtol)
    for a, b in zip(grads, ref_grads):
        scale = b.abs().max().item()
        assert scale > 0, "a gradient of the reference is zero: the case does not exercise it"
        torch.testing.assert_close(a, b, rtol=grad_rtol, atol=grad_rtol * scale)
