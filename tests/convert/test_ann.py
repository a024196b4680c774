"""The ANN components: equations, shapes, causality, the GLA forms, routing and gates."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from spikegate.convert import ann


def _gla_inputs(L, batch=(2, 3), dk=8, dv=5, min_alpha=1e-3, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(L, *batch, dk, generator=g, dtype=dtype)
    k = torch.randn(L, *batch, dk, generator=g, dtype=dtype)
    v = torch.randn(L, *batch, dv, generator=g, dtype=dtype)
    alpha = min_alpha + (1 - min_alpha) * torch.rand(L, *batch, dk, generator=g, dtype=dtype)
    return q, k, v, alpha.log()


@pytest.mark.parametrize("chunk", [1, 16, 64, 1000])
@pytest.mark.parametrize("L", [1, 63, 200])
def test_gla_chunked_equals_recurrent(L, chunk):
    q, k, v, la = _gla_inputs(L)
    o_r, s_r = ann.gla_recurrent(q, k, v, la)
    o_c, s_c = ann.gla_chunked(q, k, v, la, chunk_size=chunk)
    assert (o_r - o_c).abs().max() <= 1e-5
    assert (s_r - s_c).abs().max() <= 1e-5


def test_gla_continues_from_state():
    q, k, v, la = _gla_inputs(50)
    o, s = ann.gla_chunked(q, k, v, la, chunk_size=16)
    o1, s1 = ann.gla_recurrent(q[:20], k[:20], v[:20], la[:20])
    o2, s2 = ann.gla_chunked(q[20:], k[20:], v[20:], la[20:], chunk_size=16, state=s1)
    assert torch.allclose(torch.cat([o1, o2]), o, atol=1e-5)
    assert torch.allclose(s2, s, atol=1e-5)


def test_gla_matches_a_hand_written_two_step_example():
    q = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]]])  # [L=2, B=1, d_k=2]
    k = torch.tensor([[[1.0, 2.0]], [[3.0, 0.0]]])
    v = torch.tensor([[[1.0]], [[2.0]]])
    alpha = torch.tensor([[[0.5, 0.5]], [[0.5, 0.25]]])
    o, s = ann.gla_recurrent(q, k, v, alpha.log())
    # S1 = k1^T v1 = [[1], [2]]; o1 = q1 S1 = 1; S2 = diag(.5, .25) S1 + k2^T v2 = [[6.5], [0.5]]; o2 = 0.5
    assert torch.allclose(o.flatten(), torch.tensor([1.0, 0.5]))
    assert torch.allclose(s.flatten(), torch.tensor([6.5, 0.5]))


@pytest.mark.parametrize("mode", ["recurrent", "chunked"])
def test_gla_layer_forms_agree_and_gate_is_in_unit_interval(mode):
    torch.manual_seed(0)
    layer = ann.GatedLinearAttention(32, n_heads=2, chunk_size=7)
    x = torch.randn(30, 3, 32)
    y_chunk, st = layer(x)
    layer.mode = mode
    y, st2 = layer(x)
    assert torch.allclose(y, y_chunk, atol=1e-5) and torch.allclose(st.s, st2.s, atol=1e-5)
    assert st.s.shape == (3, 2, 8, 16)
    log_a = F.logsigmoid(layer._heads(layer.wa2(layer.wa1(x)))) / 16
    assert bool((log_a < 0).all()) and bool((log_a.exp() > 0).all())
    assert layer.wa1.out_features == 16


def test_quantize_decay_is_on_the_12_bit_grid():
    la = torch.linspace(-3, -1e-6, 1000).unsqueeze(-1)
    aq = ann.quantize_decay(la, 12).exp()
    grid = aq * 4096
    assert torch.allclose(grid, grid.round(), atol=1e-3)
    assert (aq - la.exp()).abs().max() <= 0.5 / 4096 + 1e-6


@pytest.mark.parametrize("gate", ["elementwise", "headwise"])
def test_gated_attention_gate_with_zero_weights_is_sigmoid_of_bias(gate):
    torch.manual_seed(0)
    layer = ann.GatedAttention(16, 4, gate=gate)
    nn.init.zeros_(layer.wg.weight)
    nn.init.constant_(layer.wg.bias, 0.7)
    g = layer.gate_values(torch.randn(5, 2, 16))
    assert g.shape == (5, 2, 4, 4 if gate == "elementwise" else 1)
    assert torch.allclose(g, torch.full_like(g, torch.sigmoid(torch.tensor(0.7)).item()))


def test_gated_attention_without_gate_is_causal_sdpa():
    torch.manual_seed(0)
    layer = ann.GatedAttention(16, 4, gate="none")
    x = torch.randn(9, 2, 16)
    y, _ = layer(x)

    def heads(t):
        return t.view(9, 2, 4, 4).permute(1, 2, 0, 3)

    o = F.scaled_dot_product_attention(heads(layer.wq(x)), heads(layer.wk(x)), heads(layer.wv(x)), is_causal=True)
    assert torch.allclose(y, layer.wo(o.permute(2, 0, 1, 3).reshape(9, 2, 16)), atol=1e-6)


@pytest.mark.parametrize(
    "make",
    [
        lambda: ann.GatedAttention(16, 4),
        lambda: ann.GatedLinearAttention(16, 2),
        lambda: ann.GatedAssociativeMemory(16, memory_size=8),
    ],
    ids=["attention", "gla", "gam"],
)
def test_sequence_components_are_causal(make):
    torch.manual_seed(0)
    layer = make()
    x = torch.randn(10, 2, 16)
    y, _ = layer(x)
    x2 = x.clone()
    x2[6:] += torch.randn_like(x2[6:])
    y2, _ = layer(x2)
    assert torch.equal(y[:6], y2[:6])
    assert not torch.allclose(y[6:], y2[6:])


def test_gam_retrieval_rows_sum_to_one_and_state_continues():
    torch.manual_seed(0)
    layer = ann.GatedAssociativeMemory(16, memory_size=12, kernel_size=3)
    x = torch.randn(11, 2, 16)
    w = layer.retrieval_weights(x)
    assert w.shape == (11, 2, 12) and torch.allclose(w.sum(-1), torch.ones(11, 2))
    y, st = layer(x)
    y1, s1 = layer(x[:4])
    y2, _ = layer(x[4:], s1)
    assert st.context.shape == (2, 2, 16)
    assert torch.allclose(torch.cat([y1, y2]), y, atol=1e-6)


def test_topk_moe_matches_the_dense_formula_and_balance_loss():
    torch.manual_seed(0)
    moe = ann.TopKMoE(8, n_experts=5, k=2, d_hidden=6)
    x = torch.randn(4, 3, 8)
    with ann.aux_losses() as aux:
        y = moe(x)
    idx, w = moe.routing(x)
    assert torch.allclose(w.sum(-1), torch.ones(12))
    logits = moe.router.proj(x.reshape(12, 8))
    assert torch.equal(idx, logits.topk(2).indices)
    dense = torch.stack([e(x.reshape(12, 8)) for e in moe.experts], 1)  # [N, E, d]
    gates = torch.zeros(12, 5).scatter(1, idx, w)
    assert torch.allclose(y.reshape(12, 8), (gates.unsqueeze(-1) * dense).sum(1), atol=1e-6)
    (name, loss), = aux
    f = torch.bincount(idx.flatten(), minlength=5).float() / idx.numel()
    assert name == "load_balance"
    assert torch.allclose(loss, 5 * (f * torch.softmax(logits, -1).mean(0)).sum())


def test_balance_loss_is_one_for_a_uniform_router():
    logits = torch.zeros(20, 4)
    idx = torch.randint(0, 4, (20, 2))
    assert torch.allclose(ann.load_balancing_loss(logits, idx, 4), torch.tensor(1.0))


@pytest.mark.parametrize("schedule", ["exponential", "linear"])
def test_dense_to_sparse_schedule_and_sparsity(schedule):
    torch.manual_seed(0)
    gate = ann.DenseToSparseGate(8, 6, activation="tanh", tau_start=4.0, tau_end=0.05, anneal_steps=10, schedule=schedule)
    assert gate.temperature(0) == pytest.approx(4.0) and gate.temperature(25) == pytest.approx(0.05)
    mid = 4.0 * (0.05 / 4.0) ** 0.5 if schedule == "exponential" else (4.0 + 0.05) / 2
    assert gate.temperature(5) == pytest.approx(mid)
    x = torch.randn(50, 8)
    dense = gate(x)
    gate.anneal(10)
    sparse = gate(x)
    assert torch.allclose(dense.sum(-1), torch.ones(50)) and torch.allclose(sparse.sum(-1), torch.ones(50))
    assert sparse.max(-1).values.mean() > dense.max(-1).values.mean() + 0.3


def test_activation_gate_bounds_the_scores():
    torch.manual_seed(0)
    gate = ann.DenseToSparseGate(4, 3, activation="sigmoid", tau_start=1.0)
    nn.init.constant_(gate.proj.weight, 100.0)
    g = gate(torch.ones(2, 4))  # sigmoid saturates at 1 for every expert: uniform gate
    assert torch.allclose(g, torch.full_like(g, 1 / 3))


def test_dense_to_sparse_gate_routes_a_moe():
    torch.manual_seed(0)
    moe = ann.TopKMoE(8, 4, 1, 6, router=ann.DenseToSparseGate(8, 4, tau_start=0.5))
    x = torch.randn(7, 8)
    idx, w = moe.routing(x)
    assert torch.allclose(w, torch.ones(7, 1)) and moe(x).shape == (7, 8)
    with pytest.raises(TypeError, match="router"):
        ann.TopKMoE(8, 4, 1, 6, router=nn.Linear(8, 4))


def test_move_with_zero_router_adds_the_bank_rows():
    torch.manual_seed(0)
    bank = ann.ValueEmbeddingBank(vocab_size=11, n_slots=3, d_model=8)
    layer = ann.MoVE(bank, n_heads=2)
    v, h = torch.randn(5, 2, 8), torch.randn(5, 2, 8)
    tokens = torch.randint(0, 11, (5, 2))
    assert torch.allclose(layer(v, h, tokens), v + bank(tokens).sum(-2), atol=1e-6)
    with pytest.raises(TypeError, match="integer"):
        bank(torch.zeros(3))


@pytest.mark.parametrize("signed", [False, True])
def test_qcfs_levels_and_gradients(signed):
    q = ann.ActQuant(signed=signed, levels=4, lam=2.0)
    x = torch.linspace(-3, 3, 61, requires_grad=True)
    y = q(x)
    n = y.detach() / 0.5
    assert torch.allclose(n, n.round()) and n.max() == 4 and n.min() == (-4 if signed else 0)
    assert torch.allclose(y[x.detach().abs() < 0.25], torch.zeros(()))  # rounds to 0 below half a step
    y.sum().backward()
    assert x.grad.abs().sum() > 0 and q.lam.raw.grad is not None


def test_float_sites_are_relu_and_identity():
    x = torch.randn(10)
    assert torch.equal(ann.ActQuant(signed=False)(x), x.relu())
    assert torch.equal(ann.ActQuant(signed=True)(x), x)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ann.GatedAttention(10, 3), "divide"),
        (lambda: ann.GatedAttention(8, 2, gate="sparse"), "gate"),
        (lambda: ann.GatedLinearAttention(8, 3), "multiples"),
        (lambda: ann.TopKMoE(8, 2, 3, 4), "k"),
        (lambda: ann.DenseToSparseGate(8, 2, tau_end=0.0), "tau_end"),
        (lambda: ann.ActQuant(levels=0), "levels"),
        (lambda: ann.GatedAttention(8, 2)(torch.randn(3, 1, 8), state=torch.zeros(1)), "state"),
    ],
)
def test_bad_arguments_are_named(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()

