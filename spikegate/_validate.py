"""Input checks shared by every public entry point.

Each check raises ``ValueError`` (or ``TypeError`` for a wrong type) whose message names the
offending argument, so a user sees *which* input was wrong, not a shape error deep inside a
kernel. Checks never use ``assert``: they must survive ``python -O``.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor


def check_tensor(
    x: object,
    name: str,
    *,
    min_dim: int | None = None,
    ndim: int | None = None,
    floating: bool = True,
    finite: bool = True,
) -> Tensor:
    """Return ``x`` if it is a tensor of the right rank, dtype and finiteness, else raise."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if ndim is not None and x.dim() != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(x.shape)}")
    if min_dim is not None and x.dim() < min_dim:
        raise ValueError(
            f"{name} must have at least {min_dim} dimensions, got shape {tuple(x.shape)}"
        )
    if floating and not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if finite and x.is_floating_point() and x.numel() and not all_finite(x):
        raise ValueError(f"{name} contains NaN or inf")
    return x


def all_finite(x: Tensor) -> bool:
    """True when every entry is finite. One reading pass without a temporary of x's size:
    min and max are finite exactly when all entries are (both propagate NaN)."""
    return bool(torch.isfinite(torch.stack(torch.aminmax(x.detach()))).all())


def check_sequence(x: object, name: str, features: Sequence[int] | None = None) -> Tensor:
    """A time-major input ``[T, B, *features]`` (T >= 1, B >= 1), finite, floating."""
    x = check_tensor(x, name, min_dim=2)
    if x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"{name} must be time-major [T, B, ...] with T, B >= 1, got {tuple(x.shape)}")
    if features is not None and tuple(x.shape[2:]) != tuple(features):
        raise ValueError(
            f"{name} has features {tuple(x.shape[2:])}, but the layer was built for {tuple(features)}"
        )
    return x


def check_positive(value: float | Tensor, name: str, *, allow_zero: bool = False) -> None:
    """Raise unless every entry of ``value`` is finite and > 0 (or >= 0 with ``allow_zero``)."""
    v = torch.as_tensor(value, dtype=torch.float64)
    if not bool(torch.isfinite(v).all()):
        raise ValueError(f"{name} must be finite, got {value!r}")
    bad = (v < 0) if allow_zero else (v <= 0)
    if bool(bad.any()):
        rel = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {rel}, got {_short(value)}")


def check_range(
    value: float | Tensor,
    name: str,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    """Raise unless ``low <= value <= high`` (bounds open where asked) for every entry."""
    v = torch.as_tensor(value, dtype=torch.float64)
    if not bool(torch.isfinite(v).all()):
        raise ValueError(f"{name} must be finite, got {_short(value)}")
    too_low = (v <= low) if low_open else (v < low)
    too_high = (v >= high) if high_open else (v > high)
    if bool(too_low.any()) or bool(too_high.any()):
        lb = "(" if low_open else "["
        hb = ")" if high_open else "]"
        raise ValueError(f"{name} must lie in {lb}{low}, {high}{hb}, got {_short(value)}")


def check_int(value: object, name: str, *, minimum: int = 0) -> int:
    """An integer (not bool) >= minimum."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_choice(value: str, name: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def _short(value: float | Tensor) -> str:
    if isinstance(value, Tensor):
        if value.numel() == 1:
            return f"{value.item():g}"
        v = value.detach().double()
        return f"a tensor with min {v.min().item():g} and max {v.max().item():g}"
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return repr(value)
