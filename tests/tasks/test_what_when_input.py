"""The what/when task's stimuli: step currents, slow cue afferents, the shared cue subset."""

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

import spikegate.tasks.what_when as ww
from spikegate.tasks.what_when_input import StimulusInput, cue_response

SUBSETS = [np.array([0, 1]), np.array([2, 3]), np.array([4]), np.array([5])]  # cues 0, 1; outcomes A, B


def make(**kw) -> StimulusInput:
    args = dict(subsets=SUBSETS, n=8, steps=400, dt=0.5, amplitude=20.0, cue_on=10.0, cue_ms=20.0)
    args.update(kw)
    return StimulusInput(**args)


def test_steps_without_afferent_kinetics():
    stim = make(shared=np.array([7]))
    cur = stim.trial(1, outcome=0, outcome_on=100.0, outcome_ms=25.0)
    driven = torch.zeros_like(cur)
    driven[20:60, [2, 3, 7]] = 20.0  # cue 1's own neurons and the shared one
    driven[200:250, 4] = 20.0  # outcome A
    assert torch.equal(cur, driven)
    again = torch.zeros_like(cur)
    again[20:60, [0, 1, 7]] = 20.0
    assert torch.equal(stim.trial(0), again)  # nothing carried over


def test_slow_afferents_decay_with_their_own_time_constants_across_trials():
    tau = torch.linspace(20.0, 300.0, 8, dtype=torch.float64)
    stim = make(tau_decay=tau)
    first = stim.trial(0)
    assert torch.equal(first[20:60, :2], torch.full((40, 2), 20.0, dtype=torch.float64))  # saturated while on
    k = torch.arange(1, 341, dtype=torch.float64)[:, None]
    assert torch.allclose(first[60:, :2], 20.0 * torch.exp(-k * 0.5 / tau[:2]), rtol=1e-12)
    assert torch.equal(first[:, 2:], torch.zeros(400, 6, dtype=torch.float64))
    second = stim.trial(1)  # cue 0's current goes on decaying
    k2 = torch.arange(341, 741, dtype=torch.float64)[:, None]
    assert torch.allclose(second[:, :2], 20.0 * torch.exp(-k2 * 0.5 / tau[:2]), rtol=1e-12)
    assert torch.equal(second[20:60, 2:4], torch.full((40, 2), 20.0, dtype=torch.float64))


def test_rising_afferents_peak_later_the_slower_the_rise():
    tau_d = torch.full((4,), 200.0, dtype=torch.float64)
    tau_r = torch.tensor([5.0, 40.0, 120.0, 190.0], dtype=torch.float64)
    resp = cue_response(200, 3000, 0.5, tau_d, tau_r)
    assert torch.allclose(resp.max(0).values, torch.ones(4, dtype=torch.float64))
    peaks = resp.argmax(0)
    assert bool((peaks[1:] > peaks[:-1]).all()) and int(peaks[0]) > 200  # after the cue's end
    # a long cue: the step response of the cascade, 1 - (td e^-t/td - tr e^-t/tr) / (td - tr)
    dt, td, tr = 0.01, 50.0, 10.0
    step = cue_response(10**6, 20000, dt, torch.tensor([td], dtype=torch.float64),
                        torch.tensor([tr], dtype=torch.float64))[:, 0]
    t = torch.arange(1, 20001, dtype=torch.float64) * dt
    exact = 1 - (td * torch.exp(-t / td) - tr * torch.exp(-t / tr)) / (td - tr)
    assert torch.allclose(step, exact / exact.max(), atol=2e-3)


def test_bad_afferent_parameters_are_refused():
    with pytest.raises(ValueError, match="tau_decay"):
        make(tau_decay=torch.tensor([10.0, -1.0] + [10.0] * 6, dtype=torch.float64))
    with pytest.raises(ValueError, match="tau_decay"):
        make(tau_decay=torch.ones(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="needs tau_decay"):
        make(tau_rise=torch.ones(8, dtype=torch.float64))
    cfg = replace(ww.WhatWhenConfig(), n_exc=40, n_inh=10)
    for bad, match in (({"cue_tau": (100.0, 50.0)}, "cue_tau"), ({"cue_rise": (0.0, 0.5)}, "cue_rise"),
                       ({"cue_shared": 1.5}, "cue_shared"), ({"cue_tau": None}, "cue_rise needs cue_tau"),
                       ({"cue_tau": (1.0, math.inf)}, "cue_tau"), ({"feature_threshold": 4.0}, "feature_threshold"),
                       ({"cue_amplitude": -1.0}, "cue_amplitude"), ({"cue_rise": (0.5, 1.0)}, "shorter than its decay"),
                       ({"what_centre": 1.5}, "what_centre"), ({"what_centre_trials": 0}, "what_centre_trials"),
                       ({"peak_smoothing": 0.0}, "peak_smoothing"), ({"fine_peak_ms": -1.0}, "fine_peak_ms"),
                       ({"tau_e_when": 0.0}, "tau_e_when"), ({"tau_e": -5.0}, "tau_e")):
        with pytest.raises(ValueError, match=match):
            replace(cfg, **bad)


def test_the_default_stimuli():
    cfg = replace(ww.WhatWhenConfig(), n_exc=400, n_inh=100)
    _, _, stim = ww.build(cfg, np.random.default_rng(0))
    assert stim.shared.numel() == 50 and all(len(s) == 50 for s in stim.subsets)
    for c in range(cfg.n_cues):
        units = stim.cue_units(c)
        assert set(stim.shared.tolist()) <= set(units.tolist()) and set(stim.subsets[c].tolist()) <= set(units.tolist())
    peak_ms = stim.response.argmax(0).double() * cfg.dt
    assert float(peak_ms.min()) < 150.0 and float(peak_ms.max()) > 600.0  # the peaks tile the delays
    # off: the runs of earlier versions (no shared subset, step cues) draw the same random numbers
    plain = replace(cfg, cue_shared=0.0, cue_tau=None, cue_rise=None)
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    ww.build(plain, a)
    net = ww.izhikevich_reservoir(plain.n_exc, plain.n_inh, p=plain.p, w_exc=plain.w_exc, w_inh=plain.w_inh,
                                  delay=(0.5, 2.0), dt=plain.dt, generator=b)
    [b.choice(net.n, 50, replace=False) for _ in range(plain.n_cues + 2)]
    assert a.random() == b.random()
