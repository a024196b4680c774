"""Numba kernels of :mod:`spikegate.encoding.lzc` (imported on first use; compiled once and
cached on disk)."""

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def lz76(s: np.ndarray) -> int:
    """Kaspar-Schuster LZ76 word count of one 0/1 sequence."""
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


@numba.njit(cache=True, nogil=True)
def lz76_rows(rows: np.ndarray) -> np.ndarray:
    out = np.empty(rows.shape[0], dtype=np.int64)
    for r in range(rows.shape[0]):
        out[r] = lz76(rows[r])
    return out

