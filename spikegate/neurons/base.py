"""Shared machinery of the neuron modules: bounded learnable parameters, the multi-step module
base class, and the wrappers ``Sequential``, ``Recurrent`` and ``Stateful``.

Conventions (``../shared/DESIGN.md``): sequences are time-major ``[T, B, *features]``; a module
is ``forward(x, state=None) -> (y, state)``; states are NamedTuples; ``state=None`` starts
from rest. Hidden state is kept only by the explicit :class:`Stateful` wrapper.
"""

from __future__ import annotations

import abc
import math
from typing import Any, Callable, ClassVar, NamedTuple, Sequence

import torch
from torch import Tensor, nn

from spikegate import kernels
from spikegate._validate import check_choice, check_sequence
from spikegate.kernels import reference

# --------------------------------------------------------------------------------------------
# Bounded parameters


class Bounded(nn.Module):
    r"""A per-layer or per-neuron parameter kept inside its physical range.

    ``transform`` chooses the parametrization of a learnable value :math:`\theta`:

    * ``"unit"``: :math:`y = \sigma(\theta) \in (0, 1)` (decay factors such as beta),
    * ``"positive"``: :math:`y = \mathrm{softplus}(\theta) > 0` (thresholds, temperatures),
    * ``"tau"``: :math:`y = \tau_{min} + \mathrm{softplus}(\theta) > \tau_{min}` (time constants).

    A fixed (non-learnable) value is stored as a buffer and returned exactly as given.
    Calling the module returns the constrained value, shaped ``shape`` (``()`` = shared).
    """

    def __init__(
        self,
        value: float | Tensor,
        *,
        shape: Sequence[int] = (),
        learnable: bool = False,
        transform: str = "positive",
        minimum: float = 0.0,
    ) -> None:
        super().__init__()
        check_choice(transform, "transform", ("unit", "positive", "tau"))
        self.transform = transform
        self.minimum = float(minimum)
        self.learnable = bool(learnable)
        if learnable:
            v = torch.as_tensor(value, dtype=torch.get_default_dtype())
            v = v.expand(tuple(shape)).clone() if v.dim() == 0 else v.clone()
            self.raw = nn.Parameter(self._inverse(v))
        else:
            # Fixed values keep full precision (float64) and are cast to the input's dtype
            # when used, so a float64 run sees exactly the number the user wrote.
            v = value.detach().clone() if isinstance(value, Tensor) else torch.tensor(value, dtype=torch.float64)
            self.register_buffer("value", v if v.is_floating_point() else v.double())

    def _inverse(self, y: Tensor) -> Tensor:
        if self.transform == "unit":
            return torch.log(y) - torch.log1p(-y)
        z = y - (self.minimum if self.transform == "tau" else 0.0)
        return z + torch.log(-torch.expm1(-z))  # inverse softplus, stable for large z

    def forward(self) -> Tensor:
        if not self.learnable:
            return self.value
        if self.transform == "unit":
            return torch.sigmoid(self.raw)
        y = nn.functional.softplus(self.raw)
        return y + self.minimum if self.transform == "tau" else y

    def extra_repr(self) -> str:
        return f"transform={self.transform}, learnable={self.learnable}"


def decay_from_tau(tau: Tensor | float, dt: float) -> Tensor:
    r"""Decay factor of a leaky state over one step: :math:`\beta = e^{-\Delta t / \tau}`."""
    return torch.exp(-dt / torch.as_tensor(tau))


# --------------------------------------------------------------------------------------------
# State helpers


def detach(state: Any) -> Any:
    """Detach every tensor of a (nested) state; the step for truncated BPTT."""
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, tuple) and hasattr(state, "_fields"):
        return type(state)(*(detach(s) for s in state))
    if isinstance(state, (tuple, list)):
        return type(state)(detach(s) for s in state)
    return state


def _cast_params(params: NamedTuple, like: Tensor) -> NamedTuple:
    return type(params)(
        *(p.to(dtype=like.dtype, device=like.device) if isinstance(p, Tensor) else p for p in params)
    )


# --------------------------------------------------------------------------------------------
# Neuron module base


class SequenceModule(nn.Module):
    """A layer that takes a whole time-major sequence ``[T, B, ...]`` and returns
    ``(y, state)``. :class:`Sequential` hands such layers the sequence; any other module is
    applied to every time step at once by folding time into the batch."""


class NeuronModule(SequenceModule, metaclass=abc.ABCMeta):
    """Base of every multi-step neuron layer.

    Subclasses set ``op`` (the kernel registry name) and ``step`` (the model's one pure step
    function) and implement :meth:`params` and :meth:`initial_state`. ``shape`` fixes the
    feature shape (``None``: any shape, parameters shared).
    """

    op: ClassVar[str]
    step: ClassVar[Callable[..., tuple[Tensor, NamedTuple]]]
    state_type: ClassVar[type]

    def __init__(self, shape: Sequence[int] | int | None = None, backend: str = "auto") -> None:
        super().__init__()
        if isinstance(shape, int):
            shape = (shape,)
        self.shape: tuple[int, ...] | None = None if shape is None else tuple(int(s) for s in shape)
        check_choice(backend, "backend", kernels.BACKENDS)
        self.backend = backend

    @property
    def param_shape(self) -> tuple[int, ...]:
        return () if self.shape is None else self.shape

    @abc.abstractmethod
    def params(self) -> NamedTuple:
        """The step function's parameter NamedTuple, in their physical range."""

    @abc.abstractmethod
    def initial_state(self, like: Tensor) -> NamedTuple:
        """The resting state for an input shaped like ``like`` (one step, ``[B, *features]``)."""

    # -- inputs and state --------------------------------------------------------------------
    def _inputs(self, x: Tensor, **kwargs: Any) -> reference.Inputs:
        return x

    def _prepare(self, x: Tensor, state: NamedTuple | None, **kwargs: Any):
        x = check_sequence(x, "x", self.shape)
        if state is None:
            state = self.initial_state(x[0])
        else:
            self._check_state(state, x)
        return self._inputs(x, **kwargs), state, _cast_params(self.params(), x)

    def _check_state(self, state: NamedTuple, x: Tensor) -> None:
        if not isinstance(state, self.state_type):
            raise TypeError(
                f"state must be a {self.state_type.__name__} (or None), got {type(state).__name__}"
            )
        for name, value in zip(state._fields, state):
            if value is None:
                continue
            if not isinstance(value, Tensor) or tuple(value.shape) != tuple(x.shape[1:]):
                got = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
                raise ValueError(
                    f"state.{name} must have shape {tuple(x.shape[1:])} (batch and features of x), got {got}"
                )
            if value.is_floating_point() and not bool(torch.isfinite(value).all()):
                raise ValueError(f"state.{name} contains NaN or inf")

    # -- running ------------------------------------------------------------------------------
    def forward(self, x: Tensor, state: NamedTuple | None = None, **kwargs: Any) -> tuple[Tensor, NamedTuple]:
        """Run all time steps. ``x: [T, B, *features]`` -> ``(spikes [T, B, *features], state)``."""
        xs, state, params = self._prepare(x, state, **kwargs)
        return kernels.run(self.op, type(self).step, xs, state, params, self.backend)

    def trace(self, x: Tensor, state: NamedTuple | None = None, **kwargs: Any) -> tuple[Tensor, NamedTuple]:
        """Like :meth:`forward`, but return the state after every step (fields ``[T, B, ...]``);
        always the reference loop. For plots, recordings and cross-simulator checks."""
        xs, state, params = self._prepare(x, state, **kwargs)
        return reference.trace(type(self).step, xs, state, params)

    def step_once(self, x_t: Tensor, state: NamedTuple | None = None, **kwargs: Any) -> tuple[Tensor, NamedTuple]:
        """One time step: ``x_t: [B, *features]`` -> ``(spikes [B, *features], state)``."""
        y, state = self.forward(x_t.unsqueeze(0), state, **kwargs)
        return y[0], state


# --------------------------------------------------------------------------------------------
# Wrappers


class Sequential(SequenceModule):
    """Chain of layers over a time-major sequence. Neuron layers (any :class:`SequenceModule`)
    carry state; any other module (Linear, Conv2d, Flatten, pooling, ...) is applied to every time step at once by folding
    time into the batch. ``forward(x, state=None) -> (y, states)`` with one entry per layer
    (``None`` for stateless ones)."""

    def __init__(self, *layers: nn.Module) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x: Tensor, state: tuple | None = None) -> tuple[Tensor, tuple]:
        if state is None:
            state = (None,) * len(self.layers)
        elif len(state) != len(self.layers):
            raise ValueError(f"state must have one entry per layer ({len(self.layers)}), got {len(state)}")
        new_states = []
        for layer, s in zip(self.layers, state):
            if isinstance(layer, SequenceModule):
                x, s = layer(x, s)
            else:
                t, b = x.shape[:2]
                x = layer(x.flatten(0, 1))
                x = x.unflatten(0, (t, b))
                s = None
            new_states.append(s)
        return x, tuple(new_states)


class RecurrentState(NamedTuple):
    cell: NamedTuple
    spikes: Tensor


class Recurrent(SequenceModule):
    r"""A neuron layer with recurrent synapses: the cell receives
    :math:`x[t] + W s[t-1]` with :math:`W \in \mathbb{R}^{N \times N}` (row = target).
    The loop calls the cell's step function once per step (each step needs the previous
    spikes), through autograd, so it is the reference path for recurrent layers."""

    def __init__(self, cell: NeuronModule, n: int, weight: Tensor | None = None, learnable: bool = True) -> None:
        super().__init__()
        self.cell = cell
        w = torch.zeros(n, n) if weight is None else torch.as_tensor(weight, dtype=torch.get_default_dtype())
        if tuple(w.shape) != (n, n):
            raise ValueError(f"weight must have shape ({n}, {n}), got {tuple(w.shape)}")
        if weight is None:
            nn.init.normal_(w, std=1.0 / math.sqrt(n))
        if learnable:
            self.weight = nn.Parameter(w)
        else:
            self.register_buffer("weight", w)
        self.n = n

    def _loop(self, x: Tensor, state: RecurrentState | None, keep: bool, **kwargs: Any):
        if state is None:
            xs, cell_state, params = self.cell._prepare(check_sequence(x, "x", (self.n,)), None, **kwargs)
            s = torch.zeros_like(x[0])
        else:
            xs, cell_state, params = self.cell._prepare(check_sequence(x, "x", (self.n,)), state.cell, **kwargs)
            s = state.spikes
        step = type(self.cell).step
        w_t = self.weight.T.to(x.dtype)
        out, states = [], []
        for t in range(x.shape[0]):
            xt = reference._slice(xs, t)
            rec = s @ w_t
            xt = (xt[0] + rec, *xt[1:]) if isinstance(xt, tuple) else xt + rec
            s, cell_state = step(xt, cell_state, params)
            out.append(s)
            if keep:
                states.append(cell_state)
        return torch.stack(out), RecurrentState(cell_state, s), states

    def forward(self, x: Tensor, state: RecurrentState | None = None, **kwargs: Any) -> tuple[Tensor, RecurrentState]:
        """``x: [T, B, N]`` external input -> ``(spikes [T, B, N], RecurrentState)``; extra
        keywords (e.g. ``generator``) go to the cell."""
        spikes, state, _ = self._loop(x, state, keep=False, **kwargs)
        return spikes, state

    def trace(self, x: Tensor, state: RecurrentState | None = None, **kwargs: Any) -> tuple[Tensor, NamedTuple]:
        """Spikes and the cell state after every step (fields ``[T, B, N]``)."""
        spikes, _, states = self._loop(x, state, keep=True, **kwargs)
        return spikes, reference.stack_states(states)


class Stateful(nn.Module):
    """Explicit hidden-state wrapper: keeps the state of ``model`` between calls until
    :meth:`reset`. ``forward(x) -> y`` (online / streaming use)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.state: Any = None

    def reset(self) -> None:
        self.state = None

    def forward(self, x: Tensor) -> Tensor:
        y, self.state = self.model(x, self.state)
        return y
