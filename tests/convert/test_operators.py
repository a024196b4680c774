"""Spiking operators: the IF encoder's count, accumulate-then-compute units, the cumulative
product rule, latched routing, operation counts and energy."""

import pytest
import torch
from torch import nn

from spikegate.convert import (
    EnergyCosts,
    IFEncoder,
    SpikeOps,
    accumulate_compute,
    count_ops,
    cumulative_product,
    energy,
)
from spikegate.convert.counting import counting, is_spike_train
from spikegate.neurons import LIFState, Sequential


@pytest.mark.parametrize("steps", [1, 4, 8, 31])
@pytest.mark.parametrize("signed", [False, True])
def test_if_encoder_counts_are_the_rounded_clipped_value(steps, signed):
    theta = 0.75
    m = torch.linspace(-1.2, 1.2, 241, dtype=torch.float64)
    enc = IFEncoder(theta, signed=signed, timing="step")
    y, state = enc(m.expand(steps, 1, -1))
    count = y.sum(0)[0] / theta
    expected = (m.abs() * steps / theta + 0.5).floor().clamp(0, steps)
    expected = expected * m.sign() if signed else torch.where(m >= 0, expected, torch.zeros(()))
    assert torch.equal(count, expected.to(count.dtype))
    assert bool(((y == 0) | (y.abs() == theta)).all())
    assert isinstance(state, LIFState) and state.v.shape == ((2, 1, 241) if signed else (1, 241))


def test_if_encoder_starts_at_half_threshold_and_window_timing_uses_the_mean():
    enc = IFEncoder(2.0, signed=False)
    assert torch.equal(enc.initial_state(torch.zeros(3)).v, torch.ones(3))
    late = torch.zeros(8, 1, 1)
    late[-1] = 8 * 1.5  # all the input arrives at the last step: mean 1.5
    window, _ = enc(late)
    step, _ = IFEncoder(2.0, signed=False, timing="step")(late)
    assert window.sum() / 2.0 == 6  # round(1.5 * 8 / 2)
    assert step.sum() / 2.0 == 1  # a streaming neuron fires at most once per step


@pytest.mark.parametrize("timing", ["window", "step"])
def test_accumulate_compute_running_sum_is_t_f_of_running_mean(timing):
    torch.manual_seed(0)
    x = torch.randn(6, 4, 5, dtype=torch.float64)
    y = accumulate_compute(lambda z: torch.softmax(z, -1), [x], timing)
    assert torch.allclose(y.mean(0), torch.softmax(x.mean(0), -1))
    if timing == "step":
        t = torch.arange(1, 7, dtype=torch.float64).view(-1, 1, 1)
        assert torch.allclose(y.cumsum(0), t * torch.softmax(x.cumsum(0) / t, -1))
    else:
        assert torch.equal(y[:-1], torch.zeros_like(y[:-1]))


def test_accumulate_compute_passes_extra_outputs_from_the_window():
    x = torch.randn(5, 3, dtype=torch.float64)
    y, extra = accumulate_compute(lambda z: (2 * z, z.sum()), [x], "step")
    assert torch.allclose(y.mean(0), 2 * x.mean(0)) and torch.allclose(extra, x.mean(0).sum())


@pytest.mark.parametrize("timing", ["window", "step"])
@pytest.mark.parametrize("f", [torch.mul, torch.matmul], ids=["mul", "matmul"])
def test_cumulative_product_is_exact_on_window_means(f, timing):
    torch.manual_seed(0)
    a = (torch.rand(7, 3, 4, 4) < 0.3).double() * 0.5  # two spike trains
    b = (torch.rand(7, 3, 4, 4) < 0.6).double() * -1.25
    y = cumulative_product(f, a, b, timing)
    assert torch.allclose(y.mean(0), f(a.mean(0), b.mean(0)))
    if timing == "step":
        t = torch.arange(1, 8, dtype=torch.float64).view(-1, 1, 1, 1)
        assert torch.allclose(y.cumsum(0), f(a.cumsum(0), b.cumsum(0)) / t)


def test_route_is_latched_on_the_window_sum():
    torch.manual_seed(0)
    logits = torch.randn(5, 6, 4)
    idx, w = SpikeOps("step").route(logits, 2)
    assert idx.shape == (6, 2) and torch.equal(idx, logits.sum(0).topk(2).indices)
    assert torch.allclose(w.mean(0), torch.softmax(logits.mean(0).gather(-1, idx), -1), atol=1e-6)


def test_spiking_ops_refuse_an_unconverted_site():
    from spikegate.convert.ann import ActQuant

    with pytest.raises(TypeError, match="unconverted activation site"):
        SpikeOps().site(ActQuant(), torch.zeros(2, 1))


def test_is_spike_train():
    assert is_spike_train(torch.tensor([0.0, 0.5, -0.5, 0.0]))
    assert not is_spike_train(torch.tensor([0.0, 0.5, 1.0]))
    assert not is_spike_train(torch.zeros(3))


def test_counts_of_a_linear_layer_ann_and_snn():
    lin = nn.Linear(4, 3, bias=False)
    with torch.no_grad():
        lin.weight[0, 0] = 0.0  # a pruned synapse carries no operation
    x = torch.randn(2, 4)
    assert count_ops(lin, x).mac == 2 * 11
    spikes = torch.zeros(5, 2, 4)
    spikes[0, 0, 0] = spikes[3, 1, 2] = spikes[4, 1, 0] = 0.3
    snn = Sequential(lin)
    c = count_ops(snn, spikes, steps=5)
    assert (c.ac, c.mac) == (2 + 3 + 2, 0)  # input 0 reaches two outputs, input 2 three
    graded = torch.ones(5, 2, 4) * torch.arange(1.0, 5.0)  # constant: paid once, at t = 0
    assert count_ops(snn, graded, steps=5).mac == 2 * 11


def test_product_counts_follow_the_operands():
    a = torch.zeros(4, 3)
    a[1, 0] = a[2, 2] = 1.0  # spike train: 2 events
    b = torch.full((4, 3), 0.0)
    b[-1] = torch.tensor([0.1, 0.2, 0.0])  # graded: 2 non-zeros
    with counting(4) as c:
        SpikeOps().mul(a, b)
    assert (c.counts.ac, c.counts.mac) == (2, 2)


def test_energy_uses_the_documented_costs():
    from spikegate.convert import OpCounts

    assert energy(OpCounts(mac=10, ac=100, neuron=20)) == pytest.approx(10 * 4.6e-12 + 120 * 0.9e-12)
    assert energy(OpCounts(mac=1), EnergyCosts(mac=2.0, ac=0.0)) == 2.0
