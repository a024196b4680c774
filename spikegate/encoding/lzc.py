r"""Lempel-Ziv complexity (LZ76) of binary spike trains (``../shared/papers/SPEC.md`` §2.6).

:math:`c(n)` is the number of words in the exhaustive-history parsing of Lempel & Ziv (1976): a
new word starts where the text so far stops being reproducible from what came before it (the
copy source may overlap the word itself). Example: ``0001101001000101`` parses as
``0 | 001 | 10 | 100 | 1000 | 101``, so :math:`c = 6`; a constant string of length
:math:`n \ge 2` has :math:`c = 2`. It is computed with the linear-time pointer algorithm of
Kaspar & Schuster (Phys. Rev. A 36:842, 1987).

The normalized complexity :math:`C = c(n) \log_2(n) / n` estimates the entropy rate of an
ergodic binary source (Amigó et al., Neural Computation 16:717, 2004): about 1 for a fair coin,
:math:`H(p)` for a Bernoulli(p) source, towards 0 for periodic trains.

Both functions take any array or tensor ``[..., T]`` (non-zero = spike) and work on the last
axis, over all leading axes (numba, compiled on first use and cached). LZ78 and LZW count
different phrases and are *not* this measure.
"""

from __future__ import annotations

import math
import numpy as np
import torch
from torch import Tensor


def _rows(x: Tensor | np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    if isinstance(x, Tensor):
        x = x.detach().cpu().numpy()
    a = np.asarray(x)
    if a.ndim < 1:
        raise ValueError("x must have a time axis (shape [..., T]), got a scalar")
    if a.dtype.kind not in "biuf":
        raise TypeError(f"x must hold numbers (0 = no spike), got dtype {a.dtype}")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise ValueError("x contains NaN or inf")
    rows = (a != 0).reshape(int(np.prod(a.shape[:-1])), a.shape[-1])
    return np.ascontiguousarray(rows, dtype=np.uint8), a.shape[:-1]


def lz76_complexity(x: Tensor | np.ndarray) -> Tensor | np.ndarray:
    """LZ76 word count :math:`c(n)` of every train in ``x: [..., T]`` -> int64 ``[...]``
    (a tensor for a tensor input, else a numpy array)."""
    from spikegate.encoding import _lzc_numba as k

    rows, lead = _rows(x)
    counts = k.lz76_rows(rows).reshape(lead)
    return torch.from_numpy(counts) if isinstance(x, Tensor) else counts


def lzc(x: Tensor | np.ndarray) -> Tensor | np.ndarray:
    r"""Normalized LZ76 complexity :math:`c(n) \log_2(n) / n` of every train in
    ``x: [..., T]`` -> float64 ``[...]`` (0 for :math:`n \le 1`)."""
    c = lz76_complexity(x)
    n = np.shape(x)[-1]
    scale = math.log2(n) / n if n > 1 else 0.0
    return c.double() * scale if isinstance(c, Tensor) else c.astype(np.float64) * scale
