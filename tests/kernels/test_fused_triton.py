"""The Triton engine against the reference loop, on a GPU when there is one, otherwise on the
CPU through Triton's interpreter (conftest.py sets TRITON_INTERPRET=1 before Triton loads).
The interpreter runs every kernel statement in Python, so sizes stay small; T = 500 runs on the
numba engine (test_fused_cpu.py), whose recursion is the same."""

from functools import partial

import pytest
import torch
from tests.kernels.leaky_cases import assert_matches, evaluate, make_case, reference_run

pytest.importorskip("triton", reason="Triton is a test dependency (pip install triton)")
import triton  # noqa: E402
import triton.language as tl  # noqa: E402

import spikegate.kernels.leaky.cuda as engine  # noqa: E402
from spikegate.kernels.cuba_lif import fused as cuba_fused  # noqa: E402
from spikegate.kernels.leaky.spec import SURROGATE_CODES, surrogate_constants  # noqa: E402
from spikegate.kernels.lif import fused as lif_fused  # noqa: E402
from spikegate.kernels.meta import fused as meta_fused  # noqa: E402
from spikegate.neurons.lif import RESETS  # noqa: E402
from spikegate.surrogate import KINDS, derivative, surrogate  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
FUSED = {"lif": lif_fused, "lif_refractory": lif_fused, "cuba_lif": cuba_fused, "meta": meta_fused}


def _to_device(case):
    if DEVICE == "cpu":
        return case
    move = lambda t: t.detach().to(DEVICE).requires_grad_(t.requires_grad)  # noqa: E731
    moved = {id(t): move(t) for t in case.leaves}
    conv = lambda t: None if t is None else moved.get(id(t), t.to(DEVICE) if isinstance(t, torch.Tensor) else t)  # noqa: E731
    case.xs = tuple(conv(t) for t in case.xs) if isinstance(case.xs, tuple) else conv(case.xs)
    case.state = type(case.state)(*(conv(t) for t in case.state))
    case.params = type(case.params)(*(conv(t) for t in case.params))
    case.leaves = [moved[id(t)] for t in case.leaves]
    case.weights = [w.to(DEVICE) for w in case.weights]
    return case


def check(case, grad_rtol=1e-9):
    want = reference_run(case)
    got = evaluate(case, FUSED[case.op].cuda)
    assert_matches(case, tuple(_cpu(v) for v in got), tuple(_cpu(v) for v in want), grad_rtol=grad_rtol)


def _cpu(value):
    return [t.cpu() for t in value] if isinstance(value, list) else value.cpu()


SMALL = partial(make_case, steps=17, batch=2, features=(23,))
MATRIX = [("lif", reset, kind) for reset in RESETS for kind in KINDS]
MATRIX += [(op, reset, "sigmoid") for op in ("lif_refractory", "cuba_lif", "meta") for reset in RESETS]


@pytest.mark.parametrize("op,reset,kind", MATRIX)
def test_matches_reference_every_reset_and_surrogate(op, reset, kind):
    check(_to_device(SMALL(op, reset, kind)))


@pytest.mark.parametrize("op", ["lif_refractory", "cuba_lif", "meta"])
@pytest.mark.parametrize(
    "steps,batch,features,params",
    [(1, 3, (29,), "sample"), (5, 1, (7, 19), "scalar"), (9, 2, (5,), "fixed")],  # 133 neurons: two blocks
)
def test_odd_sizes_and_parameter_shapes(op, steps, batch, features, params):
    start = 0.4 if steps == 1 else 0.0
    check(_to_device(make_case(op, steps=steps, batch=batch, features=features, params=params, start=start)))


def test_float32():
    check(_to_device(SMALL("cuba_lif", dtype=torch.float32, seed=4)), grad_rtol=2e-4)


def test_requested_kernel_really_ran(monkeypatch):
    calls = []
    for name in ("forward", "backward"):
        original = getattr(engine, name)
        monkeypatch.setattr(engine, name, lambda *a, _f=original, _n=name: calls.append(_n) or _f(*a))
    case = _to_device(SMALL("lif"))
    spikes, _ = lif_fused.cuda(case.xs, case.state, case.params)
    spikes.sum().backward()
    assert calls == ["forward", "backward"]


@triton.jit
def _surrogate_kernel(z_ptr, out_ptr, c_ptr, n, KIND: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    z = tl.load(z_ptr + offs, mask=offs < n)
    tl.store(out_ptr + offs, engine.surrogate_derivative(z, c_ptr, KIND), mask=offs < n)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kind", KINDS)
def test_triton_surrogate_is_the_one_definition(kind, dtype):
    spec = surrogate(kind, {"triangle": 0.7, "rectangular": 0.6}.get(kind))
    z = torch.linspace(-2.0, 2.0, 401, dtype=dtype)
    z[::7] = torch.round(z[::7] * 10) / 10
    z = z.to(DEVICE)
    out = torch.full_like(z, float("nan"))
    c = surrogate_constants(SURROGATE_CODES[kind], spec.alpha, -1, torch.empty((), dtype=dtype).numpy().dtype)
    _surrogate_kernel[(triton.cdiv(z.numel(), 512),)](z, out, torch.from_numpy(c).to(DEVICE), z.numel(),
                                                      KIND=SURROGATE_CODES[kind], BLOCK=512)
    # float32: exp differs in the last bit between libraries, and 1 - sigmoid amplifies it.
    tol = 2e-5 if dtype == torch.float32 else 1e-13
    torch.testing.assert_close(out, derivative(z, spec), rtol=tol, atol=tol)
