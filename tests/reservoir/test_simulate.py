import numpy as np
import pytest
import torch

from spikegate import Izhikevich, LIF
from spikegate.io import read_recording
from spikegate.kernels import BackendError
from spikegate.neurons import izhikevich_population
from spikegate.plasticity import TRIPLET_PRESETS, PairSTDP, TripletSTDP
from spikegate.reservoir import (
    Network,
    PoissonDrive,
    Synapses,
    input_synapses,
    izhikevich_reservoir,
    lif_reservoir,
    network_recorder,
    simulate,
)

torch.set_num_threads(1)
T, N_IN = 600, 30


def _case(name: str):
    """(network, current, input spikes, plasticity) of a small test network."""
    rng = np.random.default_rng(11)
    if name.startswith("izh"):
        scheme, dt = ("euler", 0.5) if name == "izh-euler" else ("izhikevich2003", 1.0)
        net = izhikevich_reservoir(80, 20, p=0.2, w_exc=5.0, w_inh=10.0, delay=(0.0, 2.0), dt=dt, scheme=scheme,
                                   generator=rng)
        net = net.with_inputs(input_synapses(N_IN, 100, p=0.2, weight=10.0, delay=(0.0, 1.0), dt=dt, generator=rng))
        current = 3.0 + 3.0 * rng.standard_normal((T, 100))
        rule = (PairSTDP(a_plus=0.3, a_minus=0.33, w_max=6.0, dt=dt) if name == "izh-euler" else
                TripletSTDP(**{**TRIPLET_PRESETS["visual_nearest_full"], "a3_plus": 0.5, "a2_minus": 0.3}, w_max=6.0,
                            dt=dt))
    else:
        reset, refr, dt = ("zero", 2, 0.5) if name == "lif-zero" else ("subtract", 0, 1.0)
        net = lif_reservoir(80, 20, p=0.2, w_exc=0.06, w_inh=0.25, reset=reset, refractory=refr, delay=(0.0, 1.5),
                            dt=dt, generator=rng)
        net = net.with_inputs(input_synapses(N_IN, 100, p=0.2, weight=0.3, delay=1.0, dt=dt, generator=rng))
        current = 0.005 + 0.05 * rng.standard_normal((T, 100))
        rule = (PairSTDP(a_plus=0.02, a_minus=0.021, pairing="nearest", weight_dependence="multiplicative",
                         w_max=0.08, dt=dt) if name == "lif-zero" else None)
    inputs = rng.random((T, N_IN)) < 0.03
    return net, torch.from_numpy(current), torch.from_numpy(inputs), rule


@pytest.mark.parametrize("name", ["izh-euler", "izh-2003", "lif-zero", "lif-subtract"])
def test_cpu_kernel_matches_reference(name):
    net, current, inputs, rule = _case(name)
    kw = dict(current=current, input_spikes=inputs, plasticity=rule, trace=[0, 5, 99])
    a = simulate(net, T, backend="cpu", **kw)
    b = simulate(net, T, backend="reference", **kw)
    assert (a.backend, b.backend) == ("cpu", "reference")
    n_spikes = a.spikes.steps.size
    assert 1.0 < n_spikes / 100 / (T * net.dt / 1000) < 80.0  # a few to tens of Hz
    for f in ("steps", "units", "batch"):
        assert np.array_equal(getattr(a.spikes, f), getattr(b.spikes, f))
    w0 = torch.from_numpy(net.recurrent.weight)
    if rule is not None:
        assert (a.state.weight - w0).abs().max() > 0.1 * (rule.w_max - rule.w_min)
    torch.testing.assert_close(a.state.weight, b.state.weight, rtol=0, atol=1e-12)
    torch.testing.assert_close(a.traces, b.traces, rtol=0, atol=1e-8)
    torch.testing.assert_close(a.state.neuron.v, b.state.neuron.v, rtol=0, atol=1e-8)
    assert torch.equal(a.state.history, b.state.history)


@pytest.mark.parametrize("model", ["izhikevich", "lif"])
def test_uncoupled_population_is_bitwise_the_step_function(model):
    """Without synapses the kernel is the neuron model: same spikes, bitwise the same v."""
    g = torch.Generator().manual_seed(0)
    n = 64
    empty = Synapses.from_pairs([], [], 0.0, n, n)
    if model == "izhikevich":
        pop = izhikevich_population(48, 16, generator=g)
        module = Izhikevich(None, a=pop.a, b=pop.b, c=pop.c, d=pop.d, dt=0.5, shape=n)
        x = 6.0 + 4.0 * torch.randn(T, 1, n, generator=g, dtype=torch.float64)
        net = Network(module.params(), empty, pop.excitatory.numpy(), 0.5)
    else:
        module = LIF(tau_mem=10.0, dt=0.5, threshold=1.0, reset="zero", refractory=3)
        x = 0.1 + 0.1 * torch.randn(T, 1, n, generator=g, dtype=torch.float64)
        p = module.params()
        params = p._replace(beta=p.beta.expand(n).double(), threshold=p.threshold.expand(n).double())
        net = Network(params, empty, np.ones(n, bool), 0.5, v_init=0.0)
    spikes, states = module.trace(x)
    res = simulate(net, T, current=x, trace=range(n), backend="cpu")
    assert spikes.sum() > 100
    assert torch.equal(res.spikes.raster(T, n), spikes)
    assert torch.equal(res.traces, states.v)


def test_chunks_and_continuation_equal_one_run():
    net, current, inputs, rule = _case("izh-euler")
    w_net = net.recurrent.weight.copy()
    kw = dict(input_spikes=inputs, plasticity=rule, poisson=[PoissonDrive(200.0, 2.0)], trace=[3])
    whole = simulate(net, T, current=current, generator=5, **kw)
    chunked = simulate(net, T, current=current, generator=5, chunk=137, **kw)
    assert np.array_equal(whole.spikes.steps, chunked.spikes.steps)
    assert np.array_equal(whole.spikes.units, chunked.spikes.units)
    assert torch.equal(whole.state.weight, chunked.state.weight)
    assert torch.equal(whole.traces, chunked.traces)
    # continuing a state (no Poisson drive, which reseeds per call)
    kw.pop("poisson")
    one = simulate(net, T, current=current, **kw)
    first = simulate(net, 250, current=current, **{**kw, "input_spikes": inputs[:250]})
    before = [t.clone() for t in (first.state.neuron.v, first.state.weight, *first.state.plasticity)]
    second = simulate(net, T - 250, current=current[250:], state=first.state, **{**kw, "input_spikes": inputs[250:]})
    after = (first.state.neuron.v, first.state.weight, *first.state.plasticity)
    assert all(torch.equal(a, b) for a, b in zip(before, after))  # the given state is left as it was
    assert np.array_equal(net.recurrent.weight, w_net)  # plastic runs never touch the network's weights
    assert np.array_equal(one.spikes.steps, np.concatenate([first.spikes.steps, second.spikes.steps]))
    assert torch.equal(one.state.weight, second.state.weight)
    assert torch.equal(one.state.neuron.v, second.state.neuron.v)


@pytest.mark.parametrize("backend, rate", [("cpu", 150.0), ("cpu", 600.0), ("reference", 150.0)])
def test_poisson_drive_statistics(backend, rate):
    """A LIF with beta = 1 and an unreachable threshold integrates the drive: v = w * count.
    (The cpu kernel draws exponential intervals below 0.1 events per step, counts above.)"""
    n, steps, w = 400, 2000, 0.5
    params = LIF(beta=1.0, threshold=1e9).params()
    params = params._replace(beta=params.beta.expand(n).double(), threshold=params.threshold.expand(n).double())
    net = Network(params, Synapses.from_pairs([], [], 0.0, n, n), np.ones(n, bool), 0.5, v_init=0.0)
    res = simulate(net, steps, poisson=[PoissonDrive(rate, w)], backend=backend, generator=1)
    counts = res.state.neuron.v[0] / w
    mean = rate * steps * 0.5 / 1000  # events expected
    assert counts.mean().item() == pytest.approx(mean, rel=0.02)
    assert (counts.var() / counts.mean()).item() == pytest.approx(1.0, abs=0.15)
    again = simulate(net, steps, poisson=[PoissonDrive(rate, w)], backend=backend, generator=1)
    other = simulate(net, steps, poisson=[PoissonDrive(rate, w)], backend=backend, generator=2)
    assert torch.equal(res.state.neuron.v, again.state.neuron.v)
    assert not torch.equal(res.state.neuron.v, other.state.neuron.v)


def test_poisson_inversion_equals_the_plain_loop():
    """The kernel's inversion (tabulated and branch-free up to 3 events per step) gives the
    sums of the plain loop: count by summing the Poisson probabilities term by term, then add
    the weight that many times; the same uniforms (xorshift64*) in the same order."""
    from spikegate.kernels.reservoir import cpu as kernel

    mask = (1 << 64) - 1

    def uniform(x: int) -> tuple[int, float]:
        x ^= x >> 12
        x ^= (x << 25) & mask
        x ^= x >> 27
        return x, float(((x * 2685821657736338717) & mask) >> 11) * (1.0 / 9007199254740992.0)

    dt, n = 1.0, 120
    rate = np.concatenate([np.geomspace(100.0, 40000.0, n - 2), [1e6, 99.0]])[None]  # lambda 0.1 .. 1000
    weight = np.linspace(-0.7, 0.9, n)[None]
    lam, cdf, p_last = kernel.poisson_table(rate, dt)
    rng = kernel.seed_state(123)
    state = int(rng[0])
    v = np.linspace(-70.0, -50.0, n)
    expected = v.copy()
    t_next = np.full(rate.shape, np.inf)  # the last neuron (lambda < 0.1) has no event
    for step in range(30):
        kernel._poisson(step, dt, rate, lam, cdf, p_last, weight, t_next, v, rng)
        for i in range(n - 1):
            state, u = uniform(state)
            lam_i = rate[0, i] * dt / 1000.0
            p = cdf[0, i, 0]  # exp(-lambda), as the kernel computes it
            cum, count = p, 0
            while u > cum and count < 1000:
                count += 1
                p *= lam_i / count
                cum += p
            for _ in range(count):
                expected[i] += weight[0, i]
        assert np.array_equal(v, expected)
    assert int(rng[0]) == state


def test_batched_reference_equals_separate_runs():
    net, current, inputs, _ = _case("lif-subtract")
    g = torch.Generator().manual_seed(3)
    cur = current[:, None] + 0.05 * torch.randn(T, 3, 100, generator=g, dtype=torch.float64)
    batched = simulate(net, T, current=cur, input_spikes=inputs, batch=3)
    assert batched.backend == "reference"
    for b in range(3):
        single = simulate(net, T, current=cur[:, b], input_spikes=inputs, backend="cpu")
        keep = batched.spikes.batch == b
        assert np.array_equal(batched.spikes.steps[keep], single.spikes.steps)
        assert np.array_equal(batched.spikes.units[keep], single.spikes.units)


def test_recording_round_trip(tmp_path):
    net, current, inputs, rule = _case("izh-euler")
    path = tmp_path / "run.h5"
    with network_recorder(path, net, trace=[1, 2], seed=0) as rec:
        res = simulate(net, T, current=current, input_spikes=inputs, plasticity=rule, trace=[1, 2],
                       recorder=rec, chunk=200)
    back = read_recording(path)
    assert back.complete and back.n_steps == T and back.attrs["model"] == "izhikevich"
    raster = back.spikes["network"].dense(T, net.dt)
    assert np.array_equal(raster, res.spikes.raster(T, net.n)[:, 0].numpy().astype(np.uint8))
    np.testing.assert_allclose(back.traces["v"], res.traces[:, 0].numpy(), rtol=1e-6)


def test_errors():
    net, current, inputs, rule = _case("izh-euler")
    with pytest.raises(BackendError, match="batch"):
        simulate(net, 10, batch=2, backend="cpu")
    with pytest.raises(ValueError, match="current"):
        simulate(net, 10, current=current[:, :50])
    with pytest.raises(ValueError, match="current"):
        simulate(net, T + 1, current=current)
    with pytest.raises(ValueError, match="dt"):
        simulate(net, 10, plasticity=PairSTDP(dt=0.1))
    with pytest.raises(ValueError, match="w_min"):
        simulate(net, 10, plasticity=PairSTDP(w_max=1.0, dt=0.5))
    with pytest.raises(ValueError, match="input_spikes"):
        simulate(net.with_inputs(None), 10, input_spikes=inputs)
    with pytest.raises(ValueError, match="backend"):
        simulate(net, 10, backend="gpu")
    with pytest.raises(ValueError, match="trace"):
        simulate(net, 10, trace=[100])
