"""The leaky integrator read-out: closed form under constant input, constructor checks."""

from __future__ import annotations

import pytest
import torch

from spikegate.kernels import record
from spikegate.neurons import LI, LIState, li_step


@pytest.mark.parametrize("beta", [0.5, 0.9, 1.0])
def test_constant_input_follows_the_geometric_sum(beta):
    x = torch.full((50, 2, 3), 0.3, dtype=torch.float64)
    v, state = LI(beta=beta)(x)
    n = torch.arange(1, 51, dtype=torch.float64)
    want = 0.3 * n if beta == 1.0 else 0.3 * (1 - beta**n) / (1 - beta)
    torch.testing.assert_close(v[:, 0, 0], want, rtol=1e-12, atol=0)
    assert torch.equal(state.v, v[-1])


def test_state_carries_over_and_matches_the_step_function():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(20, 4, 5, generator=gen, dtype=torch.float64)
    beta = torch.rand(5, generator=gen, dtype=torch.float64) * 0.5 + 0.4
    layer = LI(beta=beta)
    v_all, _ = layer(x)
    v_a, s = layer(x[:7])
    v_b, _ = layer(x[7:], s)
    assert torch.equal(torch.cat([v_a, v_b]), v_all)
    state = LIState(torch.zeros(4, 5, dtype=torch.float64))
    for t in range(20):
        y, state = li_step(x[t], state, layer.params())
        assert torch.equal(y, v_all[t])


def test_tau_and_dt_give_the_exponential_decay_and_the_reference_loop_runs():
    layer = LI(tau_mem=20.0, dt=1.0)
    torch.testing.assert_close(layer.beta(), torch.exp(torch.tensor(-1 / 20.0, dtype=torch.float64)))
    with record() as log:
        layer(torch.zeros(3, 1, 2))
    assert log == [("li", "reference")]


@pytest.mark.parametrize(
    "kwargs, message",
    [({"beta": 1.5}, r"beta must lie in \(0.0, 1.0\]"), ({"beta": 0.9, "tau_mem": 5.0, "dt": 1.0}, "not both"),
     ({"tau_mem": 5.0}, "dt is needed"), ({"beta": 1.0, "learn_beta": True}, r"beta must lie in \(0.0, 1.0\)")],
)
def test_bad_parameters_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LI(**kwargs)


def test_learnable_beta_gets_gradients():
    layer = LI(beta=0.8, shape=3, learn_beta=True)
    v, _ = layer(torch.ones(5, 2, 3))
    v.sum().backward()
    assert layer.beta.raw.grad is not None and bool((layer.beta.raw.grad != 0).all())
