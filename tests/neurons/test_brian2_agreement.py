"""spikegate and Brian2 running the same equations, dt and input give the same spikes.

The schedule is chosen so both do, per step of ``dt``: integrate (LIF: exact decay
``v *= exp(-dt/tau)``; Izhikevich: forward Euler), add the step's input, compare with the
threshold (``>=``), reset. In Brian2 the current is added by a ``run_regularly`` operation right
after the state updater, and input spikes are delivered by synapses moved before the
thresholder, from a SpikeGeneratorGroup scheduled at the start of the step.
"""

import numpy as np
import pytest
import torch

from spikegate.neurons import LIF, PRESETS, Izhikevich, izhikevich_population
from tests.helpers import require

pytestmark = pytest.mark.brian2

DT = 0.5  # ms; a power of two, so Brian2's dt/ms is exactly 0.5
STEPS = 2000


@pytest.fixture(scope="module")
def b2():
    brian2 = require("brian2")
    brian2.prefs.codegen.target = "numpy"
    brian2.defaultclock.dt = DT * brian2.ms
    return brian2


def spike_pairs(monitor, b2) -> np.ndarray:
    steps = np.rint(np.asarray(monitor.t / b2.ms) / DT).astype(int)
    pairs = np.stack([steps, np.asarray(monitor.i)], 1)
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]


def ours_pairs(spikes: torch.Tensor) -> np.ndarray:
    return torch.nonzero(spikes[:, 0]).numpy()


@pytest.mark.parametrize("reset,code", [("subtract", "v -= vth"), ("zero", "v = 0")])
def test_lif_with_current_input(b2, reset, code):
    n = 25
    x = np.random.default_rng(0).uniform(-0.02, 0.12, size=(STEPS, n))
    drive = b2.TimedArray(x, dt=DT * b2.ms)
    group = b2.NeuronGroup(n, "dv/dt = -v/tau : 1", threshold="v >= vth", reset=code, method="exact",
                           namespace={"tau": 10 * b2.ms, "vth": 1.0, "drive": drive})
    group.run_regularly("v += drive(t, i)", when="groups", order=1)
    spikes_mon = b2.SpikeMonitor(group)
    v_mon = b2.StateMonitor(group, "v", record=True, when="end")
    b2.Network(group, spikes_mon, v_mon).run(STEPS * DT * b2.ms)

    spikes, states = LIF(tau_mem=10.0, dt=DT, threshold=1.0, reset=reset).trace(torch.from_numpy(x).unsqueeze(1))
    assert len(spikes_mon) > 500
    assert np.array_equal(ours_pairs(spikes), spike_pairs(spikes_mon, b2))
    np.testing.assert_allclose(states.v[:, 0].numpy(), v_mon.v.T, rtol=0, atol=1e-12)


def test_lif_with_input_spikes_from_a_spike_generator(b2):
    n, m = 15, 40
    rng = np.random.default_rng(1)
    inputs = rng.random((STEPS, m)) < 0.03
    w = rng.uniform(0, 0.25, size=(n, m))
    steps, idx = np.nonzero(inputs)
    gen = b2.SpikeGeneratorGroup(m, idx, steps * DT * b2.ms, when="before_groups")
    group = b2.NeuronGroup(n, "dv/dt = -v/tau : 1", threshold="v >= 1", reset="v -= 1", method="exact",
                           namespace={"tau": 10 * b2.ms})
    syn = b2.Synapses(gen, group, "w : 1", on_pre="v += w")
    syn.connect()
    syn.w = w[syn.j[:], syn.i[:]]
    syn.pre.when = "before_thresholds"
    spikes_mon = b2.SpikeMonitor(group)
    v_mon = b2.StateMonitor(group, "v", record=True, when="end")
    b2.Network(gen, group, syn, spikes_mon, v_mon).run(STEPS * DT * b2.ms)

    current = torch.from_numpy(inputs.astype(np.float64) @ w.T).unsqueeze(1)
    spikes, states = LIF(tau_mem=10.0, dt=DT, threshold=1.0, reset="subtract").trace(current)
    assert len(spikes_mon) > 500
    assert np.array_equal(ours_pairs(spikes), spike_pairs(spikes_mon, b2))
    np.testing.assert_allclose(states.v[:, 0].numpy(), v_mon.v.T, rtol=0, atol=1e-12)


IZHIKEVICH = """
dv/dt = (0.04*v**2 + 5*v + 140 - u + drive(t, i))/ms : 1
du/dt = a*(b*v - u)/ms : 1
a : 1
b : 1
c : 1
d : 1
"""


def run_brian2_izhikevich(b2, a, b, c, d, current):
    n = len(a)
    drive = b2.TimedArray(current, dt=DT * b2.ms)
    group = b2.NeuronGroup(n, IZHIKEVICH, threshold="v >= 30", reset="v = c; u += d", method="euler",
                           namespace={"drive": drive})
    group.a, group.b, group.c, group.d = a, b, c, d
    group.v = -65.0
    group.u = "b*v"
    spikes_mon = b2.SpikeMonitor(group)
    mon = b2.StateMonitor(group, ["v", "u"], record=True, when="end")
    b2.Network(group, spikes_mon, mon).run(current.shape[0] * DT * b2.ms)
    return spikes_mon, mon


def test_izhikevich_heterogeneous_population_with_noisy_current(b2):
    pop = izhikevich_population(40, 10, generator=torch.Generator().manual_seed(0))
    current = 5 + 3 * np.random.default_rng(2).standard_normal((STEPS, 50))
    spikes_mon, mon = run_brian2_izhikevich(b2, pop.a.numpy(), pop.b.numpy(), pop.c.numpy(), pop.d.numpy(), current)
    model = Izhikevich(None, a=pop.a, b=pop.b, c=pop.c, d=pop.d, dt=DT, shape=50)
    spikes, states = model.trace(torch.from_numpy(current).unsqueeze(1))
    assert len(spikes_mon) > 500
    assert np.array_equal(ours_pairs(spikes), spike_pairs(spikes_mon, b2))
    np.testing.assert_array_equal(states.v[:, 0].numpy(), mon.v.T)
    np.testing.assert_array_equal(states.u[:, 0].numpy(), mon.u.T)


def test_izhikevich_presets(b2):
    names = sorted(PRESETS)
    a, b, c, d = (np.array([PRESETS[k][j] for k in names]) for j in range(4))
    current = np.zeros((STEPS, len(names)))
    current[200:1200] = 10.0
    current[1400:1600] = -15.0  # release at step 1600 shows the rebound classes
    spikes_mon, _ = run_brian2_izhikevich(b2, a, b, c, d, current)
    model = Izhikevich(None, a=torch.tensor(a), b=torch.tensor(b), c=torch.tensor(c), d=torch.tensor(d), dt=DT,
                       shape=len(names))
    spikes, _ = model.trace(torch.from_numpy(current).unsqueeze(1))
    assert len(spikes_mon) > 100
    assert np.array_equal(ours_pairs(spikes), spike_pairs(spikes_mon, b2))
