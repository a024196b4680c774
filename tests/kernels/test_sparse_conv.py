"""Sparse spike convolution: the sparse kernels equal the dense convolution (forward and every
gradient) for strides, paddings and odd shapes, "auto" picks them by density, and bad requests
are refused."""

import pytest
import torch
import torch.nn.functional as F
from tests.kernels.leaky_cases import poisoned

from spikegate import kernels
from spikegate.kernels import BackendError
from spikegate.kernels.sparse import CONV_CROSSOVER, conv2d
from spikegate.synapses import Conv2d


def events(shape, density, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    keep = torch.rand(shape, generator=g, dtype=dtype) < density
    return keep * torch.rand(shape, generator=g, dtype=dtype)  # graded values, not only 0/1


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize(
    "shape, c_out, kernel, stride, padding",
    [((3, 2, 5, 9, 7), 4, 3, 1, 1), ((6, 3, 11, 10), 5, 5, 2, 2), ((2, 1, 4, 4), 3, 3, 1, 0),
     ((4, 2, 8, 8), 3, (2, 3), (2, 1), (0, 1)), ((1, 7, 1, 1), 2, 1, 1, 0)],
)
@pytest.mark.parametrize("bias", [True, False])
def test_sparse_equals_dense(shape, c_out, kernel, stride, padding, bias, dtype):
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    x = events(shape, 0.15, dtype=dtype).requires_grad_()
    w = torch.randn(c_out, shape[-3], kh, kw, dtype=dtype, requires_grad=True)
    b = torch.randn(c_out, dtype=dtype, requires_grad=True) if bias else None
    leaves = [x, w] + ([b] if bias else [])
    results = []
    for backend in ("reference", "cpu"):
        with poisoned(), kernels.record() as log:
            y = conv2d(x, w, b, stride, padding, backend)
            g = torch.linspace(-1, 1, y.numel(), dtype=dtype).reshape(y.shape)
            grads = torch.autograd.grad(y, leaves, g)
        assert log == [("conv2d", backend)]
        results.append((y, *grads))
    expected = F.conv2d(x.detach().reshape(-1, *shape[-3:]), w.detach(), None if b is None else b.detach(), stride,
                        padding)
    torch.testing.assert_close(results[0][0].reshape(expected.shape), expected)
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    for a, ref in zip(results[1], results[0]):
        torch.testing.assert_close(a, ref, rtol=tol, atol=tol)


def test_one_thread_runs_the_serial_build_and_equals_dense(one_thread):
    test_sparse_equals_dense((4, 2, 8, 8), 3, (2, 3), (2, 1), (0, 1), True, torch.float64)

def test_auto_chooses_by_density():
    w = torch.randn(4, 3, 3, 3, dtype=torch.float64)
    for density, chosen in ((CONV_CROSSOVER / 3, "cpu"), (min(1.0, CONV_CROSSOVER * 10), "reference")):
        x = (events((8, 3, 12, 12), density) > 0).double()
        with kernels.record() as log:
            y = conv2d(x, w, padding=1)
        assert log == [("conv2d", chosen)]
        torch.testing.assert_close(y, F.conv2d(x, w, padding=1))


def test_module_is_a_drop_in_conv2d():
    torch.manual_seed(0)
    dense = torch.nn.Conv2d(3, 6, 3, stride=2, padding=1).double()
    sparse = Conv2d(3, 6, 3, stride=2, padding=1, backend="cpu").double()
    sparse.load_state_dict(dense.state_dict())
    x = (events((5, 2, 3, 9, 9), 0.05) > 0).double()  # [T, B, C, H, W]
    torch.testing.assert_close(sparse(x), dense(x.flatten(0, 1)).reshape(5, 2, 6, 5, 5))
    assert "backend='cpu'" in repr(sparse)


def test_refusals():
    x, w = events((2, 3, 6, 6), 0.1), torch.randn(4, 3, 3, 3, dtype=torch.float64)
    with pytest.raises(BackendError, match="no sparse CUDA kernel"):
        conv2d(x, w, backend="cuda")
    with pytest.raises(BackendError, match="float32/float64 CPU tensors"):
        conv2d(x.half(), w.half(), backend="cpu")
    with pytest.raises(BackendError, match="backend must be one of"):
        conv2d(x, w, backend="sparse")
    with pytest.raises(ValueError, match=r"x must be \[\.\.\., 3, H, W\]"):
        conv2d(events((2, 4, 6, 6), 0.1), w)
    with pytest.raises(ValueError, match="weight must be"):
        conv2d(x, torch.randn(4, 3, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="stride"):
        conv2d(x, w, stride=0)
    with pytest.raises(ValueError, match="padding"):
        Conv2d(3, 4, 3, padding="same")


def test_compiles_without_graph_break():
    w = torch.randn(4, 2, 3, 3, requires_grad=True)
    fn = torch.compile(lambda x: conv2d(x, w, None, 1, 1, "cpu"), backend="aot_eager", fullgraph=True)
    x = (torch.rand(3, 2, 7, 7) < 0.1).float()
    y = fn(x)
    torch.testing.assert_close(y, F.conv2d(x, w, padding=1))
    (gw,) = torch.autograd.grad(y.sum(), [w])
    torch.testing.assert_close(gw, torch.nn.grad.conv2d_weight(x, w.shape, torch.ones_like(y), 1, 1))
