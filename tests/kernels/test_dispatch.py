"""The backend registry: explicit requests never fall back; auto picks fused kernels only
when they can serve; what ran is observable. Uses a private op so real kernels don't interfere."""

from typing import NamedTuple

import pytest
import torch

from spikegate import kernels
from spikegate.kernels import dispatch


class P(NamedTuple):
    gain: torch.Tensor
    mode: str = "ok"


class S(NamedTuple):
    v: torch.Tensor


def step(x, state, p):
    v = state.v + p.gain * x
    return v, S(v)


def fused(xs, state, p):
    v = state.v + p.gain * torch.cumsum(xs, 0)
    return v, S(v[-1])


@pytest.fixture
def op():
    name = "test_op"
    yield name
    dispatch._KERNELS.pop(name, None)


def call(op, backend, mode="ok"):
    x = torch.rand(5, 2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    return kernels.run(op, step, x, S(torch.zeros(2, 3, dtype=torch.float64)), P(torch.tensor(2.0), mode), backend)


def test_reference_always_serves_and_unregistered_backends_raise(op):
    with kernels.record() as log:
        y, st = call(op, "reference")
    assert log == [(op, "reference")] and y.shape == (5, 2, 3)
    with pytest.raises(kernels.BackendError, match="no 'cpu' kernel is registered for 'test_op'"):
        call(op, "cpu")
    with pytest.raises(kernels.BackendError, match="backend must be one of"):
        call(op, "gpu")
    with kernels.record() as log:
        call(op, "auto")
    assert log == [(op, "reference")]


def test_fused_kernel_is_chosen_and_matches(op):
    kernels.register(op, "cpu", fused, devices=("cpu",),
                     supports=lambda p, dtype: None if p.mode == "ok" else f"mode {p.mode!r} is not implemented")
    with kernels.record() as log:
        y_ref, s_ref = call(op, "reference")
        y_auto, s_auto = call(op, "auto")
        y_cpu, _ = call(op, "cpu")
    assert log == [(op, "reference"), (op, "cpu"), (op, "cpu")]
    torch.testing.assert_close(y_auto, y_ref)
    torch.testing.assert_close(s_auto.v, s_ref.v)
    assert kernels.available(op) == ["reference", "cpu"]


def test_unsupported_configuration_is_refused_explicitly_and_routed_by_auto(op):
    kernels.register(op, "cpu", fused, devices=("cpu",),
                     supports=lambda p, dtype: None if p.mode == "ok" else f"mode {p.mode!r} is not implemented")
    with pytest.raises(kernels.BackendError, match="mode 'odd' is not implemented; backends that can: reference"):
        call(op, "cpu", mode="odd")
    with kernels.record() as log:
        call(op, "auto", mode="odd")
    assert log == [(op, "reference")]


def test_wrong_device_is_refused(op):
    kernels.register(op, "cuda", fused, devices=("cuda",))
    with pytest.raises(kernels.BackendError, match="runs on cuda tensors, not cpu"):
        call(op, "cuda")


def test_lazy_registration_resolves_on_first_use(op):
    kernels.register(op, "cpu", "tests.kernels.test_dispatch:fused", devices=("cpu",))
    with kernels.record() as log:
        call(op, "cpu")
    assert log == [(op, "cpu")]
    with pytest.raises(ValueError, match="fused backends"):
        kernels.register(op, "reference", fused, devices=("cpu",))


def test_neuron_modules_report_their_backend():
    from spikegate.neurons import LIF

    with kernels.record() as log:
        LIF(0.9, backend="reference")(torch.rand(3, 1, 2))
    assert log == [("lif", "reference")]
