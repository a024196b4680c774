"""LZ76 complexity: the Kaspar-Schuster values of SPEC §2.6, an independent parser, entropy rates."""

import math

import numpy as np
import pytest
import torch

from spikegate.encoding.lzc import lz76_complexity, lzc


def parse_lz76(s: str) -> int:
    """Exhaustive-history parsing written from the definition (SPEC §2.6), with substring
    search: extend the current word while it occurs in the text before its last symbol."""
    n = len(s)
    if n < 2:
        return n
    c, i, ell = 1, 1, 1
    while True:
        if s[i:i + ell] in s[:i + ell - 1]:
            ell += 1
            if i + ell > n:
                return c + 1
        else:
            c, i, ell = c + 1, i + ell, 1
            if i >= n:
                return c


def bits(s: str) -> np.ndarray:
    return np.array([int(ch) for ch in s], dtype=np.uint8)


@pytest.mark.parametrize("s, c", [("0001101001000101", 6), ("0" * 50, 2), ("1" * 7, 2), ("01" * 20, 3),
                                  ("0", 1), ("01", 2), ("", 0)])
def test_known_values(s, c):
    assert int(lz76_complexity(bits(s))) == c
    assert parse_lz76(s) == c


@pytest.mark.parametrize("p", [0.5, 0.1, 0.9])
def test_matches_independent_parser_on_random_strings(p):
    rng = np.random.default_rng(3)
    x = (rng.random((300, 157)) < p).astype(np.uint8)
    x[:, :3] = rng.integers(0, 2, 3)  # odd lengths and varied prefixes
    for n in (2, 3, 10, 64, 157):
        got = lz76_complexity(x[:, :n])
        want = [parse_lz76("".join(map(str, row[:n]))) for row in x]
        np.testing.assert_array_equal(got, want)


def test_batched_shapes_and_tensor_in_tensor_out():
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(3, 4, 200, generator=g) < 0.3).float()
    c = lz76_complexity(x)
    assert isinstance(c, torch.Tensor) and c.shape == (3, 4) and c.dtype == torch.int64
    flat = lz76_complexity(x.reshape(12, 200).numpy())
    np.testing.assert_array_equal(c.reshape(-1).numpy(), flat)
    torch.testing.assert_close(lzc(x), c.double() * math.log2(200) / 200)


@pytest.mark.parametrize("p, n, lo, hi", [(0.5, 10_000, 1.00, 1.06), (0.1, 10_000, 0.464 * 0.95, 0.464 * 1.05)])
def test_normalized_complexity_estimates_entropy_rate(p, n, lo, hi):
    rng = np.random.default_rng(1)
    c = lzc((rng.random((5, n)) < p).astype(np.uint8)).mean()
    assert lo <= c <= hi


def test_periodic_train_has_low_complexity():
    assert lzc(np.tile([1, 0, 0, 0], 2500)) < 0.01


def test_bad_input():
    with pytest.raises(ValueError, match="x contains NaN"):
        lzc(torch.tensor([0.0, float("nan")]))
    with pytest.raises(ValueError, match="time axis"):
        lzc(np.float64(1.0))
    with pytest.raises(TypeError, match="dtype"):
        lzc(np.array(["a", "b"]))
