"""Least-squares references of the what/when task (spikegate.tasks.what_when_reference)."""

import math

import pytest
import torch

from spikegate.tasks.what_when_reference import BlockReference, PooledFeatures, pooled_bank


def _bump(t, centre, width=30.0):
    return torch.exp(-0.5 * ((t - centre) / width) ** 2)


def _trials(gen, n_trials, n_feat, noise, delay=200):
    """Features that carry the target linearly (plus noise), cue at 50, outcome at 50 + delay."""
    t = torch.arange(400, dtype=torch.float64)
    y = _bump(t, 50 + delay)
    basis = torch.stack([_bump(t, c, 40.0) for c in torch.linspace(0, 400, n_feat)], 1)  # [T, n]
    gate = ((t >= 50) & (t <= 50 + delay + 60)).double()
    for _ in range(n_trials):
        yield basis + noise * torch.randn(basis.shape, generator=gen, dtype=torch.float64), y, gate


def test_reference_recovers_a_linear_target_on_held_out_trials():
    gen = torch.Generator().manual_seed(0)
    ref = BlockReference(fit_trials=20, tail=5)
    for i, (x, y, gate) in enumerate(_trials(gen, 30, 24, 0.01)):
        ref.add(0, x, y, gate, learning=i % 3 != 2, outcome_free=i % 3 != 0, window=(50, 250))
    ref.finish()
    r = ref.results[0]
    assert r["peak_error_ms"] <= 2 and r["r2"] > 0.99
    assert r["test_trials"] == 5 and r["fit_trials"] == sum(1 for i in range(20) if i % 3 != 2)
    assert r["lambda"] <= 1.0  # little noise: cross-validation picks a weak ridge
    assert ref.traces[0].shape == (400,)


def test_reference_on_noise_explains_nothing_and_blocks_are_separate():
    gen = torch.Generator().manual_seed(1)
    ref = BlockReference(fit_trials=15, tail=6)
    for block, noise in ((0, 0.01), (1, None)):
        for x, y, gate in _trials(gen, 25, 16, 0.01):
            if noise is None:  # features unrelated to the target
                x = torch.randn(x.shape, generator=gen, dtype=torch.float64)
            ref.add(block, x, y, gate, learning=True, outcome_free=True, window=(50, 250))
    ref.finish()
    assert ref.results[0]["r2"] > 0.99
    assert ref.results[1]["r2"] < 0.05 and ref.results[1]["lambda"] >= 100  # noise: a strong ridge wins
    with pytest.raises(ValueError):
        BlockReference(fit_trials=3, folds=5)


def test_too_few_trials_give_no_reference():
    ref = BlockReference(fit_trials=10, tail=5)
    gen = torch.Generator().manual_seed(2)
    for x, y, gate in _trials(gen, 3, 8, 0.1):
        ref.add(0, x, y, gate, learning=True, outcome_free=False, window=(50, 250))
    ref.finish()
    assert ref.results == {}


def test_pooled_features_keep_each_stimulus_in_its_own_filters():
    bank = pooled_bank(3, 0.5)
    k = bank.tau_decay.numel() // 3
    assert k == 24 and math.isclose(float(bank.tau_decay[:12].min()), 20.0) and math.isclose(float(bank.tau_decay.max()), 2000.0)
    assert torch.equal(bank.tau_rise[:12], torch.full((12,), 2.0, dtype=torch.float64))
    subsets = [[0, 1], [2, 3], [4, 5]]
    quiet = torch.zeros(800, 6)
    quiet[::40, :] = 1  # the same background in every neuron
    quiet[::23, 0] = 1
    burst = quiet.clone()
    burst[300:320, 2:4] = 1  # only stimulus 1's neurons fire, after the 100 ms baseline
    a, b = (PooledFeatures(subsets, dt=0.5, every=2) for _ in range(2))
    a.trial(quiet), b.trial(quiet)
    x, base = a.trial(burst), b.trial(quiet)
    changed = (x - base).abs().amax(0) > 1e-9
    assert x.shape == (400, 3 * k) and changed[k:2 * k].all() and not changed[:k].any() and not changed[2 * k:].any()


def test_fit_and_validation_error_from_moments_equal_the_direct_computation():
    gen = torch.Generator().manual_seed(3)
    ref = BlockReference(fit_trials=10, tail=2, folds=2)
    xs, ys = [], []
    for i in range(4):
        x = 5.0 + torch.randn(30, 4, generator=gen, dtype=torch.float64) * torch.tensor([1.0, 10.0, 0.5, 3.0])
        y = 2.0 + x @ torch.tensor([0.3, -0.1, 2.0, 0.0], dtype=torch.float64) + 0.1 * torch.randn(30, generator=gen, dtype=torch.float64)
        ref.add(0, x, y, torch.ones(30), learning=True, outcome_free=False, window=(0, 30))
        xs.append(x), ys.append(y)
    lam = 0.5
    w, c = ref._solve(ref._others(1), lam)  # fit on fold 0 = trials 0 and 2
    x, y = torch.cat([xs[0], xs[2]]), torch.cat([ys[0], ys[2]])
    mu, sd = x.mean(0), x.std(0, unbiased=False)
    xt = (x - mu) / sd
    wt = torch.linalg.solve(xt.T @ xt + lam * torch.eye(4, dtype=torch.float64), xt.T @ (y - y.mean()))
    assert torch.allclose(w, wt / sd) and math.isclose(float(c), float(y.mean() - mu @ (wt / sd)), rel_tol=1e-9)
    held = torch.cat([xs[1], xs[3]]), torch.cat([ys[1], ys[3]])
    direct = float((held[1] - c - held[0] @ w).pow(2).sum())
    assert math.isclose(ref._error((w, c), 1), direct, rel_tol=1e-9)


def test_a_feature_silent_in_the_fitted_trials_is_not_magnified():
    """A sparse feature nearly constant over the fitted samples, then active in the test trials,
    must not make the read-out explode (its spread is floored before standardising)."""
    gen = torch.Generator().manual_seed(4)
    ref = BlockReference(fit_trials=20, tail=5)
    for i, (x, y, gate) in enumerate(_trials(gen, 30, 12, 0.05)):
        sparse = torch.zeros(len(y), 1, dtype=torch.float64)
        if i < 20:
            sparse[100 + i, 0] = 1e-4 * torch.randn(1, generator=gen, dtype=torch.float64)  # a whisper, fitted
        else:
            sparse[:, 0] = 1.0  # active throughout the test trials
        ref.add(0, torch.cat([x, sparse], 1), y, gate, learning=i < 20, outcome_free=i >= 20, window=(50, 250))
    ref.finish()
    assert ref.results[0]["r2"] > 0.5 and float(ref.traces[0].abs().max()) < 2.0
