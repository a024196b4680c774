"""The numba engine against the reference loop: spikes identical in float64, final state and
every gradient (input, initial state, each learnable parameter) equal to rounding."""

import numpy as np
import pytest
import torch
from tests.kernels.leaky_cases import OPS, REGISTRY_OP, Case, assert_matches, evaluate, make_case, reference_run

import spikegate.kernels.leaky.cpu as engine
from spikegate import kernels
from spikegate.kernels.leaky.spec import SURROGATE_CODES, surrogate_constants
from spikegate.neurons.lif import RESETS
from spikegate.surrogate import KINDS, derivative, surrogate


def fused(case: Case, backend: str = "cpu"):
    op = REGISTRY_OP[case.op]

    def run(xs, state, params):
        with kernels.record() as log:
            out = kernels.run(op, case.step, xs, state, params, backend)
        assert log == [(op, backend)]
        return out

    return run


MATRIX = [(op, reset, kind) for op in ("lif", "lif_refractory", "cuba_lif") for reset in RESETS for kind in KINDS]
MATRIX += [("meta", reset, "atan") for reset in RESETS]


@pytest.mark.parametrize("op,reset,kind", MATRIX)
def test_matches_reference_every_reset_and_surrogate(op, reset, kind):
    case = make_case(op, reset, kind)
    assert_matches(case, evaluate(case, fused(case)), reference_run(case), grad_rtol=1e-9)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize(
    "steps,batch,features",
    [(1, 2, (37,)), (500, 2, (13,)), (63, 1, (5, 7)), (40, 5, (301,)), (63, 2, (1,))],
)
def test_matches_reference_odd_sizes(op, steps, batch, features):
    start = 0.4 if steps == 1 else 0.0
    case = make_case(op, steps=steps, batch=batch, features=features, seed=steps + batch, start=start)
    assert_matches(case, evaluate(case, fused(case)), reference_run(case), grad_rtol=1e-9)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("params", ["scalar", "fixed", "sample"])
def test_parameter_shapes(op, params):
    case = make_case(op, "zero", "fast_sigmoid", params=params, seed=3)
    assert_matches(case, evaluate(case, fused(case)), reference_run(case), grad_rtol=1e-9)


@pytest.mark.parametrize("op,reset,kind", [(op, reset, "atan") for op in OPS for reset in RESETS])
def test_one_thread_runs_the_serial_twin_and_matches(op, reset, kind, one_thread, monkeypatch):
    calls = []
    for name in ("_forward", "_backward"):
        for build in ("parallel", "serial"):
            kernel = getattr(getattr(engine, name), build)
            monkeypatch.setattr(getattr(engine, name), build,
                                lambda *a, _k=kernel, _v=f"{name}_{build}": calls.append(_v) or _k(*a))
    case = make_case(op, reset, kind, batch=3, seed=11)
    assert_matches(case, evaluate(case, fused(case)), reference_run(case), grad_rtol=1e-9)
    assert set(calls) == {"_forward_serial", "_backward_serial"}


@pytest.mark.parametrize("op", ["lif", "lif_refractory", "cuba_lif"])
def test_float32(op):
    case = make_case(op, dtype=torch.float32, seed=5)
    assert_matches(case, evaluate(case, fused(case)), reference_run(case), grad_rtol=2e-4)


@pytest.mark.parametrize("op", OPS)
def test_loss_on_summed_spikes_or_final_state_only(op):
    case = make_case(op, seed=7)
    for loss in (lambda s, st: s.sum(), lambda s, st: st.v.square().sum()):
        grads = []
        for run in (fused(case), lambda xs, st, p: kernels.run("x", case.step, xs, st, p, "reference")):
            spikes, final = run(case.xs, case.state, case.params)
            grads.append(torch.autograd.grad(loss(spikes, final), case.leaves, allow_unused=True))
        for a, b in zip(*grads):
            torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_inference_keeps_nothing_and_matches():
    case = make_case("meta", seed=2)
    with torch.no_grad():
        spikes, final = fused(case)(case.xs, case.state, case.params)
        ref_spikes, ref_final = kernels.run("meta", case.step, case.xs, case.state, case.params, "reference")
    assert spikes.grad_fn is None
    assert torch.equal(spikes, ref_spikes)
    torch.testing.assert_close(final.v, ref_final.v, rtol=0, atol=0)


def test_requested_kernel_really_ran(monkeypatch):
    calls = []
    for name in ("forward", "backward"):
        original = getattr(engine, name)
        monkeypatch.setattr(engine, name, lambda *a, _f=original, _n=name: calls.append(_n) or _f(*a))
    case = make_case("cuba_lif")
    spikes, _ = fused(case)(case.xs, case.state, case.params)
    spikes.sum().backward()
    assert calls == ["forward", "backward"]
    assert "spikegate_leaky_forward" in type(spikes.grad_fn.next_functions[0][0]).__name__


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", KINDS)
def test_numba_surrogate_is_the_one_definition(kind, dtype):
    spec = surrogate(kind, {"triangle": 0.7, "rectangular": 0.6}.get(kind))
    z = np.linspace(-2.0, 2.0, 1001).astype(dtype)
    z[::7] = np.round(z[::7] * 10) / 10  # include the kinks of triangle/rectangular exactly
    out = np.full_like(z, np.nan)
    c = surrogate_constants(SURROGATE_CODES[kind], spec.alpha, -1, np.dtype(dtype))
    engine.surrogate_derivative(z, out, SURROGATE_CODES[kind], c)
    want = derivative(torch.from_numpy(z), spec).numpy()
    # float32: exp differs in the last bit between libraries, and 1 - sigmoid amplifies it.
    tol = 2e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(out, want, rtol=tol, atol=tol)
