"""Model presets, the SNN-LZC decision rules, the Tempotron rule on neuron modules, and the
STDP classifier, on small problems."""

import numpy as np
import pytest
import torch

from spikegate.io.synthetic import lzc_source
from spikegate.plasticity.tempotron import psp_kernel
from spikegate.tasks.lzc_classifier import SNNLZC, LZCDecision, output_complexity
from spikegate.tasks.snn import build_model, synaptic_gain
from spikegate.tasks.stdp_classifier import STDPClassifier, STDPConfig
from spikegate.tasks.tempotron_classifier import TempotronClassifier


@pytest.mark.parametrize("preset, features", [("mlp", (50,)), ("conv", (1, 12, 12)), ("conv", (2, 9, 9))])
@pytest.mark.parametrize("neuron", ["lif", "cuba", "meta"])
def test_presets_shapes_and_learnable_parameters(preset, features, neuron):
    fixed = build_model(preset, features, 3, neuron=neuron, hidden=(16,), channels=(4, 6))
    learn = build_model(preset, features, 3, neuron=neuron, hidden=(16,), channels=(4, 6), learnable=True,
                        readout="spikes")
    x = torch.rand(5, 2, *features)
    y, states = fixed(x, generator=torch.Generator().manual_seed(0))
    assert y.shape == (5, 2, 3) and len(states) == len(fixed.layers)
    assert learn(x)[0].shape == (5, 2, 3) and set(learn(x)[0].unique().tolist()) <= {0.0, 1.0}
    extra = {n for n, _ in learn.named_parameters()} - {n for n, _ in fixed.named_parameters()}
    assert extra and all(".raw" in n for n in extra)  # intrinsic parameters, per neuron


def test_static_input_runs_stateless_layers_once():
    torch.manual_seed(0)
    model = build_model("conv", (1, 8, 8), 4, channels=(3,), hidden=(8,)).eval()
    img = torch.rand(3, 1, 8, 8)
    expanded = img.unsqueeze(0).expand(6, *img.shape)
    torch.testing.assert_close(model(expanded)[0], model(expanded.contiguous())[0])


def test_synaptic_gain_scales_the_feeding_layer():
    torch.manual_seed(1)
    lif = build_model("mlp", (10,), 2, neuron="lif", hidden=(8,))
    torch.manual_seed(1)
    cuba = build_model("mlp", (10,), 2, neuron="cuba", hidden=(8,))
    g = synaptic_gain(cuba.layers[2])
    assert g == pytest.approx(0.2)
    torch.testing.assert_close(cuba.layers[1].weight, g * lif.layers[1].weight)


def test_lzc_decision_rules():
    c = torch.tensor([[0.1, 0.5], [0.2, 0.6], [0.9, 0.2], [0.8, 0.1]])
    y = torch.tensor([0, 0, 1, 1])
    for rule in ("prototype", "logistic"):
        assert LZCDecision(rule).fit(c, y, 2).predict(c).tolist() == [0, 0, 1, 1]
    assert LZCDecision("extreme").fit(c, y, 2).predict(c).tolist() == [1, 1, 0, 0]
    with pytest.raises(ValueError, match="one output neuron per class"):
        LZCDecision("extreme").fit(c[:, :1], y, 2)
    with pytest.raises(RuntimeError, match="fit"):
        LZCDecision().predict(c)


def test_snn_lzc_separates_rates_and_times_one_inference():
    g = torch.Generator().manual_seed(0)
    s = lzc_source("rate", 80, channels=20, steps=100, rates=(10.0, 60.0), generator=g)
    x = s.x.transpose(0, 1).float()
    torch.manual_seed(0)
    model = build_model("mlp", (20,), 2, hidden=(16,), readout="spikes")
    with torch.no_grad():  # a network whose output neuron 1 simply counts input spikes
        model.layers[1].weight.fill_(0.3)
        model.layers[3].weight.copy_(torch.tensor([[0.0] * 16, [0.03] * 16]))
        model.layers[3].bias.zero_()
    c = output_complexity(model, x)
    assert c.shape == (80, 2)
    clf = SNNLZC(model).fit(x, s.y, 2)
    assert (clf.predict(x) == s.y).double().mean() > 0.9
    assert clf.latency(x[:, :1], repeats=3, warmup=1) > 0
    with pytest.raises(ValueError, match="readout='spikes'"):
        output_complexity(build_model("mlp", (20,), 2), x)


def test_tempotron_rule_on_meta_neuron_is_the_gutig_sompolinsky_update():
    """One error update of the module rule equals Delta w_i ∝ K(t_max - t_i) with the
    Gütig-Sompolinsky kernel (the deterministic meta-neuron has its shape)."""
    clf = TempotronClassifier(4, 2, neuron="meta", tau_mem=15.0, tau_syn=3.75, dt=0.1)
    with torch.no_grad():
        clf.weight.fill_(0.01)
    x = torch.zeros(800, 1, 4)
    spike_steps = [50, 120, 300, 600]
    for i, k in enumerate(spike_steps):
        x[k, 0, i] = 1.0
    fired, t_max, _ = clf.decide(x)
    assert not fired.item()  # a missed ⊕ pattern
    loss, wrong = clf.cost(x, torch.tensor([1]))
    loss.backward()
    s = (t_max.item() - np.array(spike_steps)) * 0.1
    k = psp_kernel(s)
    grad = -clf.weight.grad[0].numpy()
    np.testing.assert_allclose(grad / grad.max(), k / k.max(), atol=0.03)  # the kernel sampled at 0.1 ms


@pytest.mark.parametrize("neuron, learnable", [("lif", False), ("meta", True)])
def test_tempotron_classifier_learns_a_rate_task(neuron, learnable):
    g = torch.Generator().manual_seed(0)
    s = lzc_source("rate", 120, channels=10, steps=80, rates=(10.0, 40.0), generator=g)
    x = s.x.transpose(0, 1).float()
    clf = TempotronClassifier(10, 2, neuron=neuron, learnable=learnable, generator=g)
    before = [p.detach().clone() for p in clf.cell.parameters()]
    history = clf.fit(x, s.y, epochs=15, lr=0.02, batch=16, generator=g)
    assert history[-1] < history[0]
    assert (clf.predict(x) == s.y).double().mean() > 0.85
    if learnable:
        assert any(not torch.equal(a, b) for a, b in zip(before, clf.cell.parameters()))


def test_tempotron_classifier_multiclass_one_vs_rest():
    clf = TempotronClassifier(6, 3)
    assert clf.weight.shape == (3, 6)
    with torch.no_grad():
        clf.weight.fill_(0.1)
    x = torch.zeros(20, 4, 6)
    for b, c in enumerate([0, 1, 2, 0]):
        x[5 + b, b, 2 * c:2 * c + 2] = 1.0
    y = torch.tensor([0, 1, 2, 0])
    history = clf.fit(x, y, epochs=50, lr=0.1, batch=4)
    assert history[-1] == 0
    assert clf.predict(x).tolist() == [0, 1, 2, 0]


@pytest.mark.parametrize("neuron, adaptive", [("lif", True), ("meta", False)])
def test_stdp_classifier_on_two_prototypes(neuron, adaptive):
    g = torch.Generator().manual_seed(0)
    proto = torch.zeros(2, 16)
    proto[0, :8], proto[1, 8:] = 1.0, 1.0
    y = torch.randint(0, 2, (60,), generator=g)
    x = (proto[y] * (0.6 + 0.4 * torch.rand(60, 16, generator=g))).reshape(60, 1, 4, 4)
    clf = STDPClassifier(16, 2, STDPConfig(n_exc=6, neuron=neuron, adaptive_threshold=adaptive, steps=30, batch=5),
                         generator=g)
    w0 = clf.w.clone()
    clf.fit(x, y, epochs=1)
    assert not torch.equal(w0, clf.w) and float(clf.w.min()) >= 0.0 and float(clf.w.max()) <= 1.0
    torch.testing.assert_close(clf.w.sum(1), torch.full((6,), 1.6, dtype=torch.float64))
    assert (clf.predict(x) == y).double().mean() > 0.9
    assert set(clf.assignment.tolist()) == {0, 1}


def _fixed_layer(weights, **config):
    clf = STDPClassifier(weights.shape[1], 2, STDPConfig(n_exc=weights.shape[0], steps=40, max_prob=1.0,
                                                         w_sum_per_input=1.0, **config))
    clf.w = weights.to(torch.float64)
    return clf


def test_stdp_inhibition_keeps_the_best_match_winning():
    # neuron 0 matches the input best, neuron 1 almost as well: without inhibition they take turns
    w = torch.tensor([[1.0, 1.0, 1.0, 0.1], [1.0, 1.0, 0.8, 0.1], [0.0, 0.1, 0.0, 1.0]])
    x = torch.tensor([[1.0, 1.0, 1.0, 0.0]]).reshape(1, 1, 2, 2)  # rate 1: a spike per step
    free = _fixed_layer(w, inhibition=0.0, norm_gain=False).responses(x)[0]
    inhibited = _fixed_layer(w, inhibition=2.0, norm_gain=False).responses(x)[0]
    assert free[1] > 0.5 * free[0] > 0  # the runner-up fires about as often
    assert inhibited[0] > 0 and inhibited[1] == 0 and inhibited[2] == 0
    with pytest.raises(ValueError, match="inhibition"):
        STDPConfig(inhibition=-1.0)


def test_stdp_norm_gain_ranks_by_cosine():
    # equal weight sums and equal dot products with x; neuron 1 spreads its weight like x does
    w = torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.5, 0.5, 0.5, 0.5]])
    x = torch.ones(1, 1, 2, 2)
    by_dot = _fixed_layer(w[[1, 0]], norm_gain=False, inhibition=10.0).responses(x)[0]
    by_cos = _fixed_layer(w, norm_gain=True, inhibition=10.0).responses(x)[0]
    assert by_cos[0] == 0 and by_cos[1] > 0
    assert by_dot[0] > 0 and by_dot[1] == 0  # a tie without it: the first listed wins


def test_bad_arguments():
    with pytest.raises(ValueError, match="conv preset needs image"):
        build_model("conv", (50,), 2)
    with pytest.raises(ValueError, match="neuron"):
        build_model("mlp", (5,), 2, neuron="izh")
    with pytest.raises(ValueError, match="n_exc"):
        STDPConfig(n_exc=0)
    with pytest.raises(ValueError, match="x has features"):
        TempotronClassifier(3, 2).potentials(torch.zeros(4, 1, 5))
