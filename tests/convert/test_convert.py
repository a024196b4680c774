"""to_snn: exact QAT conversion of every component and of a CNN, training-free operator error
budgets (CONVERSION.md A4), refusal of unsupported layers, calibration, plots."""

import math

import pytest
import torch
from torch import nn

from spikegate.convert import ConversionError, SpikingNetwork, ann, budget, prepare_qat, thresholds, to_snn
from spikegate.convert.ann.base import TokenComponent
from spikegate.neurons import Sequential

L, B, D = 10, 3, 16


def _cnn():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Conv2d(4, 8, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(8 * 2 * 2, 12),
        nn.ReLU(),
        nn.Dropout(0.1),
        nn.Linear(12, 5),
    )


def _seq(*blocks):
    return Sequential(nn.Linear(6, D), *blocks, ann.SequencePool(), nn.Linear(D, 4))


COMPONENTS = {
    "gated_attention": lambda: ann.GatedAttention(D, 4),
    "headwise_gate": lambda: ann.GatedAttention(D, 4, gate="headwise"),
    "attention_no_gate": lambda: ann.GatedAttention(D, 2, gate="none"),
    "gla": lambda: ann.GatedLinearAttention(D, 2, chunk_size=4),
    "topk_moe": lambda: ann.TopKMoE(D, 8, 2, 12),
    "dense_to_sparse": lambda: ann.DenseToSparseGate(D, 6, activation="sigmoid"),
    "d2s_routed_moe": lambda: ann.TopKMoE(D, 4, 1, 8, router=ann.DenseToSparseGate(D, 4, activation="tanh")),
    "gam": lambda: ann.GatedAssociativeMemory(D, memory_size=24),
    "mlp": lambda: ann.MLP(D, 20),
    "model": lambda: _seq(
        ann.PreNormResidual(nn.RMSNorm(D), ann.GatedAttention(D, 2)),
        ann.PreNormResidual(nn.LayerNorm(D), ann.TopKMoE(D, 4, 2, 8)),
        ann.PreNormResidual(nn.RMSNorm(D), ann.GatedLinearAttention(D, 2)),
    ),
}


def _out(y):
    return y[0] if isinstance(y, tuple) else y


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", list(COMPONENTS))
def test_qat_snn_equals_quantized_ann(name, dtype):
    torch.manual_seed(0)
    model = COMPONENTS[name]().to(dtype)
    x = torch.randn(L, B, 6 if name == "model" else D, dtype=dtype)
    qann = prepare_qat(model, x, levels=8)
    snn = to_snn(qann, None, T=8, mode="qat")
    y, y_snn = _out(qann(x)), snn.infer(x)
    assert y_snn.shape == y.shape
    assert (y_snn - y).abs().max() <= 1e-5 * y.abs().max()


def test_qat_move_equals_quantized_ann():
    torch.manual_seed(0)
    layer = ann.MoVE(ann.ValueEmbeddingBank(13, 3, D), n_heads=2)
    nn.init.normal_(layer.router.weight)
    v, h, tokens = torch.randn(L, B, D), torch.randn(L, B, D), torch.randint(0, 13, (L, B))
    qann = prepare_qat(layer, (v, h, tokens), levels=16)
    y = qann(v, h, tokens)
    y_snn = to_snn(qann, None, T=16, mode="qat").infer(v, h, tokens)
    assert (y_snn - y).abs().max() <= 1e-5 * y.abs().max()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_qat_cnn_equals_quantized_ann_and_t_below_levels_degrades(dtype):
    torch.manual_seed(0)
    cnn = _cnn().to(dtype)
    x = torch.rand(16, 1, 8, 8, dtype=dtype)
    cnn.train()
    cnn(x)  # non-trivial BatchNorm statistics
    cnn.eval()
    qann = prepare_qat(cnn, x, levels=8).eval()
    y = qann(x)
    snn = to_snn(qann, None, T=8, mode="qat")
    assert (snn.infer(x) - y).abs().max() <= 1e-5 * y.abs().max()
    assert not torch.allclose(to_snn(qann, None, T=4, mode="qat").infer(x), y, atol=1e-3)
    assert sum(isinstance(m, nn.ReLU) for m in qann.modules()) == 0


def test_step_timing_approaches_the_ann_as_t_grows():
    torch.manual_seed(0)
    cnn = _cnn().eval()
    x = torch.rand(32, 1, 8, 8)
    y = cnn(x)
    err = [
        ((to_snn(cnn, x, T, timing="step").infer(x) - y).norm() / y.norm()).item() for T in (4, 16, 64)
    ]
    assert err[0] > err[1] > err[2] and err[2] < 0.1


def test_window_calibrated_cnn_error_halves_per_doubling():
    torch.manual_seed(0)
    cnn = _cnn().eval()
    x_cal, x = torch.rand(64, 1, 8, 8), torch.rand(64, 1, 8, 8)
    y = cnn(x)
    err = [((to_snn(cnn, x_cal, T, method="mse").infer(x) - y).norm() / y.norm()).item() for T in (8, 16, 32)]
    assert err[1] < 0.7 * err[0] and err[2] < 0.7 * err[1]


# ---- training-free operator error budgets (CONVERSION.md A4), held-out Gaussian activations


@pytest.mark.parametrize("T, bound", [(8, 0.15), (16, 0.08), (32, 0.04)])
def test_sigmoid_gate_training_free_error(T, bound):
    assert budget.gate_budget(T) <= bound


@pytest.mark.parametrize("T, bound", [(8, 0.85), (16, 0.92), (32, 0.96)])
def test_top2_of_8_router_agreement_training_free(T, bound):
    assert budget.router_budget(T) >= bound


@pytest.mark.parametrize("T, bound", [(8, 0.21), (16, 0.11), (32, 0.06)])
def test_gla_training_free_error_on_512_tokens(T, bound):
    assert budget.gla_budget(T, length=512) <= bound


def test_budget_errors_shrink_with_t_and_percentile_is_worse_at_low_t():
    assert budget.gate_budget(4, n=1000) > 1.5 * budget.gate_budget(16, n=1000)
    assert budget.gla_budget(8, method="percentile", length=64) > budget.gla_budget(8, length=64)


# ---- errors, calibration, plots


class Custom(nn.Module):
    def forward(self, x):
        return x


class BadComponent(TokenComponent):
    def __init__(self):
        super().__init__()
        self.inner = Custom()

    def compute(self, ops, x, state=None):
        return self.inner(x), None


@pytest.mark.parametrize(
    "model, path, layer",
    [
        (nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2)), "2", "MaxPool2d"),
        (nn.Sequential(nn.Linear(3, 3), nn.Sequential(nn.ReLU(), Custom())), "1.1", "Custom"),
        (BadComponent(), "inner", "Custom"),
    ],
)
def test_unsupported_layers_are_named(model, path, layer):
    x = torch.rand(4, 1, 6, 6) if path == "2" else torch.rand(4, 3)
    for m in model.modules():  # every ReLU site active on the calibration data, whatever the random weights
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.constant_(m.bias, m.weight.abs().sum(tuple(range(1, m.weight.dim()))).max().item() + 1.0)
    with pytest.raises(ConversionError) as e:
        to_snn(model, x, 8)
    message = str(e.value)
    assert f"{path!r} ({layer})" in message and "supported: " in message and "AvgPool2d" in message
    assert e.value.path == path and e.value.layer == layer


def test_mode_mismatches_are_refused():
    mlp = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    x = torch.randn(20, 3)
    with pytest.raises(ValueError, match="prepare_qat"):
        to_snn(mlp, None, 8, mode="qat")
    qat = prepare_qat(mlp, x, levels=4)
    with pytest.raises(ValueError, match="use mode='qat'"):
        to_snn(qat, x, 4)
    with pytest.raises(ValueError, match="pass None"):
        to_snn(qat, x, 4, mode="qat")
    gla = prepare_qat(ann.GatedLinearAttention(8, 2), torch.randn(5, 2, 8), levels=4)
    gla.decay_bits = None
    with pytest.raises(ValueError, match="decay"):
        to_snn(gla, None, 4, mode="qat")
    with pytest.raises(ValueError, match="mode"):
        to_snn(mlp, x, 4, mode="exact")
    with pytest.raises(ValueError, match="calibration_data"):
        to_snn(mlp, [], 4)
    with pytest.raises(TypeError, match="model"):
        to_snn(lambda x: x, x, 4)
    with pytest.raises(ValueError, match="T"):
        to_snn(mlp, x, 0)


def test_the_ann_is_left_unchanged():
    torch.manual_seed(0)
    model = COMPONENTS["gla"]()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    snn = to_snn(model, torch.randn(6, 2, D), 8)
    assert isinstance(snn, SpikingNetwork) and model.decay_bits is None
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_percentile_thresholds():
    mlp = nn.Sequential(nn.Linear(1, 1, bias=False), nn.ReLU())
    nn.init.ones_(mlp[0].weight)
    x = torch.arange(1.0, 1001.0).unsqueeze(1)
    (r,) = thresholds(mlp, x, 8, percentile=99.0).values()
    assert r == 990.0
    (r_mse,) = thresholds(mlp, x, 8, method="mse").values()
    assert 700 < r_mse < 1000  # uniform values: close to the maximum, clipping trades a little


def test_calibration_batches_formats():
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    xs = [torch.randn(10, 3) for _ in range(3)]
    a = thresholds(mlp, xs, 8)
    b = thresholds(mlp, torch.cat(xs), 8)
    c = thresholds(mlp, iter([(x,) for x in xs]), 8)
    assert list(a.values()) == list(b.values()) == list(c.values())


def test_versus_steps_plot(tmp_path):
    from spikegate.plot import versus_steps

    path = tmp_path / "acc.png"
    fig = versus_steps({"snn": {4: 80.0, 8: 88.5, 16: 90.0}}, path, reference={"ANN": 91.0})
    assert path.stat().st_size > 1000 and fig.axes[0].get_xscale() == "log"
    with pytest.raises(ValueError, match="empty"):
        versus_steps({})


def test_count_ops_snn_saves_energy_on_a_sparse_cnn():
    from spikegate.convert import count_ops, energy

    torch.manual_seed(0)
    cnn = _cnn().eval()
    x = torch.rand(8, 1, 8, 8)
    snn = to_snn(cnn, x, 4)
    a, s = count_ops(cnn, x), snn.count_ops(x)
    assert a.ac == 0 and a.neuron == 0 and s.ac > 0 and s.neuron > 0
    assert s.mac < a.mac  # only the first layer (graded input, paid once) multiplies
    assert math.isfinite(energy(s) / energy(a))


def test_spiking_network_inputs():
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    snn = to_snn(mlp, torch.randn(20, 3), 5)
    x = torch.randn(6, 3)
    (train,) = snn.encode(x)
    assert train.shape == (5, 6, 3) and torch.equal(train[3], x)
    y, states = snn(train)
    assert y.shape == (5, 6, 2) and len(states) == 3 and states[1].v.shape == (6, 4)
    with pytest.raises(ValueError, match="one input"):
        snn(train, train)
    with pytest.raises(ValueError, match="inputs"):
        snn(torch.randn(3))
