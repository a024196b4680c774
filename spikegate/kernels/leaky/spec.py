"""What the fused leaky engine can run: integer codes shared by the numba and Triton kernels, and
the checks behind every backend's ``supports(params, dtype)``.

Both engines receive the configuration as small integers (a reset code, a surrogate code), so
the CPU kernel is compiled once per dtype and the Triton kernel once per configuration. The codes
are defined here once; the kernels import them.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from spikegate.surrogate import KINDS, SurrogateSpec

# Reset codes (order of spikegate.neurons.lif.RESETS).
SUBTRACT, ZERO, NONE = 0, 1, 2
RESET_CODES: dict[str, int] = {"subtract": SUBTRACT, "zero": ZERO, "none": NONE}

# Surrogate codes: the six kinds of spikegate.surrogate, plus the escape-noise sigmoid of the
# meta-neuron, whose "surrogate" is the derivative of its firing probability.
ATAN, FAST_SIGMOID, SIGMOID, TRIANGLE, RECTANGULAR, STRAIGHT_THROUGH, ESCAPE = range(7)
SURROGATE_CODES: dict[str, int] = {kind: code for code, kind in enumerate(KINDS)}

DTYPES: tuple[torch.dtype, ...] = (torch.float32, torch.float64)


class Config(NamedTuple):
    """One fused run: ``reset`` code; ``refractory`` period in steps, or -1 when the neuron keeps
    no refractory counter; surrogate ``kind`` code (``ESCAPE`` for the meta-neuron) and its
    ``sharpness`` (the surrogate's ``alpha``)."""

    reset: int
    refractory: int
    kind: int
    sharpness: float


def surrogate_constants(kind: int, sharpness: float, refractory: int, dtype: np.dtype) -> np.ndarray:
    """Constants the numba kernels need, already in the data dtype so that float32 runs stay in
    float32: ``[0, 1, a, a/2, pi a/2, refractory]``."""
    a = float(sharpness)
    return np.array([0.0, 1.0, a, a / 2, math.pi / 2 * a, float(max(refractory, 0))], dtype=dtype)


def config_for(surrogate: SurrogateSpec | None, reset: str, refractory: int = -1) -> Config:
    """The :class:`Config` of a neuron with this surrogate (``None``: the meta-neuron's escape
    noise), reset name and refractory period (-1: no refractory counter)."""
    if surrogate is None:
        return Config(RESET_CODES[reset], refractory, ESCAPE, 1.0)
    return Config(RESET_CODES[reset], refractory, SURROGATE_CODES[surrogate.kind], float(surrogate.alpha))


def why_not(dtype: torch.dtype, surrogate: SurrogateSpec | None, reset: str, backend: str) -> str | None:
    """``None`` when the fused engine can run this configuration, else a sentence saying why not."""
    if dtype not in DTYPES:
        return f"it computes in float32 or float64, not {dtype}"
    if surrogate is not None and surrogate.kind not in SURROGATE_CODES:
        return (
            f"surrogate kind {surrogate.kind!r} is not implemented by the {backend!r} kernel "
            f"(it implements {', '.join(KINDS)}); backend 'reference' runs any surrogate"
        )
    if reset not in RESET_CODES:
        return f"reset {reset!r} is not one of {', '.join(RESET_CODES)}"
    return None


def per_neuron(value: Tensor | float, shape: tuple[int, ...], like: Tensor, name: str) -> Tensor:
    """Broadcast a parameter (scalar, per-feature, or anything that broadcasts to the state shape
    ``[B, *features]``) to one contiguous value per sample and neuron, ``[B, N]``, in ``like``'s
    dtype.

    Autograd sums the gradient of this copy back to the parameter's own shape, so a per-layer
    parameter gets the sum over all neurons and a per-neuron one the sum over the batch.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = torch.tensor(float(value), dtype=like.dtype, device=like.device)
    if not isinstance(value, Tensor):
        raise TypeError(f"params.{name} must be a tensor or a number, got {type(value).__name__}")
    try:
        full = value.to(like.dtype).expand(shape)
    except RuntimeError:
        raise ValueError(
            f"params.{name} of shape {tuple(value.shape)} does not broadcast to the state shape {shape}"
        ) from None
    return full.reshape(shape[0], -1).contiguous()


def flat_state(value: Tensor, batch: int, like: Tensor) -> Tensor:
    """A state tensor ``[B, *features]`` as a contiguous ``[B, N]`` in ``like``'s dtype."""
    return value.to(like.dtype).reshape(batch, -1).contiguous()


def triton_missing() -> str | None:
    """A reason when Triton cannot be imported (the CUDA kernels need it), else ``None``."""
    import importlib.util

    if importlib.util.find_spec("triton") is None:
        return "Triton is not installed (pip install triton)"
    return None


def supports(params: NamedTuple, dtype: torch.dtype, backend: str, stochastic: bool = False) -> str | None:
    """Why the fused engine of ``backend`` (``"cpu"``: numba, ``"cuda"``: Triton) cannot run a
    neuron with ``params`` at ``dtype``, or ``None`` when it can. ``stochastic`` neurons (the
    meta-neuron) have no surrogate to check."""
    missing = triton_missing() if backend == "cuda" else None
    return missing or why_not(dtype, None if stochastic else params.surrogate, params.reset, backend)
