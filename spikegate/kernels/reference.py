"""The reference backend: a plain PyTorch loop over any step function; autograd does the rest.

This is the ground truth every fused kernel is tested against. A step function has the
signature ``step(x_t, state, params) -> (y_t, new_state)`` where ``x_t`` is one time slice
``[B, *features]`` of the input (or a tuple of slices for neurons that take several inputs,
e.g. current and noise) and ``state`` is a NamedTuple of ``[B, *features]`` tensors.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import torch
from torch import Tensor

Inputs = Tensor | tuple[Tensor, ...]
StepFn = Callable[[Any, NamedTuple, NamedTuple], tuple[Tensor, NamedTuple]]


def _slice(xs: Inputs, t: int) -> Any:
    if isinstance(xs, tuple):
        return tuple(x[t] for x in xs)
    return xs[t]


def _unbind(xs: Inputs) -> list[Any]:
    """All time slices at once: the backward of one ``unbind`` is one stack, whereas the
    backward of every ``x[t]`` writes a zero tensor of the whole sequence (O(T^2) work)."""
    if isinstance(xs, tuple):
        return list(zip(*(x.unbind(0) for x in xs)))
    return list(xs.unbind(0))


def run(step: StepFn, xs: Inputs, state: NamedTuple, params: NamedTuple) -> tuple[Tensor, NamedTuple]:
    """Loop ``step`` over the leading time axis. Returns ``(y [T, B, ...], final state)``."""
    ys = []
    for x_t in _unbind(xs):
        y, state = step(x_t, state, params)
        ys.append(y)
    return torch.stack(ys), state


def trace(step: StepFn, xs: Inputs, state: NamedTuple, params: NamedTuple) -> tuple[Tensor, NamedTuple]:
    """Like :func:`run`, but return every intermediate state: each field stacked to
    ``[T, B, ...]`` (the state *after* step t). ``None`` fields stay ``None``."""
    ys: list[Tensor] = []
    states: list[NamedTuple] = []
    for x_t in _unbind(xs):
        y, state = step(x_t, state, params)
        ys.append(y)
        states.append(state)
    return torch.stack(ys), stack_states(states)


def stack_states(states: Sequence[NamedTuple]) -> NamedTuple:
    """Stack a list of same-typed NamedTuple states field by field along a new time axis."""
    cls = type(states[0])
    fields = []
    for i in range(len(states[0])):
        first = states[0][i]
        fields.append(None if first is None else torch.stack([s[i] for s in states]))
    return cls(*fields)
