"""Spikegate's integer model and emulator against Intel Lava's bit-accurate models.

All random cases (conftest) run in ONE Lava process with every state recorded; the spikes and
the current and voltage of every neuron at every step must be identical."""

from __future__ import annotations

import pytest
import torch

from conftest import CASES, make_case
from spikegate.export.lava import emulate, run_lava, run_lava_jobs

pytestmark = pytest.mark.lava


@pytest.fixture(scope="module")
def lava_results(lava_env):
    jobs = [make_case(name) for name in CASES]
    return dict(zip(CASES, (run for run, _ in run_lava_jobs(jobs, record="states")), strict=True))


@pytest.mark.parametrize("name", CASES)
def test_reference_emulator_and_lava_agree_on_spikes_and_states(name, lava_results):
    net, x = make_case(name)
    ref = net.run(x, record="states")
    emu = emulate(net, x, record="states")
    lava = lava_results[name]
    for field in ("spikes", "u", "v"):
        for k, (a, b, c) in enumerate(zip(getattr(ref, field), getattr(emu, field), getattr(lava, field), strict=True)):
            assert a.shape == b.shape == c.shape
            assert torch.equal(a, c), f"{name}: {field} of layer {k} differs from Lava at {int((a != c).sum())} entries"
            assert torch.equal(b, c), f"{name}: emulator {field} of layer {k} differs from Lava"
    spikes = torch.cat([s.flatten().float() for s in ref.spikes])
    assert 0.05 < float(spikes.mean()) < 0.95, "the case must have spikes and silences"


def test_cases_reach_the_datapath_corners():
    """The random cases really wrap the current, saturate the voltage and overflow int32."""
    wrap = make_case("wrap")
    ref = wrap[0].run(wrap[1], record="states")
    assert int((ref.u[0][1:] - ref.u[0][:-1]).abs().max()) > 1 << 23  # a jump across the wrap
    assert int(ref.v[0].max()) == (1 << 23) - 1 or int(ref.v[0].min()) == -(1 << 23) + 1
    neg = make_case("negative")
    ref = neg[0].run(neg[1], record="states")
    assert int(ref.v[0].min()) == -(1 << 23) + 1
    big = make_case("int32")
    ref = big[0].run(big[1], record="states")
    assert int(ref.u[0].min()) < -(1 << 30) and int(ref.u[0].max()) > 1 << 30  # a << 6 wrapped at 32 bits


def test_run_lava_streams_samples_with_progress(lava_env):
    """One network, 7 samples of T = 1 (each sample one step, resets every step): the streaming
    schedule still matches per-sample runs, and progress reports every sample."""
    net, _ = make_case("mixed")
    x = (torch.rand(1, 7, 30, generator=torch.Generator().manual_seed(5)) < 0.5).to(torch.uint8)
    seen = []
    run = run_lava(net, x, record="spikes", progress=seen.append)
    ref = net.run(x, record="spikes")
    assert sum(seen) == x.shape[1]
    for a, b in zip(ref.spikes, run.spikes, strict=True):
        assert torch.equal(a, b)
