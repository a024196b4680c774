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
axis, over all leading axes in parallel (numba, compiled on first use). LZ78 and LZW count
different phrases and are *not* this measure.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor


@lru_cache(maxsize=None)
def _kernel():
    import numba

    @numba.njit(cache=True, nogil=True)
    def lz76(s: np.ndarray) -> int:
        n = s.shape[0]
        if n < 2:
            return n
        c, ell, i, k, k_max = 1, 1, 0, 1, 1
        while True:
            if s[i + k - 1] == s[ell + k - 1]:
                k += 1
                if ell + k > n:
                    return c + 1
            else:
                if k > k_max:
                    k_max = k
                i += 1
                if i == ell:
                    c += 1
                    ell += k_max
                    if ell + 1 > n:
                        return c
                    i, k, k_max = 0, 1, 1
                else:
                    k = 1

    @numba.njit(cache=True, nogil=True, parallel=True)
    def batch(rows: np.ndarray) -> np.ndarray:
        out = np.empty(rows.shape[0], dtype=np.int64)
        for r in numba.prange(rows.shape[0]):
            out[r] = lz76(rows[r])
        return out

    @numba.njit(cache=True, nogil=True)
    def batch_serial(rows: np.ndarray) -> np.ndarray:
        out = np.empty(rows.shape[0], dtype=np.int64)
        for r in range(rows.shape[0]):
            out[r] = lz76(rows[r])
        return out

    return batch, batch_serial


def _rows(x: Tensor | np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    if isinstance(x, Tensor):
        x = x.detach().cpu().numpy()
    a = np.asarray(x)
    if a.ndim < 1:
        raise ValueError(f"x must have a time axis (shape [..., T]), got a scalar")
    if a.dtype.kind not in "biuf":
        raise TypeError(f"x must hold numbers (0 = no spike), got dtype {a.dtype}")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise ValueError("x contains NaN or inf")
    return np.ascontiguousarray((a != 0).reshape(-1, a.shape[-1]) if a.size else np.zeros((int(np.prod(a.shape[:-1])), a.shape[-1])), dtype=np.uint8), a.shape[:-1]


def lz76_complexity(x: Tensor | np.ndarray) -> Tensor | np.ndarray:
    """LZ76 word count :math:`c(n)` of every train in ``x: [..., T]`` -> int64 ``[...]``
    (a tensor for a tensor input, else a numpy array)."""
    rows, lead = _rows(x)
    batch, serial = _kernel()
    counts = (batch if rows.shape[0] >= 64 else serial)(rows).reshape(lead)
    return torch.from_numpy(counts) if isinstance(x, Tensor) else counts


def lzc(x: Tensor | np.ndarray) -> Tensor | np.ndarray:
    r"""Normalized LZ76 complexity :math:`c(n) \log_2(n) / n` of every train in
    ``x: [..., T]`` -> float64 ``[...]`` (0 for :math:`n \le 1`)."""
    c = lz76_complexity(x)
    n = np.shape(x)[-1]
    scale = math.log2(n) / n if n > 1 else 0.0
    return c.double() * scale if isinstance(c, Tensor) else c.astype(np.float64) * scale
