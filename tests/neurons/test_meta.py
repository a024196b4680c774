import math

import pytest
import torch

from spikegate.neurons import MetaNeuron, MetaState, Recurrent

F64 = torch.float64


def test_same_seed_same_spikes_other_seed_other_spikes():
    m = MetaNeuron(shape=20).double()
    x = torch.rand(50, 4, 20, dtype=F64) * 0.3
    a, _ = m(x, generator=torch.Generator().manual_seed(7))
    b, _ = m(x, generator=torch.Generator().manual_seed(7))
    c, _ = m(x, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_firing_probability_is_escape_noise_sigmoid():
    """With tau -> 0 (no memory) and a constant drive, spikes are Bernoulli(sigmoid((x - thr)/kappa))."""
    kappa, thr = 0.2, 1.0
    m = MetaNeuron(tau_mem=1e-6, tau_syn=1e-6, threshold=thr, kappa=kappa, dt=1.0, reset="none", learn=())
    drive = torch.tensor([0.6, 0.9, 1.0, 1.2, 1.5], dtype=F64)
    x = drive.expand(4000, 1, 5).clone()
    s, _ = m(x, generator=torch.Generator().manual_seed(0))
    expected = torch.sigmoid((drive - thr) / kappa)
    torch.testing.assert_close(s.mean((0, 1)), expected, atol=0.025, rtol=0)


def test_deterministic_mode_fires_above_threshold():
    m = MetaNeuron(tau_mem=1e-6, tau_syn=1e-6, threshold=1.0, reset="none", learn=(), stochastic=False)
    x = torch.tensor([0.5, 0.99, 1.01, 2.0], dtype=F64).expand(3, 1, 4).clone()
    s, _ = m(x)
    assert s[0, 0].tolist() == [0.0, 0.0, 1.0, 1.0]


def test_dynamics_are_current_based_lif():
    dt, tau_m, tau_s = 1.0, 10.0, 5.0
    m = MetaNeuron(tau_m, tau_s, threshold=100.0, kappa=1e-3, dt=dt, learn=(), stochastic=False)
    x = torch.zeros(30, 1, 1, dtype=F64)
    x[0] = 1.0
    _, st = m.trace(x)
    a, b = math.exp(-dt / tau_s), math.exp(-dt / tau_m)
    n = torch.arange(30, dtype=F64)
    torch.testing.assert_close(st.i.flatten(), a**n)
    # v[n] = sum_k b^(n-k) a^k = (b^(n+1) - a^(n+1)) / (b - a)
    torch.testing.assert_close(st.v.flatten(), (b ** (n + 1) - a ** (n + 1)) / (b - a))


def test_intrinsic_parameters_learn_and_stay_physical():
    m = MetaNeuron(shape=8, tau_min=0.5).double()
    x = torch.rand(40, 3, 8, dtype=F64) * 0.4
    s, st = m(x, generator=torch.Generator().manual_seed(0))
    (s.sum() + st.v.pow(2).sum()).backward()
    for name in ("tau_mem", "tau_syn", "threshold", "kappa"):
        raw = getattr(m, name).raw
        assert raw.grad is not None and raw.grad.abs().sum() > 0, name
        with torch.no_grad():
            raw -= 1e4  # push far towards the lower bound
    p = m.params()
    assert torch.all((p.alpha > 0) & (p.alpha < 1)) and torch.all((p.beta > 0) & (p.beta < 1))
    assert torch.all(p.threshold >= 0) and torch.all(p.kappa >= 0)
    assert torch.all(m.tau_mem() >= 0.5)


def test_fixed_intrinsic_parameters_have_no_trainable_tensors():
    assert list(MetaNeuron(learn=()).parameters()) == []
    assert len(list(MetaNeuron(learn=("threshold",)).parameters())) == 1


def test_recurrent_meta_layer():
    layer = Recurrent(MetaNeuron(shape=6), 6)
    s, st = layer(torch.rand(10, 2, 6), generator=torch.Generator().manual_seed(1))
    s2, _ = layer(torch.rand(10, 2, 6), st, generator=torch.Generator().manual_seed(1))
    assert s.shape == (10, 2, 6) and isinstance(st.cell, MetaState) and s2.shape == s.shape


@pytest.mark.parametrize("name", ["tau_mem", "tau_syn", "threshold", "kappa"])
def test_bad_parameters(name):
    with pytest.raises(ValueError, match=name):
        MetaNeuron(**{name: -1.0})
    with pytest.raises(ValueError, match="dt"):
        MetaNeuron(dt=0)
    with pytest.raises(ValueError, match="learn"):
        MetaNeuron(learn=("beta",))
