"""The STDP rules against Brian2 on the same spike trains: weights equal within 1e-9 (float64).

Brian2 runs its numpy target (no compilation). The synapses are written the way Brian2's
documentation writes STDP (event-driven traces, ``on_pre`` before ``on_post``), so this also
pins down that spikegate's within-step order is Brian2's.
"""

import os

import numpy as np
import pytest
import torch

from spikegate.plasticity import TRIPLET_PRESETS, PairSTDP, TripletSTDP

pytestmark = pytest.mark.brian2

DT, STEPS, N_PRE, N_POST = 0.5, 1200, 20, 10


def _brian2():
    try:
        import brian2
    except ImportError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("brian2 is not installed (it is required when CI=true)")
    return brian2


def _brian2_weights(rule, pre: np.ndarray, post: np.ndarray, w0: np.ndarray) -> np.ndarray:
    b2 = _brian2()
    b2.prefs.codegen.target = "numpy"
    ms = b2.ms
    clock = b2.Clock(dt=DT * ms)
    groups = []
    for s in (pre, post):
        t, i = np.nonzero(s)
        groups.append(b2.SpikeGeneratorGroup(s.shape[1], i, t * DT * ms, clock=clock))
    bump = (lambda v: f"{v} = 1") if rule.pairing == "nearest" else (lambda v: f"{v} += 1")
    mult = rule.weight_dependence == "multiplicative"
    ns = dict(wmin=rule.w_min, wmax=rule.w_max, mu=rule.mu)
    if isinstance(rule, PairSTDP):
        model = """w : 1
                   dx/dt = -x / taup : 1 (event-driven)
                   dy/dt = -y / taum : 1 (event-driven)"""
        dep = "Am * y" + (" * (w - wmin)**mu" if mult else "")
        pot = "Ap * x" + (" * (wmax - w)**mu" if mult else "")
        on_pre = f"{bump('x')}\nw = clip(w - {dep}, wmin, wmax)"
        on_post = f"{bump('y')}\nw = clip(w + {pot}, wmin, wmax)"
        ns.update(taup=rule.tau_plus * ms, taum=rule.tau_minus * ms, Ap=rule.a_plus, Am=rule.a_minus)
    else:
        model = """w : 1
                   dr1/dt = -r1 / taup : 1 (event-driven)
                   dr2/dt = -r2 / taux : 1 (event-driven)
                   do1/dt = -o1 / taum : 1 (event-driven)
                   do2/dt = -o2 / tauy : 1 (event-driven)"""
        on_pre = f"w = clip(w - o1 * (A2m + A3m * r2), wmin, wmax)\n{bump('r1')}\n{bump('r2')}"
        on_post = f"w = clip(w + r1 * (A2p + A3p * o2), wmin, wmax)\n{bump('o1')}\n{bump('o2')}"
        ns.update(taup=rule.tau_plus * ms, taux=rule.tau_x * ms, taum=rule.tau_minus * ms, tauy=rule.tau_y * ms,
                  A2p=rule.a2_plus, A3p=rule.a3_plus, A2m=rule.a2_minus, A3m=rule.a3_minus)
    syn = b2.Synapses(groups[0], groups[1], model, on_pre=on_pre, on_post=on_post, namespace=ns, clock=clock)
    syn.connect()
    syn.w = w0[syn.j[:], syn.i[:]]
    net = b2.Network(*groups, syn)
    net.run(STEPS * DT * ms, namespace={})
    w = np.zeros_like(w0)
    w[syn.j[:], syn.i[:]] = syn.w[:]
    return w


@pytest.mark.parametrize("rule", [
    PairSTDP(a_plus=0.02, a_minus=0.021, pairing="all_to_all", dt=DT),
    PairSTDP(a_plus=0.02, a_minus=0.021, pairing="nearest", dt=DT),
    PairSTDP(a_plus=0.03, a_minus=0.03, tau_minus=30.0, weight_dependence="multiplicative", mu=0.6, dt=DT),
    PairSTDP(a_plus=0.03, a_minus=0.03, pairing="nearest", weight_dependence="multiplicative", dt=DT,
             w_min=-0.5, w_max=0.8),
    TripletSTDP(**{**TRIPLET_PRESETS["visual_all_to_all_full"], "a3_plus": 0.02}, dt=DT),
    TripletSTDP(**TRIPLET_PRESETS["visual_nearest_full"], dt=DT),
], ids=["pair-all", "pair-nearest", "mult-all", "mult-nearest", "triplet-all", "triplet-nearest"])
def test_weights_match_brian2(rule):
    rng = np.random.default_rng(7)
    pre = (rng.random((STEPS, N_PRE)) < 30 * DT / 1000).astype(np.float64)
    post = (rng.random((STEPS, N_POST)) < 30 * DT / 1000).astype(np.float64)
    post[100:STEPS:97, :] = pre[100:STEPS:97, : N_POST] = 1.0  # spikes in the same step on both sides
    w0 = rule.w_min + (rule.w_max - rule.w_min) * rng.random((N_POST, N_PRE))
    w, _ = rule.run(torch.from_numpy(pre)[:, None], torch.from_numpy(post)[:, None], torch.from_numpy(w0))
    w = w.numpy()
    ref = _brian2_weights(rule, pre, post, w0)
    assert np.abs(w - w0).max() > 0.05  # the rule did something
    assert ((w == rule.w_min) | (w == rule.w_max)).any() or rule.weight_dependence == "multiplicative"
    np.testing.assert_allclose(w, ref, rtol=0, atol=1e-9)
