import numpy as np
import pytest
import torch

from spikegate.reservoir import Synapses, dale_synapses, izhikevich_reservoir, lif_reservoir, obeys_dale, random_pairs


def test_probability_and_no_autapses():
    pre, post = random_pairs(400, 400, p=0.1, generator=0)
    assert not (pre == post).any()
    assert pre.size / (400 * 399) == pytest.approx(0.1, rel=0.05)
    assert np.unique(pre * 400 + post).size == pre.size


def test_in_degree_is_exact():
    pre, post = random_pairs(50, 80, in_degree=7, generator=1)
    assert (np.bincount(post, minlength=80) == 7).all()
    assert np.unique(pre * 80 + post).size == pre.size


def test_canonical_order_and_dense():
    rng = np.random.default_rng(2)
    pre, post = random_pairs(30, 20, p=0.3, generator=rng)
    w, d = rng.normal(size=pre.size), rng.integers(0, 4, size=pre.size)
    syn = Synapses.from_pairs(pre, post, w, 30, 20, d)
    key = np.stack([syn.pre, syn.delay, syn.post])
    assert (np.diff(syn.pre) >= 0).all()
    assert all(tuple(key[:, k]) < tuple(key[:, k + 1]) for k in range(syn.nnz - 1))
    dense = torch.zeros(20, 30, dtype=torch.float64)
    dense[post, pre] = torch.from_numpy(w)
    assert torch.equal(syn.dense(), dense)
    ptr, ids = syn.by_post
    for i in range(20):
        assert (syn.post[ids[ptr[i]:ptr[i + 1]]] == i).all()
    seg, slots = syn.segments, syn.max_delay + 1
    for j in range(30):
        for k in range(slots):
            sl = slice(seg[j * slots + k], seg[j * slots + k + 1])
            assert (syn.pre[sl] == j).all() and (syn.delay[sl] == k).all()


def test_dale_and_spectral_radius():
    exc = np.arange(300) < 240
    syn = dale_synapses(exc, p=0.1, w_exc=0.5, w_inh=1.0, spectral_radius=1.3, generator=3)
    assert obeys_dale(syn, exc)
    assert syn.spectral_radius() == pytest.approx(1.3, rel=1e-8)
    assert not obeys_dale(syn.with_weight(-syn.weight), exc)


@pytest.mark.parametrize("w_inh", [1.0, 4.0])  # an outlier eigenvalue; a balanced bulk
def test_arpack_spectral_radius_matches_dense(w_inh):
    exc = np.arange(500) < 400
    syn = dale_synapses(exc, in_degree=20, w_exc=1.0, w_inh=w_inh, distribution="constant", generator=4)
    assert syn.spectral_radius("arpack") == pytest.approx(syn.spectral_radius("dense"), rel=1e-6)


@pytest.mark.parametrize("build", [izhikevich_reservoir, lif_reservoir])
def test_reservoir_builders(build):
    net = build(80, 20, p=0.2, delay=(0.5, 2.0), dt=0.5, generator=5)
    assert net.n == 100 and net.excitatory[:80].all() and not net.excitatory[80:].any()
    assert obeys_dale(net.recurrent, net.excitatory)
    assert net.recurrent.delay.min() >= 1 and net.recurrent.delay.max() <= 4
    again = build(80, 20, p=0.2, delay=(0.5, 2.0), dt=0.5, generator=5)
    assert np.array_equal(net.recurrent.weight, again.recurrent.weight)


@pytest.mark.parametrize("call, name", [
    (lambda: random_pairs(10, 10), "p"),
    (lambda: random_pairs(10, 10, p=0.1, in_degree=2), "in_degree"),
    (lambda: random_pairs(10, 10, in_degree=10), "in_degree"),
    (lambda: random_pairs(10, 10, p=1.5), "p"),
    (lambda: Synapses.from_pairs([0, 0], [1, 1], 1.0, 2, 2), "more than one synapse"),
    (lambda: Synapses.from_pairs([0], [3], 1.0, 2, 2), "post"),
    (lambda: Synapses.from_pairs([0], [1], 1.0, 2, 2, delay=-1), "delay"),
    (lambda: izhikevich_reservoir(10, 2, scheme="rk4"), "scheme"),
    (lambda: izhikevich_reservoir(10, 2, delay=(3.0, 1.0)), "delay"),
    (lambda: lif_reservoir(10, 2, reset="soft"), "reset"),
])
def test_bad_arguments(call, name):
    with pytest.raises(ValueError, match=name):
        call()
