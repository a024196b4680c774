"""How the fused kernels are chosen and used: every surrogate x backend served or refused with a
clear error, "auto" picking the fused kernel for the neuron modules, torch.compile, lazy imports."""

import subprocess
import sys

import pytest
import torch
from tests.kernels.leaky_cases import make_case

from spikegate import LIF, CubaLIF, MetaNeuron, Sequential, kernels
from spikegate.kernels import BackendError
from spikegate.kernels.lif import fused as lif_fused
from spikegate.neurons.lif import LIFParams, LIFState, lif_step
from spikegate.surrogate import KINDS, SurrogateSpec

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


def lif_params(kind: str) -> LIFParams:
    return LIFParams(torch.tensor(0.9), torch.tensor(1.0), "subtract", 0, SurrogateSpec(kind, 1.0))


@pytest.mark.parametrize("backend,device", [("cpu", CPU), ("cuda", CUDA)])
@pytest.mark.parametrize("kind", [*KINDS, "erf"])
def test_every_surrogate_is_served_or_refused(kind, backend, device):
    """The table: both fused backends implement all six kinds; any other kind is refused with a
    message naming it and the backend that serves it. (Selection needs no tensor on the
    device, so the CUDA column is decided on a CPU-only machine too.)"""
    for op in ("lif", "cuba_lif"):
        if kind in KINDS:
            assert kernels.select(op, backend, device, lif_params(kind), torch.float32) == backend
        else:
            with pytest.raises(BackendError, match=r"surrogate kind 'erf'.*'reference'"):
                kernels.select(op, backend, device, lif_params(kind), torch.float32)
            assert kernels.select(op, "auto", device, lif_params(kind), torch.float32) == "reference"


def test_refusals_name_the_reason():
    x = torch.rand(4, 2, 3)
    state = LIFState(torch.zeros(2, 3))
    with pytest.raises(BackendError, match="runs on cuda tensors, not cpu"):
        kernels.run("lif", lif_step, x, state, lif_params("atan"), "cuda")
    with pytest.raises(BackendError, match="float32 or float64, not torch.float16"):
        kernels.run("lif", lif_step, x.half(), LIFState(state.v.half()), lif_params("atan"), "cpu")
    with kernels.record() as log:
        kernels.run("lif", lif_step, x.half(), LIFState(state.v.half()), lif_params("atan"), "auto")
    assert log == [("lif", "reference")]


def test_parameter_that_does_not_broadcast_is_named():
    params = LIFParams(torch.full((2,), 0.9), torch.tensor(1.0))
    with pytest.raises(ValueError, match="params.beta of shape"):
        lif_fused.cpu(torch.rand(4, 2, 3), LIFState(torch.zeros(2, 3)), params)


def test_triton_engine_refuses_cpu_tensors_without_interpreter(monkeypatch):
    engine = pytest.importorskip("spikegate.kernels.leaky.cuda")
    monkeypatch.setattr(engine.triton.knobs.runtime, "interpret", False)
    with pytest.raises(RuntimeError, match="TRITON_INTERPRET"):
        lif_fused.cuda(torch.rand(4, 2, 3), LIFState(torch.zeros(2, 3)), lif_params("atan"))


MODULES = [
    lambda: LIF(shape=(3, 5), learn_beta=True, learn_threshold=True, reset="zero", surrogate="triangle"),
    lambda: LIF(shape=15, learn_beta=True, refractory=2),
    lambda: CubaLIF(shape=15, learn_alpha=True, learn_beta=True, learn_threshold=True),
    lambda: MetaNeuron(shape=15, kappa=0.2),
]


@pytest.mark.parametrize("make", MODULES)
def test_modules_run_fused_by_default(make):
    torch.manual_seed(0)
    module = make().double()
    x = (0.4 * torch.rand(30, 4, *(module.shape or (15,)), dtype=torch.float64)).requires_grad_()
    results = []
    for backend in ("auto", "reference"):
        module.backend = backend
        with kernels.record() as log:
            kwargs = {"generator": torch.Generator().manual_seed(1)} if isinstance(module, MetaNeuron) else {}
            spikes, state = module(x, **kwargs)
        assert log == [(module.op, "cpu" if backend == "auto" else "reference")]
        grads = torch.autograd.grad((spikes * torch.arange(spikes.numel()).view_as(spikes).sin()).sum(),
                                    [x, *module.parameters()])
        results.append((spikes, state, grads))
    (s1, st1, g1), (s2, st2, g2) = results
    assert 0 < s1.mean() < 1
    assert torch.equal(s1, s2)
    for a, b in zip([*st1, *g1], [*st2, *g2]):
        if a is not None:
            torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_torch_compile_traces_the_custom_ops_in_one_graph():
    """fullgraph=True: dispatch and the fused op trace without a graph break (aot_eager keeps
    the test fast; inductor compiles the same graph)."""
    case = make_case("cuba_lif", steps=9, dtype=torch.float32)

    def run(x):
        spikes, state = kernels.run("cuba_lif", case.step, x, case.state, case.params, "cpu")
        return spikes, state.v

    compiled = torch.compile(run, backend="aot_eager", fullgraph=True)
    x = case.xs.detach().requires_grad_()
    eager = run(x)
    traced = compiled(x)
    for a, b in zip(eager, traced):
        assert torch.equal(a, b)
    g_eager = torch.autograd.grad(sum(t.sum() for t in eager), [x, *case.leaves[1:]])
    g_traced = torch.autograd.grad(sum(t.sum() for t in traced), [x, *case.leaves[1:]])
    for a, b in zip(g_eager, g_traced):
        torch.testing.assert_close(a, b)


def test_torch_compile_of_a_network():
    torch.manual_seed(0)
    net = Sequential(torch.nn.Linear(12, 20), LIF(shape=20, learn_beta=True), torch.nn.Linear(20, 4), CubaLIF())
    x = torch.rand(11, 3, 12)
    compiled = torch.compile(net, backend="aot_eager")
    (y1, _), (y2, _) = net(x), compiled(x)
    assert torch.equal(y1, y2)
    params = list(net.parameters())
    for a, b in zip(torch.autograd.grad(y1.sum(), params), torch.autograd.grad(y2.sum(), params)):
        torch.testing.assert_close(a, b)


def test_import_spikegate_loads_neither_numba_nor_triton():
    """numba loads with the first CPU run; the Triton engine only for CUDA tensors. (PyTorch's
    own dynamo machinery may import the triton package; our engine module stays unloaded.)"""
    code = (
        "import sys, torch, spikegate\n"
        "assert 'numba' not in sys.modules and 'triton' not in sys.modules\n"
        "spikegate.LIF()(torch.rand(3, 2, 4))\n"
        "assert 'numba' in sys.modules and 'spikegate.kernels.leaky.cuda' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
