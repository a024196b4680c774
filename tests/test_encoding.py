import math

import pytest
import torch

from spikegate.encoding import bernoulli, delta, latency, poisson, poisson_process, spike_times


def test_poisson_counts_have_poisson_statistics():
    rates = torch.full((2000,), 40.0, dtype=torch.float64)  # Hz
    s = poisson(rates, 1000, dt=1.0, generator=torch.Generator().manual_seed(0))  # 1 s
    counts = s.sum(0)
    assert counts.mean().item() == pytest.approx(40.0, rel=0.02)
    fano = counts.var() / counts.mean()
    assert fano.item() == pytest.approx(1 - 0.04, abs=0.08)  # binomial: 1 - p


def test_same_seed_same_spikes():
    p = torch.rand(3, 5)
    a = bernoulli(p, 20, generator=torch.Generator().manual_seed(4))
    b = bernoulli(p, 20, generator=torch.Generator().manual_seed(4))
    c = bernoulli(p, 20, generator=torch.Generator().manual_seed(5))
    assert a.shape == (20, 3, 5) and torch.equal(a, b) and not torch.equal(a, c)


def test_poisson_process_intervals_are_exponential():
    trains = poisson_process(50.0, 20_000.0, n=3, generator=torch.Generator().manual_seed(1))
    assert len(trains) == 3
    for t in trains:
        assert torch.all(t < 20_000.0) and torch.all(torch.diff(t) > 0)
        assert len(t) == pytest.approx(1000, rel=0.1)
        isi = torch.diff(t)
        assert (isi.std() / isi.mean()).item() == pytest.approx(1.0, abs=0.08)  # CV of exponential
    assert poisson_process(0.0, 100.0)[0].numel() == 0


def test_rate_and_probability_validation():
    with pytest.raises(ValueError, match="exceeds"):
        poisson(torch.tensor([2000.0]), 10, dt=1.0)
    with pytest.raises(ValueError, match="rates"):
        poisson(torch.tensor([-1.0]), 10)
    with pytest.raises(ValueError, match="prob"):
        bernoulli(torch.tensor([1.5]), 10)
    with pytest.raises(ValueError, match="steps"):
        bernoulli(torch.tensor([0.5]), 0)
    with pytest.raises(ValueError, match="dt"):
        poisson(torch.tensor([5.0]), 10, dt=-1.0)


@pytest.mark.parametrize("mode", ["linear", "log"])
def test_latency_one_spike_earlier_for_larger_input(mode):
    x = torch.tensor([1.0, 0.8, 0.5, 0.2, 0.05, 0.001])
    s = latency(x, 50, mode=mode, threshold=0.01)
    assert s.shape == (50, 6)
    assert s.sum(0).tolist() == [1, 1, 1, 1, 1, 0]
    t = spike_times(x, 50, mode=mode, threshold=0.01)
    assert t[0] == 0 and t[-1] == -1 and torch.all(torch.diff(t[:5]) > 0)


def test_latency_formulas():
    x = torch.tensor([0.5, 0.01], dtype=torch.float64)
    assert spike_times(x, 101, mode="linear").tolist() == [50, 99]
    tau = 100 / math.log(100)
    assert spike_times(x, 101, mode="log").tolist() == [round(tau * math.log(2)), 100]


def test_delta_level_crossing():
    x = torch.tensor([0.0, 0.3, 0.6, 0.5, 0.1, 0.1, 0.45]).view(7, 1, 1)
    s = delta(x, 0.5)
    on, off = s[:, 0, 0, 0].tolist(), s[:, 0, 1, 0].tolist()
    assert on == [0, 0, 1, 0, 0, 0, 0]  # 0.6 - 0.0 >= 0.5 -> ref = 0.6
    assert off == [0, 0, 0, 0, 1, 0, 0]  # 0.6 - 0.1 >= 0.5 -> ref = 0.1
    s = delta(x, 0.3, mode="consecutive")
    assert s[:, 0, 0, 0].tolist() == [0, 1, 1, 0, 0, 0, 1] and s[:, 0, 1, 0].tolist() == [0, 0, 0, 0, 1, 0, 0]


def test_delta_shapes_and_validation():
    assert delta(torch.rand(10, 2, 3, 4), 0.1).shape == (10, 2, 2, 3, 4)
    with pytest.raises(ValueError, match="threshold"):
        delta(torch.rand(10, 2), 0.0)
    with pytest.raises(ValueError, match="x must have at least 2"):
        delta(torch.rand(10), 0.1)
