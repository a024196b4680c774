import math

import pytest
import torch

from spikegate.plasticity import DoubleExponential, bump, decay_factor, update_trace


def _train(steps: int, times: list[int]) -> torch.Tensor:
    s = torch.zeros(steps, 1, 1, dtype=torch.float64)
    s[times] = 1.0
    return s


@pytest.mark.parametrize("mode", ["all_to_all", "nearest"])
@pytest.mark.parametrize("dt", [0.1, 1.0])
def test_trace_matches_closed_form(mode, dt):
    tau, steps, times = 20.0, 300, [10, 25, 40, 41, 200]
    s = _train(steps, times)
    f = decay_factor(tau, dt)
    x = torch.zeros(1, 1, dtype=torch.float64)
    for n in range(steps):
        x = update_trace(x, s[n], f, mode)
        past = [k for k in times if k <= n]
        if mode == "all_to_all":
            expect = sum(math.exp(-(n - k) * dt / tau) for k in past)
        else:
            expect = math.exp(-(n - past[-1]) * dt / tau) if past else 0.0
        assert x.item() == pytest.approx(expect, rel=1e-12, abs=1e-300)


def test_bump_amount_and_bool_spikes():
    x = torch.tensor([[0.3, 0.3]], dtype=torch.float64)
    s = torch.tensor([[True, False]])
    assert bump(x, s, "all_to_all", 0.5).tolist() == [[0.8, 0.3]]
    assert bump(x, s, "nearest", 0.5).tolist() == [[0.5, 0.3]]


@pytest.mark.parametrize("call, name", [
    (lambda: decay_factor(0.0, 1.0), "tau"),
    (lambda: decay_factor(10.0, -1.0), "dt"),
    (lambda: bump(torch.zeros(1), torch.zeros(1), "closest"), "mode"),
    (lambda: DoubleExponential(20.0, 2.0), "tau_rise"),
])
def test_bad_arguments_name_themselves(call, name):
    with pytest.raises(ValueError, match=name):
        call()


@pytest.mark.parametrize("dt", [0.1, 0.5])
def test_double_exponential_impulse_response(dt):
    filt = DoubleExponential(2.0, 20.0, dt)
    steps = int(200 / dt)
    s = _train(steps, [0])
    state = filt.initial_state(s[0])
    r = []
    for n in range(steps):
        out, state = filt.step(s[n], state)
        r.append(out.item())
    t = torch.arange(steps, dtype=torch.float64) * dt
    expect = 1000.0 * (torch.exp(-t / 20.0) - torch.exp(-t / 2.0)) / 18.0
    assert torch.allclose(torch.tensor(r, dtype=torch.float64), expect, rtol=1e-12, atol=1e-12)


def test_double_exponential_has_unit_area():
    """The mean of r over a regular 25 Hz train is 25 Hz."""
    dt, steps, period = 0.5, 8000, 80
    filt = DoubleExponential(2.0, 20.0, dt)
    s = _train(steps, list(range(0, steps, period)))
    state, acc = filt.initial_state(s[0]), 0.0
    for n in range(steps):
        out, state = filt.step(s[n], state)
        if n >= steps // 2:
            acc += out.item()
    assert acc / (steps // 2) == pytest.approx(25.0, rel=0.02)


def test_double_exponential_per_neuron_time_constants_match_scalar_filters():
    """Tensors of rise and decay times filter each neuron as its own scalar filter would, and a
    slow rise delays the peak to tau_r tau_d ln(tau_d / tau_r) / (tau_d - tau_r)."""
    dt, steps = 0.5, 2400
    rise = torch.tensor([2.0, 50.0, 300.0], dtype=torch.float64)
    decay = torch.tensor([20.0, 400.0, 1000.0], dtype=torch.float64)
    s = _train(steps, [0, 37, 500]).expand(steps, 1, 3).contiguous()
    joint = DoubleExponential(rise, decay, dt)
    single = [DoubleExponential(float(r), float(d), dt) for r, d in zip(rise, decay)]
    state = joint.initial_state(s[0])
    states = [f.initial_state(s[0][:, :1]) for f in single]
    out = torch.empty(steps, 3, dtype=torch.float64)
    for n in range(steps):
        r, state = joint.step(s[n], state)
        out[n] = r[0]
        for k, f in enumerate(single):
            rk, states[k] = f.step(s[n][:, k:k + 1], states[k])
            assert rk.item() == pytest.approx(r[0, k].item(), rel=1e-12, abs=1e-15)
    # one spike alone: the peak of the slow pair
    lone = DoubleExponential(rise, decay, dt)
    state, trace = lone.initial_state(s[0]), []
    for n in range(steps):
        r, state = lone.step(s[0] if n == 0 else torch.zeros_like(s[0]), state)
        trace.append(r[0])
    peak = torch.stack(trace).argmax(0).double() * dt
    expect = rise * decay * torch.log(decay / rise) / (decay - rise)
    assert torch.allclose(peak, expect, atol=dt)
    with pytest.raises(ValueError, match="tau_rise"):
        DoubleExponential(torch.tensor([2.0, 30.0]), torch.tensor([20.0, 20.0]))


def test_double_exponential_run_samples_the_steps():
    filt = DoubleExponential(torch.tensor([2.0, 5.0, 3.0]), torch.tensor([20.0, 50.0, 400.0]), 0.5)
    spikes = (torch.rand(41, 3, generator=torch.Generator().manual_seed(0)) < 0.2).double()
    state = filt.initial_state(torch.zeros(1, 3, dtype=torch.float64))
    rates, end = filt.run(spikes, state, every=2)
    expected = []
    for s in range(41):
        r, state = filt.step(spikes[s:s + 1], state)
        expected.append(r[0])
    assert rates.shape == (21, 3) and torch.equal(rates, torch.stack(expected[::2]))
    assert torch.equal(end.rise, state.rise) and torch.equal(end.decay, state.decay)
