"""Izhikevich presets show their known firing signatures (Izhikevich 2003 Fig. 2, 2004)."""

import pytest
import torch

from spikegate.neurons import PRESETS, Izhikevich, IzhikevichState, izhikevich_population

DT = 0.25
REST = int(300 / DT)  # 300 ms at zero input first, so every preset starts from its rest state


def run(preset: str, current: torch.Tensor):
    """Spike times (ms, after the rest period) and membrane of one neuron."""
    x = torch.cat([torch.zeros(REST, dtype=torch.float64), current.double()])
    s, st = Izhikevich(preset, dt=DT).trace(x.view(-1, 1, 1))
    t = torch.nonzero(s.flatten()).flatten().double() * DT - REST * DT
    return t[t >= 0], st.v.flatten()[REST - 1:]


def step(amplitude: float, ms: float = 400.0) -> torch.Tensor:
    return torch.full((int(ms / DT),), amplitude)


def bursts(t: torch.Tensor, gap: float = 10.0) -> list[int]:
    """Sizes of groups of spikes whose intervals are below ``gap`` ms."""
    if len(t) == 0:
        return []
    sizes, n = [], 1
    for d in torch.diff(t).tolist():
        if d < gap:
            n += 1
        else:
            sizes.append(n)
            n = 1
    return sizes + [n]


def test_presets_are_the_published_parameters():
    assert PRESETS["RS"] == (0.02, 0.2, -65.0, 8.0)
    assert PRESETS["CH"] == (0.02, 0.2, -50.0, 2.0)
    assert PRESETS["FS"] == (0.1, 0.2, -65.0, 2.0)
    assert set(PRESETS) >= {"RS", "IB", "CH", "FS", "LTS", "TC", "RZ"}


def test_rs_adapts():
    t, _ = run("RS", step(10.0))
    isi = torch.diff(t)
    assert len(t) >= 6 and bursts(t) == [1] * len(t)  # tonic, no bursts
    assert isi[-1] / isi[0] > 2.0  # spike-frequency adaptation


def test_ib_initial_burst_then_tonic():
    t, _ = run("IB", step(10.0))
    sizes = bursts(t)
    assert sizes[0] >= 3 and all(s == 1 for s in sizes[1:]) and len(sizes) >= 5
    assert torch.diff(t)[-3:].min() > 20.0


def test_ch_fires_repetitive_bursts():
    t, _ = run("CH", step(10.0))
    sizes = bursts(t)
    assert len(sizes) >= 4 and min(sizes) >= 3
    isi = torch.diff(t)
    assert (isi < 6).sum() > 3 * (isi > 20).sum() and (isi > 20).sum() >= 3  # bimodal ISIs


def test_fs_fast_without_adaptation():
    t_fs, _ = run("FS", step(10.0))
    t_rs, _ = run("RS", step(10.0))
    isi = torch.diff(t_fs)
    assert len(t_fs) > 4 * len(t_rs)
    assert isi[-10:].max() / isi[3:].min() < 1.1  # steady rate after the onset


def test_lts_adapting_high_frequency_train():
    t, _ = run("LTS", step(10.0))
    isi = torch.diff(t)
    assert isi[0] < 5.0 and isi[-1] / isi[0] > 2.0


@pytest.mark.parametrize("preset,min_spikes", [("LTS", 1), ("TC", 3), ("RZ", 1), ("RS", 0), ("FS", 0), ("CH", 0)])
def test_post_inhibitory_rebound(preset, min_spikes):
    """Release from a 100 ms hyperpolarizing step: LTS and RZ rebound, TC fires a rebound
    burst; the b = 0.2 classes (RS, FS, CH) do not."""
    current = torch.cat([step(-15.0, 100.0), step(0.0, 200.0)])
    t, _ = run(preset, current)
    if min_spikes == 0:
        assert len(t) == 0
    else:
        assert len(t) >= min_spikes and t.min() > 100.0 and t.min() < 115.0
        if preset == "TC":
            assert bursts(t, gap=20.0)[0] >= 3


def test_rz_resonates_with_damped_subthreshold_oscillations():
    pulse = torch.cat([step(1.0, 1.0), step(0.0, 300.0)])
    for preset, resonates in (("RZ", True), ("RS", False)):
        t, v = run(preset, pulse)
        assert len(t) == 0
        d = (v[1:] - v[0]).tolist()
        ext = [d[i] for i in range(1, len(d) - 1) if (d[i] - d[i - 1]) * (d[i + 1] - d[i]) < 0 and abs(d[i]) > 1e-3]
        if resonates:
            assert len(ext) >= 5
            assert all(a * b < 0 for a, b in zip(ext, ext[1:]))  # alternating sign
            assert all(abs(b) < abs(a) for a, b in zip(ext, ext[1:]))  # damped
        else:
            assert len(ext) <= 2


def test_heterogeneous_population_draws_2003_ranges():
    pop = izhikevich_population(800, 200, generator=torch.Generator().manual_seed(0))
    e, i = pop.excitatory, ~pop.excitatory
    assert e.sum() == 800 and i.sum() == 200 and torch.all(e[:800])
    assert torch.all(pop.a[e] == 0.02) and torch.all(pop.b[e] == 0.2)
    assert pop.c[e].min() >= -65 and pop.c[e].max() <= -50 and pop.d[e].min() >= 2 and pop.d[e].max() <= 8
    assert pop.a[i].min() >= 0.02 and pop.a[i].max() <= 0.1 and pop.b[i].min() >= 0.2 and pop.b[i].max() <= 0.25
    assert torch.all(pop.c[i] == -65) and torch.all(pop.d[i] == 2)
    # r^2 skews excitatory cells towards RS: mean of c is -65 + 15 E[r^2] = -60
    assert pop.c[e].mean().item() == pytest.approx(-60.0, abs=0.6)
    again = izhikevich_population(800, 200, generator=torch.Generator().manual_seed(0))
    assert torch.equal(pop.c, again.c)


def test_population_runs_per_neuron_parameters():
    pop = izhikevich_population(40, 10, generator=torch.Generator().manual_seed(1))
    m = Izhikevich(None, a=pop.a, b=pop.b, c=pop.c, d=pop.d, dt=0.5, shape=50)
    s, st = m(torch.full((400, 2, 50), 10.0, dtype=torch.float64))
    assert s.shape == (400, 2, 50) and torch.all(s.sum(0) > 0)
    assert torch.equal(s[:, 0], s[:, 1])


def test_trainable_through_surrogate():
    w = torch.full((3,), 8.0, dtype=torch.float64, requires_grad=True)
    x = torch.ones(400, 1, 3, dtype=torch.float64) * w
    s, _ = Izhikevich("RS", dt=0.5)(x)
    s.sum().backward()
    assert s.sum() > 0 and torch.all(w.grad > 0)  # more input, more spikes


def test_izhikevich2003_scheme_stable_at_1ms():
    s, st = Izhikevich("RS", dt=1.0, scheme="izhikevich2003")(torch.full((1000, 1, 1), 10.0, dtype=torch.float64))
    assert bool(torch.isfinite(st.v).all()) and 10 <= s.sum() <= 40


def test_bad_arguments():
    with pytest.raises(ValueError, match="preset"):
        Izhikevich("XX")
    with pytest.raises(ValueError, match="dt"):
        Izhikevich("RS", dt=0.0)
    with pytest.raises(ValueError, match="scheme"):
        Izhikevich("RS", scheme="rk4")
    with pytest.raises(ValueError, match="a, b, c, d"):
        Izhikevich(None, a=0.02)
    with pytest.raises(ValueError, match="shape"):
        Izhikevich(None, a=torch.zeros(3), b=0.2, c=-65.0, d=8.0, shape=4)
    with pytest.raises(ValueError, match="state.u"):
        Izhikevich("RS")(torch.zeros(3, 2, 4), IzhikevichState(torch.zeros(2, 4), torch.zeros(1, 4)))
