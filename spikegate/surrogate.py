r"""Surrogate gradients: the spike is a Heaviside step forward and a smooth bump backward.

A spiking neuron emits :math:`S = H(x)` with :math:`x = U - \vartheta` and
:math:`H(x) = 1` for :math:`x \ge 0`, else 0. The step has no useful derivative, so the
backward pass substitutes :math:`\partial S / \partial x := g'(x)`, the derivative of a smooth
step :math:`g` (the *primitive*). A :class:`SurrogateSpec` is plain data, ``(kind, alpha)``; the
reference, CPU and CUDA paths all read it, and this module holds the one definition of each
``g'`` that the fused kernels are tested against.

=====================  ==============================================  =======================  =======
kind                   :math:`g'(x)`                                    primitive :math:`g(x)`   alpha
=====================  ==============================================  =======================  =======
``atan``               :math:`\frac{\alpha/2}{1 + (\pi \alpha x / 2)^2}`  atan(pi a x/2)/pi + 1/2   2
``fast_sigmoid``       :math:`\frac{1}{(1 + \alpha |x|)^2}` (SuperSpike)  x / (1 + a|x|)            25
``sigmoid``            :math:`\alpha\,\sigma(\alpha x)(1-\sigma(\alpha x))`  sigma(a x)              4
``triangle``           :math:`\max(0, 1 - |x|/\alpha)/\alpha`            piecewise quadratic       1
``rectangular``        :math:`\mathbb{1}[|x| < \alpha/2]/\alpha`         clip(x/a + 1/2, 0, 1)     1
``straight_through``   :math:`1`                                         x                         1
=====================  ==============================================  =======================  =======

``alpha`` is a sharpness for the first three kinds and a width (in units of ``x``) for
``triangle`` and ``rectangular``; ``straight_through`` ignores it.

The stochastic binary neuron of Bengio, Léonard & Courville (2013) is :func:`bernoulli_ste`:
forward :math:`h = \mathbb{1}[u < p]` with :math:`u \sim U(0, 1)` (a Bernoulli(p) sample),
backward straight through the firing probability, :math:`\partial h/\partial p := 1`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from spikegate._validate import check_positive

KINDS: tuple[str, ...] = (
    "atan",
    "fast_sigmoid",
    "sigmoid",
    "triangle",
    "rectangular",
    "straight_through",
)

DEFAULT_ALPHA: dict[str, float] = {
    "atan": 2.0,
    "fast_sigmoid": 25.0,
    "sigmoid": 4.0,
    "triangle": 1.0,
    "rectangular": 1.0,
    "straight_through": 1.0,
}


class SurrogateSpec(NamedTuple):
    """Which surrogate derivative the backward pass uses: ``kind`` from :data:`KINDS` and its
    sharpness/width ``alpha`` (see the module table)."""

    kind: str = "atan"
    alpha: float = 2.0


def surrogate(kind: str | SurrogateSpec = "atan", alpha: float | None = None) -> SurrogateSpec:
    """Build and validate a :class:`SurrogateSpec`; ``alpha=None`` takes the kind's default.

    >>> surrogate("fast_sigmoid")
    SurrogateSpec(kind='fast_sigmoid', alpha=25.0)
    """
    if isinstance(kind, SurrogateSpec):
        if alpha is not None:
            kind = SurrogateSpec(kind.kind, alpha)
        kind, alpha = kind.kind, kind.alpha
    if kind not in DEFAULT_ALPHA:
        raise ValueError(f"surrogate kind must be one of {', '.join(KINDS)}; got {kind!r}")
    a = DEFAULT_ALPHA[kind] if alpha is None else float(alpha)
    check_positive(a, "surrogate alpha")
    return SurrogateSpec(kind, a)


def derivative(x: Tensor, spec: SurrogateSpec) -> Tensor:
    """The surrogate derivative :math:`g'(x)` of ``spec``, elementwise (the one definition)."""
    kind, a = spec.kind, spec.alpha
    if kind == "atan":
        return (a / 2) / (1 + (math.pi / 2 * a * x) ** 2)
    if kind == "fast_sigmoid":
        return 1 / (1 + a * x.abs()) ** 2
    if kind == "sigmoid":
        s = torch.sigmoid(a * x)
        return a * s * (1 - s)
    if kind == "triangle":
        return torch.clamp(1 - x.abs() / a, min=0) / a
    if kind == "rectangular":
        return (x.abs() < a / 2).to(x.dtype) / a
    if kind == "straight_through":
        return torch.ones_like(x)
    raise ValueError(f"unknown surrogate kind {kind!r}")


def primitive(x: Tensor, spec: SurrogateSpec) -> Tensor:
    """A smooth function :math:`g` whose derivative is :func:`derivative` (used to check it)."""
    kind, a = spec.kind, spec.alpha
    if kind == "atan":
        return torch.atan(math.pi / 2 * a * x) / math.pi + 0.5
    if kind == "fast_sigmoid":
        return x / (1 + a * x.abs())
    if kind == "sigmoid":
        return torch.sigmoid(a * x)
    if kind == "triangle":
        y = torch.clamp(x / a, -1, 1)
        return 0.5 + y - torch.sign(y) * y * y / 2
    if kind == "rectangular":
        return torch.clamp(x / a + 0.5, 0, 1)
    if kind == "straight_through":
        return x.clone()
    raise ValueError(f"unknown surrogate kind {kind!r}")


def heaviside(x: Tensor) -> Tensor:
    """:math:`H(x) = 1` for :math:`x \\ge 0`, else 0, in ``x``'s dtype."""
    return (x >= 0).to(x.dtype)


class _Spike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, kind: str, alpha: float) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.spec = SurrogateSpec(kind, alpha)
        return heaviside(x)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad * derivative(x, ctx.spec), None, None


def spike(x: Tensor, spec: SurrogateSpec) -> Tensor:
    """Emit :math:`H(x)`; the backward pass multiplies by :math:`g'(x)` of ``spec``."""
    return _Spike.apply(x, spec.kind, spec.alpha)


class _BernoulliSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, p: Tensor, noise: Tensor) -> Tensor:  # type: ignore[override]
        return (noise < p).to(p.dtype)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        return grad, None


def bernoulli_ste(p: Tensor, noise: Tensor) -> Tensor:
    r"""Stochastic binary unit: :math:`h = \mathbb{1}[u < p]` with the given uniform ``noise``
    :math:`u \in [0, 1)`, so :math:`h \sim \mathrm{Bernoulli}(p)`; backward
    :math:`\partial h / \partial p := 1` (straight-through through the probability).

    With ``p = sigmoid(a)`` autograd then gives :math:`\sigma'(a)`, the "sigmoid-adjusted"
    straight-through estimator of Bengio et al. (2013). The noise is an explicit input so that
    every backend draws the same sample.
    """
    return _BernoulliSTE.apply(p, noise)


def stochastic_binary(
    logits: Tensor, *, generator: torch.Generator | None = None
) -> Tensor:
    """Bengio et al. (2013) stochastic binary neuron: sample Bernoulli(sigmoid(logits)),
    backward through the firing probability (see :func:`bernoulli_ste`)."""
    noise = torch.rand(logits.shape, generator=generator, dtype=logits.dtype, device=logits.device)
    return bernoulli_ste(torch.sigmoid(logits), noise)
