import math

import pytest
import torch

from spikegate.plasticity import FORCE, ThreeFactor

F64 = torch.float64


def test_eligibility_trace_closed_form():
    rule = ThreeFactor(eta=0.0, tau_e=50.0, dt=1.0)
    pre, post = torch.tensor([[2.0, 0.5]], dtype=F64), torch.tensor([[3.0]], dtype=F64)
    w = torch.zeros(1, 2, dtype=F64)
    state = rule.initial_state(1, 2, 1)
    for _ in range(40):
        _, state = rule.step(pre, post, 1.0, 1.0, w, state)
    expect = (1 - math.exp(-40 / 50.0)) * torch.tensor([[6.0, 1.5]], dtype=F64)
    torch.testing.assert_close(state.eligibility[0], expect, rtol=1e-12, atol=0)


def test_gate_and_decay():
    rule = ThreeFactor(eta=0.1, tau_e=20.0, decay=0.01, dt=1.0)
    g = torch.Generator().manual_seed(0)
    pre = torch.rand(1, 5, generator=g, dtype=F64)
    w = torch.ones(2, 5, dtype=F64)
    state = rule.initial_state(1, 5, 2)
    dw, _ = rule.step(pre, torch.ones(1, 2, dtype=F64), torch.tensor([[1.0, -1.0]], dtype=F64), 0.0, w, state)
    torch.testing.assert_close(dw, -0.01 * w)  # gate closed: only the decay acts


def test_online_rule_learns_a_linear_target():
    """With pre = features, post = 1, E = y* - z and the gate open, the rule is a delta rule
    on low-passed features; on a realisable target it drives the error to ~0."""
    g = torch.Generator().manual_seed(1)
    n, steps = 20, 10000
    w_true = torch.randn(1, n, generator=g, dtype=F64)
    rule = ThreeFactor(eta=0.1, tau_e=2.0, dt=1.0)
    w = torch.zeros(1, n, dtype=F64)
    state = rule.initial_state(1, n, 1)
    errors = []  # at the first step of each new feature vector: the generalisation error
    for t in range(steps):
        if t % 50 == 0:
            x = torch.rand(1, n, generator=g, dtype=F64) - 0.5  # piecewise-constant features
        err = x @ w_true.T - x @ w.T
        if t % 50 == 0:
            errors.append(err.abs().item())
        dw, state = rule.step(x, torch.ones(1, 1, dtype=F64), err, 1.0, w, state)
        w = w + dw
    assert sum(errors[:10]) > 20 * sum(errors[-10:])


def test_offline_consolidation_sums_the_online_changes():
    g = torch.Generator().manual_seed(2)
    rule = ThreeFactor(eta=0.5, tau_e=30.0, decay=1e-3, dt=0.5, w_min=-0.2, w_max=0.2)
    w = torch.zeros(3, 8, dtype=F64)
    state = rule.initial_state(2, 8, 3)
    total = torch.zeros_like(w)
    online = rule.initial_state(2, 8, 3)
    for _ in range(100):
        pre = torch.rand(2, 8, generator=g, dtype=F64)
        post = torch.rand(2, 3, generator=g, dtype=F64)
        err = torch.randn(2, 3, generator=g, dtype=F64)
        gate = (torch.rand(3, generator=g) < 0.5).to(F64)
        state = rule.accumulate(pre, post, err, gate, w, state)
        dw, online = rule.step(pre, post, err, gate, w, online)  # same fixed weights
        total += dw
    dw, state = rule.consolidate(w, state)
    assert bool((state.pending == 0).all())
    torch.testing.assert_close(dw, total.clamp(-0.2, 0.2), rtol=1e-12, atol=1e-15)
    assert bool((dw.abs() == 0.2).any())  # the bounds were reached


def test_batch_sums_its_samples():
    g = torch.Generator().manual_seed(3)
    rule = ThreeFactor(eta=0.01, tau_e=10.0)
    w = torch.randn(2, 4, generator=g, dtype=F64)
    pre, post, err = (torch.rand(3, k, generator=g, dtype=F64) for k in (4, 2, 2))
    dw, _ = rule.step(pre, post, err, 1.0, w, rule.initial_state(3, 4, 2))
    parts = [rule.step(pre[b:b + 1], post[b:b + 1], err[b:b + 1], 1.0, w, rule.initial_state(1, 4, 2))[0]
             for b in range(3)]
    torch.testing.assert_close(dw, sum(parts), rtol=1e-12, atol=1e-15)


def test_force_is_recursive_least_squares():
    """After k updates, P = (alpha I + sum r r^T)^-1 and W is the ridge solution."""
    g = torch.Generator().manual_seed(4)
    n, m, k, alpha = 12, 2, 40, 0.5
    force = FORCE(alpha=alpha)
    w_true = torch.randn(m, n, generator=g, dtype=F64)
    feats = torch.randn(k, n, generator=g, dtype=F64)
    w, state = torch.zeros(m, n, dtype=F64), force.initial_state(n)
    for r in feats:
        dw, state = force.step(r, w_true @ r, w, state)
        w = w + dw
    gram = alpha * torch.eye(n, dtype=F64) + feats.T @ feats
    torch.testing.assert_close(state.p, torch.linalg.inv(gram), rtol=1e-9, atol=1e-12)
    ridge = torch.linalg.solve(gram, feats.T @ (feats @ w_true.T)).T
    torch.testing.assert_close(w, ridge, rtol=1e-9, atol=1e-10)
    assert state.updates == k
    fresh = force.reset(state)
    assert fresh.updates == 0 and torch.equal(fresh.p, torch.eye(n, dtype=F64) / alpha)


@pytest.mark.parametrize("call, name", [
    (lambda: ThreeFactor(tau_e=0.0), "tau_e"),
    (lambda: ThreeFactor(eta=-1.0), "eta"),
    (lambda: ThreeFactor(w_min=1.0, w_max=0.0), "w_min"),
    (lambda: FORCE(alpha=0.0), "alpha"),
    (lambda: ThreeFactor().step(torch.zeros(1, 3), torch.zeros(1, 2), 0.0, 1.0, torch.zeros(3, 2),
                                ThreeFactor().initial_state(1, 3, 2)), "weight"),
    (lambda: ThreeFactor().step(torch.zeros(1, 3), torch.zeros(1, 2), torch.zeros(4), 1.0, torch.zeros(2, 3),
                                ThreeFactor().initial_state(1, 3, 2)), "error"),
    (lambda: FORCE().step(torch.zeros(3), torch.zeros(2), torch.zeros(2, 3), FORCE().initial_state(4)), "features"),
])
def test_bad_arguments(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_accumulate_sequence_equals_stepwise_accumulation():
    g = torch.Generator().manual_seed(5)
    rule = ThreeFactor(eta=0.3, tau_e=15.0, decay=1e-3, dt=0.5)
    t_len, b, n, m = 120, 2, 6, 3
    pre, post, err = (torch.randn(t_len, b, k, generator=g, dtype=F64) for k in (n, m, m))
    gate = (torch.rand(t_len, b, m, generator=g) < 0.6).to(F64)
    w = torch.randn(m, n, generator=g, dtype=F64)
    start = rule.initial_state(b, n, m)
    start = start._replace(eligibility=torch.randn(b, m, n, generator=g, dtype=F64))
    stepwise = start
    for t in range(t_len):
        stepwise = rule.accumulate(pre[t], post[t], err[t], gate[t], w, stepwise)
    whole = rule.accumulate_sequence(pre, post, err, gate, w, start)
    torch.testing.assert_close(whole.pending, stepwise.pending, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(whole.eligibility, stepwise.eligibility, rtol=1e-10, atol=1e-12)
