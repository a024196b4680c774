"""Stateless layers that complete torch.nn for NIR: ElementwiseAffine and SumPool2d."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from spikegate.layers import ElementwiseAffine, SumPool2d


def test_elementwise_affine_scales_and_shifts_in_the_input_dtype():
    layer = ElementwiseAffine(torch.tensor([1.0, 2.0, -0.5]), 0.25)
    for dtype in (torch.float32, torch.float64):
        x = torch.arange(6, dtype=dtype).reshape(2, 3)
        y = layer(x)
        assert y.dtype == dtype
        assert torch.equal(y, x * torch.tensor([1.0, 2.0, -0.5], dtype=dtype) + 0.25)
    assert not list(layer.parameters())


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_elementwise_affine_refuses_non_finite_values(value):
    with pytest.raises(ValueError, match="scale contains NaN or inf"):
        ElementwiseAffine(torch.tensor([1.0, value]))


@pytest.mark.parametrize("kernel, stride, padding", [(2, None, 0), ((2, 3), (1, 2), (1, 1)), (3, 2, 1)])
def test_sum_pool_is_the_window_sum(kernel, stride, padding):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 2, 7, 9, generator=gen, dtype=torch.float64)
    k = (kernel, kernel) if isinstance(kernel, int) else kernel
    unfold = nn.Unfold(k, stride=stride or k, padding=padding)
    want = unfold(x).unflatten(1, (2, k[0] * k[1])).sum(2)
    got = SumPool2d(kernel, stride, padding)(x)
    torch.testing.assert_close(got.flatten(2), want, rtol=1e-14, atol=1e-14)
