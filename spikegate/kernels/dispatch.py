"""Backend registry: ``"auto" | "reference" | "cpu" | "cuda"``, and never a silent fallback.

Each neuron *op* (``"lif"``, ``"cuba_lif"``, ``"meta"``, ...) may register fused kernels per
backend. A kernel is a callable ``fn(xs, state, params) -> (y, final_state)`` with exactly the
reference signature, plus the devices it serves and an optional ``supports(params, dtype)``
that returns ``None`` when it can serve the call or a sentence saying why not.

Selection rules:

* ``"reference"`` always works: it loops the op's step function (:mod:`.reference`).
* ``"cpu"`` / ``"cuda"`` run that fused kernel or raise :class:`BackendError` saying why
  (not registered, wrong device, unsupported configuration) and which backends would serve.
* ``"auto"`` picks the fused kernel for the tensor's device when one is registered and
  supports the call, otherwise the reference loop. What ran is observable with :func:`record`.

Kernels can be registered lazily as ``"package.module:function"`` strings, so that
``import spikegate`` does not pay for numba or Triton.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, NamedTuple

import torch
from torch import Tensor

from spikegate.kernels import reference

BACKENDS: tuple[str, ...] = ("auto", "reference", "cpu", "cuda")
_FUSED_FOR_DEVICE = {"cpu": "cpu", "cuda": "cuda"}

SupportsFn = Callable[[NamedTuple, torch.dtype], "str | None"]


class BackendError(ValueError):
    """A backend was asked for that cannot serve the call."""


@dataclass
class _Kernel:
    target: Callable[..., Any] | str
    devices: tuple[str, ...]
    supports: SupportsFn | str | None = None
    _resolved: dict[str, Any] = field(default_factory=dict)

    def _load(self, what: Callable[..., Any] | str | None) -> Any:
        if what is None or callable(what):
            return what
        if what not in self._resolved:
            module, _, attr = what.partition(":")
            self._resolved[what] = getattr(importlib.import_module(module), attr)
        return self._resolved[what]

    @property
    def fn(self) -> Callable[..., Any]:
        return self._load(self.target)

    def why_not(self, device: torch.device, params: NamedTuple, dtype: torch.dtype) -> str | None:
        if device.type not in self.devices:
            return f"it runs on {'/'.join(self.devices)} tensors, not {device.type}"
        check = self._load(self.supports)
        return None if check is None else check(params, dtype)


_KERNELS: dict[str, dict[str, _Kernel]] = {}
_local = threading.local()


def register(
    op: str,
    backend: str,
    fn: Callable[..., Any] | str,
    *,
    devices: tuple[str, ...],
    supports: SupportsFn | str | None = None,
) -> None:
    """Register a fused kernel for ``op`` under ``backend`` (``"cpu"`` or ``"cuda"``)."""
    if backend not in ("cpu", "cuda"):
        raise ValueError(f"fused backends are 'cpu' or 'cuda', got {backend!r}")
    _KERNELS.setdefault(op, {})[backend] = _Kernel(fn, tuple(devices), supports)


def available(op: str) -> list[str]:
    """Backends registered for ``op`` (``"reference"`` always)."""
    return ["reference", *sorted(_KERNELS.get(op, {}))]


def select(op: str, backend: str, device: torch.device, params: NamedTuple, dtype: torch.dtype) -> str:
    """Name of the backend that will serve this call; raises :class:`BackendError`."""
    if backend not in BACKENDS:
        raise BackendError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    if backend == "reference":
        return "reference"
    kernels = _KERNELS.get(op, {})
    if backend == "auto":
        name = _FUSED_FOR_DEVICE.get(device.type)
        kernel = kernels.get(name) if name else None
        if kernel is not None and kernel.why_not(device, params, dtype) is None:
            return name  # type: ignore[return-value]
        return "reference"
    kernel = kernels.get(backend)
    if kernel is None:
        raise BackendError(
            f"no {backend!r} kernel is registered for {op!r}; available: {', '.join(available(op))}"
        )
    reason = kernel.why_not(device, params, dtype)
    if reason is not None:
        serving = [
            b for b in available(op)
            if b == "reference" or kernels[b].why_not(device, params, dtype) is None
        ]
        raise BackendError(
            f"the {backend!r} kernel for {op!r} cannot serve this call: {reason}; "
            f"backends that can: {', '.join(serving)}"
        )
    return backend


def run(
    op: str,
    step: reference.StepFn,
    xs: reference.Inputs,
    state: NamedTuple,
    params: NamedTuple,
    backend: str = "auto",
) -> tuple[Tensor, NamedTuple]:
    """Run ``op`` over all time steps of ``xs`` on the selected backend."""
    first = xs[0] if isinstance(xs, tuple) else xs
    name = select(op, backend, first.device, params, first.dtype)
    note(op, name)
    if name == "reference":
        return reference.run(step, xs, state, params)
    return _KERNELS[op][name].fn(xs, state, params)


def note(op: str, backend: str) -> None:
    """Log that ``backend`` served ``op`` to the enclosing :func:`record` block, if any. For
    kernels that choose their backend themselves, at run time (sparse synapses)."""
    log = getattr(_local, "log", None)
    if log is not None:
        log.append((op, backend))


@contextlib.contextmanager
def record() -> Iterator[list[tuple[str, str]]]:
    """Collect ``(op, backend)`` for every dispatched call inside the block (this thread)."""
    previous = getattr(_local, "log", None)
    log: list[tuple[str, str]] = []
    _local.log = log
    try:
        yield log
    finally:
        _local.log = previous
