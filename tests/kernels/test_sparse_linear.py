"""Sparse spike propagation: the sparse kernels equal the dense product (forward and every
gradient), "auto" picks them by density, and bad requests are refused."""

import pytest
import torch
from tests.kernels.leaky_cases import poisoned

from spikegate import kernels
from spikegate.kernels import BackendError
from spikegate.kernels.sparse import CROSSOVER, linear
from spikegate.synapses import Linear


def spikes(shape, density, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g, dtype=dtype) < density).to(dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("shape,n_out", [((7, 3, 37), 23), ((1, 1), 5), ((50, 301), 129), ((4, 5, 9), 1)])
@pytest.mark.parametrize("bias", [True, False])
def test_sparse_equals_dense(shape, n_out, bias, dtype):
    x = (spikes(shape, 0.1, dtype=dtype) * torch.rand(shape, dtype=dtype)).requires_grad_()  # not only 0/1
    w = torch.randn(n_out, shape[-1], dtype=dtype, requires_grad=True)
    b = torch.randn(n_out, dtype=dtype, requires_grad=True) if bias else None
    leaves = [x, w] + ([b] if bias else [])
    g_out = torch.randn(*shape[:-1], n_out, dtype=dtype)
    results = []
    for backend in ("reference", "cpu"):
        with poisoned(), kernels.record() as log:
            y = linear(x, w, b, backend)
            grads = torch.autograd.grad(y, leaves, g_out)
        assert log == [("linear", backend)]
        results.append((y, *grads))
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    for a, ref in zip(results[1], results[0]):
        torch.testing.assert_close(a, ref, rtol=tol, atol=tol)


def test_one_thread_runs_the_serial_build_and_equals_dense(one_thread):
    test_sparse_equals_dense((7, 3, 37), 23, True, torch.float64)

def test_auto_chooses_by_density():
    w = torch.randn(16, 64, dtype=torch.float64)
    for density, chosen in ((CROSSOVER / 3, "cpu"), (min(1.0, CROSSOVER * 4), "reference")):
        x = spikes((40, 64), density)
        with kernels.record() as log:
            y = linear(x, w)
        assert log == [("linear", chosen)]
        torch.testing.assert_close(y, x @ w.T)


def test_module_is_a_drop_in_linear():
    torch.manual_seed(0)
    dense = torch.nn.Linear(30, 12).double()
    sparse = Linear(30, 12, backend="cpu").double()
    sparse.load_state_dict(dense.state_dict())
    x = spikes((6, 4, 30), 0.05)
    torch.testing.assert_close(sparse(x), dense(x))
    assert "backend='cpu'" in repr(sparse)


def test_refusals():
    x, w = spikes((4, 8), 0.1), torch.randn(3, 8, dtype=torch.float64)
    with pytest.raises(BackendError, match="no sparse CUDA kernel"):
        linear(x, w, backend="cuda")
    with pytest.raises(BackendError, match="float32/float64 CPU tensors"):
        linear(x.half(), w.half(), backend="cpu")
    with pytest.raises(BackendError, match="backend must be one of"):
        linear(x, w, backend="sparse")
    with pytest.raises(ValueError, match="x has 8 features"):
        linear(x, torch.randn(3, 7, dtype=torch.float64))
    with pytest.raises(ValueError, match="backend"):
        Linear(3, 4, backend="gpu")


def test_compiles_without_graph_break():
    w = torch.randn(9, 20, requires_grad=True)
    fn = torch.compile(lambda x: linear(x, w, None, "cpu"), backend="aot_eager", fullgraph=True)
    x = spikes((11, 20), 0.1, dtype=torch.float32)
    y = fn(x)
    torch.testing.assert_close(y, x @ w.T)
    (gw,) = torch.autograd.grad(y.sum(), [w])
    torch.testing.assert_close(gw, torch.ones(11, 9).T @ x)
