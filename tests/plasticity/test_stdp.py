import math

import pytest
import torch

from spikegate.plasticity import TRIPLET_PRESETS, PairSTDP, TripletSTDP

F64 = torch.float64


def _trains(steps: int, n: int, times: dict[int, list[int]], batch: int = 1) -> torch.Tensor:
    s = torch.zeros(steps, batch, n, dtype=F64)
    for unit, ts in times.items():
        s[ts, 0, unit] = 1.0
    return s


def _pair(rule, t_pre: list[int], t_post: list[int], w0: float = 0.5, steps: int = 200) -> float:
    pre, post = _trains(steps, 1, {0: t_pre}), _trains(steps, 1, {0: t_post})
    w, _ = rule.run(pre, post, torch.full((1, 1), w0, dtype=F64))
    return w.item() - w0


@pytest.mark.parametrize("pairing", ["all_to_all", "nearest"])
@pytest.mark.parametrize("dt", [0.1, 1.0])
@pytest.mark.parametrize("lag", [-40, -7, -1, 0, 1, 7, 40])
def test_pair_window(pairing, dt, lag):
    """One pair, lag = t_post - t_pre in steps: +A+ exp(-lag dt/tau+) (lag >= 0), else -A- exp(lag dt/tau-)."""
    rule = PairSTDP(a_plus=0.01, a_minus=0.012, tau_plus=16.8, tau_minus=33.7, pairing=pairing, dt=dt)
    dw = _pair(rule, [60], [60 + lag])
    expect = 0.01 * math.exp(-lag * dt / 16.8) if lag >= 0 else -0.012 * math.exp(lag * dt / 33.7)
    assert dw == pytest.approx(expect, rel=1e-12)


@pytest.mark.parametrize("pairing, expect", [
    # pre at 10 and 20, post at 30 (dt = 1, tau = 20), then pre at 35
    ("all_to_all", 0.01 * (math.exp(-1.0) + math.exp(-0.5)) - 0.0105 * math.exp(-5 / 20)),
    ("nearest", 0.01 * math.exp(-0.5) - 0.0105 * math.exp(-5 / 20)),
])
def test_all_to_all_vs_nearest(pairing, expect):
    rule = PairSTDP(pairing=pairing, dt=1.0)
    assert _pair(rule, [10, 20, 35], [30]) == pytest.approx(expect, rel=1e-12)


@pytest.mark.parametrize("mu", [0.5, 1.0])
@pytest.mark.parametrize("w0", [0.2, 0.9])
def test_multiplicative_scales_with_distance_to_bound(mu, w0):
    rule = PairSTDP(a_plus=0.01, a_minus=0.01, weight_dependence="multiplicative", mu=mu, w_min=0.0, w_max=1.0)
    assert _pair(rule, [10], [15], w0) == pytest.approx(0.01 * math.exp(-5 / 20) * (1 - w0) ** mu, rel=1e-12)
    assert _pair(rule, [15], [10], w0) == pytest.approx(-0.01 * math.exp(-5 / 20) * w0**mu, rel=1e-12)


@pytest.mark.parametrize("rule", [
    PairSTDP(a_plus=0.3, a_minus=0.35, w_min=-0.2, w_max=0.7, dt=0.5),
    PairSTDP(a_plus=0.3, a_minus=0.35, pairing="nearest", weight_dependence="multiplicative", mu=0.7),
    TripletSTDP(a2_plus=0.1, a3_plus=0.2, a2_minus=0.3, a3_minus=0.1, w_min=0.0, w_max=0.5),
])
def test_bounds_and_mask_respected(rule):
    g = torch.Generator().manual_seed(3)
    steps, b, n_pre, n_post = 300, 2, 7, 5
    pre = (torch.rand(steps, b, n_pre, generator=g) < 0.2).to(F64)
    post = (torch.rand(steps, b, n_post, generator=g) < 0.2).to(F64)
    mask = torch.rand(n_post, n_pre, generator=g) < 0.6
    w = (rule.w_min + (rule.w_max - rule.w_min) * torch.rand(n_post, n_pre, generator=g, dtype=F64)) * mask
    w0 = w.clone()
    state = rule.initial_state(b, n_pre, n_post)
    hit_bounds = torch.zeros_like(w, dtype=torch.bool)
    for t in range(steps):
        dw, state = rule.step(pre[t], post[t], w, state, mask)
        w = w + dw
        # w + (w_new - w) equals w_new up to one rounding
        assert bool((w >= rule.w_min - 1e-15).all()) and bool((w <= rule.w_max + 1e-15).all())
        hit_bounds |= ((w - rule.w_min).abs() < 1e-15) | ((w - rule.w_max).abs() < 1e-15)
    assert torch.equal(w[~mask], w0[~mask])
    assert bool((w[mask] != w0[mask]).all())
    assert bool(hit_bounds[mask].any())


@pytest.mark.parametrize("rule", [PairSTDP(dt=0.5), TripletSTDP(**TRIPLET_PRESETS["visual_all_to_all_full"], dt=0.5)])
def test_batch_sums_samples(rule):
    """Away from the bounds, a batch changes the weights by the sum of its samples' changes."""
    g = torch.Generator().manual_seed(0)
    steps, b, n_pre, n_post = 200, 3, 6, 4
    pre = (torch.rand(steps, b, n_pre, generator=g) < 0.02).to(F64)
    post = (torch.rand(steps, b, n_post, generator=g) < 0.02).to(F64)
    w0 = torch.full((n_post, n_pre), 0.5, dtype=F64)
    state = rule.initial_state(b, n_pre, n_post)
    singles = [rule.initial_state(1, n_pre, n_post) for _ in range(b)]
    total = torch.zeros_like(w0)
    expect = torch.zeros_like(w0)
    for t in range(steps):
        dw, state = rule.step(pre[t], post[t], w0, state)
        total += dw
        for k in range(b):
            dk, singles[k] = rule.step(pre[t, k:k + 1], post[t, k:k + 1], w0, singles[k])
            expect += dk
    assert total.abs().max() > 1e-3
    assert torch.allclose(total, expect, rtol=0, atol=1e-14)


def test_triplet_closed_form():
    """pre at 0, post at 10 and 20 (all-to-all, dt = 1): the second post spike sees o2 of the first."""
    p = TRIPLET_PRESETS["visual_all_to_all_full"]
    rule = TripletSTDP(**p, dt=1.0)
    r1 = lambda t: math.exp(-t / p["tau_plus"])  # noqa: E731
    expect = r1(10) * p["a2_plus"] + r1(20) * (p["a2_plus"] + p["a3_plus"] * math.exp(-10 / p["tau_y"]))
    assert _pair(rule, [50], [60, 70]) == pytest.approx(expect, rel=1e-12)
    # post at 0 and 5, pre at 10: depression o1 * (A2- + A3- r2) with r2 = 0 (no earlier pre spike)
    o1 = math.exp(-10 / p["tau_minus"]) + math.exp(-5 / p["tau_minus"])
    assert _pair(rule, [60], [50, 55]) == pytest.approx(-o1 * p["a2_minus"], rel=1e-12)


@pytest.mark.parametrize("pairing", ["all_to_all", "nearest"])
def test_triplet_without_triplet_terms_is_the_pair_rule(pairing):
    g = torch.Generator().manual_seed(1)
    pre = (torch.rand(400, 1, 5, generator=g) < 0.05).to(F64)
    post = (torch.rand(400, 1, 3, generator=g) < 0.05).to(F64)
    w0 = torch.full((3, 5), 0.5, dtype=F64)
    pair = PairSTDP(a_plus=0.01, a_minus=0.012, tau_plus=17.0, tau_minus=34.0, pairing=pairing, dt=0.5)
    trip = TripletSTDP(a2_plus=0.01, a3_plus=0.0, a2_minus=0.012, a3_minus=0.0, tau_plus=17.0, tau_minus=34.0,
                       pairing=pairing, dt=0.5)
    wp, _ = pair.run(pre, post, w0)
    wt, _ = trip.run(pre, post, w0)
    assert (wp - w0).abs().max() > 1e-3
    assert torch.allclose(wp, wt, rtol=0, atol=1e-15)


@pytest.mark.parametrize("make, name", [
    (lambda: PairSTDP(w_min=1.0, w_max=0.5), "w_min"),
    (lambda: PairSTDP(a_plus=-0.1), "a_plus"),
    (lambda: PairSTDP(tau_minus=0.0), "tau_minus"),
    (lambda: PairSTDP(pairing="nearest_neighbour"), "pairing"),
    (lambda: PairSTDP(weight_dependence="soft"), "weight_dependence"),
    (lambda: TripletSTDP(tau_y=-1.0), "tau_y"),
    (lambda: PairSTDP(dt=0.0), "dt"),
])
def test_bad_parameters(make, name):
    with pytest.raises(ValueError, match=name):
        make()


def test_bad_shapes():
    rule = PairSTDP()
    state = rule.initial_state(2, 4, 3)
    w = torch.zeros(3, 4, dtype=F64)
    ok_pre, ok_post = torch.zeros(2, 4, dtype=F64), torch.zeros(2, 3, dtype=F64)
    with pytest.raises(ValueError, match="weight"):
        rule.step(ok_pre, ok_post, w.T, state)
    with pytest.raises(ValueError, match="pre"):
        rule.step(torch.zeros(1, 4, dtype=F64), ok_post, w, state)
    with pytest.raises(ValueError, match="post"):
        rule.step(ok_pre, torch.zeros(2, 5, dtype=F64), w, state)
    with pytest.raises(ValueError, match="mask"):
        rule.step(ok_pre, ok_post, w, state, mask=torch.ones(4, 3, dtype=torch.bool))
    with pytest.raises(TypeError, match="batch"):
        rule.initial_state(2.0, 4, 3)
