"""Integer networks: validation against the chip's limits, conversion from/to the float twin,
and spikegate's emulator against the reference on the random cases."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from conftest import CASES, make_case
from spikegate.export.lava import Conv, Dense, Flatten, Network, emulate
from spikegate.neurons import Sequential
from spikegate.neurons.loihi import LoihiConv2d, LoihiCubaLIF, LoihiLIFParams, LoihiLinear

LIF = LoihiLIFParams(100, 200, 50)
ONES = torch.ones(3, 4, dtype=torch.int64)


@pytest.mark.parametrize("name", CASES)
def test_emulator_equals_reference(name):
    net, x = make_case(name)
    ref = net.run(x, record="states")
    emu = emulate(net, x, record="states")
    for field in ("spikes", "u", "v"):
        for a, b in zip(getattr(ref, field), getattr(emu, field), strict=True):
            assert a.dtype == b.dtype and torch.equal(a, b), field


@pytest.mark.parametrize("record", ["output", "spikes"])
def test_emulator_chunks_and_record_modes(record):
    net, x = make_case("mixed")
    calls = []
    emu = emulate(net, x, record=record, chunk=3, progress=calls.append)
    ref = net.run(x, record=record)
    assert calls == [3, 1]
    assert len(emu.spikes) == (1 if record == "output" else 3) and emu.u is None
    for a, b in zip(ref.spikes, emu.spikes, strict=True):
        assert torch.equal(a, b)


def test_reference_against_hand_computed_integrate_and_fire():
    """One dense IF neuron (no decay): v accumulates 64·(sum of weights) per step, fires when it
    exceeds vth·64 and resets to 0."""
    net = Network(2, [Dense(torch.tensor([[3, 5]]), LoihiLIFParams(4095, 0, 10))])
    x = torch.tensor([[1, 1]] * 4, dtype=torch.uint8).unsqueeze(1)  # [4, 1, 2]
    run = net.run(x, record="states")
    assert run.v[0].flatten().tolist() == [512, 0, 512, 0]  # 512, 1024 > 640 -> spike, ...
    assert run.spikes[0].flatten().tolist() == [0, 1, 0, 1]
    assert run.u[0].flatten().tolist() == [512] * 4


@pytest.mark.parametrize(
    "layers, message",
    [
        ([Dense(torch.full((3, 4), 255).mul(torch.tensor([1, -1, 1, 1])), LIF)], r"\[-256, 254\]"),
        ([Dense(torch.full((3, 4), 256), LIF)], r"\[0, 255\]"),
        ([Dense(torch.full((3, 4), -256), LIF)], r"\[-255, 0\]"),
        ([Dense(torch.ones(3, 4, dtype=torch.int64), LIF, weight_exp=8)], r"weight_exp must lie in \[-8, 7\]"),
        ([Dense(ONES, LIF._replace(du=4096))], r"layers\[0\]\.neuron: du must lie in \[0, 4095\]"),
        ([Dense(torch.ones(3, 4, dtype=torch.int64), LIF._replace(dv=-1))], r"dv must lie in \[0, 4095\]"),
        ([Dense(torch.ones(3, 4, dtype=torch.int64), LIF._replace(vth=131072))], r"vth must lie in \[0, 131071\]"),
        ([Dense(ONES, LIF._replace(bias_mant=4096))], r"bias_mant must lie in \[-4096, 4095\]"),
        ([Dense(torch.ones(3, 4, dtype=torch.int64), LIF._replace(bias_exp=8))], r"bias_exp must lie in \[0, 7\]"),
        ([Dense(torch.ones(3, 4, dtype=torch.int64), LIF._replace(bias_mant=torch.zeros(5, dtype=torch.int64)))],
         "does not broadcast"),
        ([Dense(torch.ones(3, 5, dtype=torch.int64), LIF)], "expects 5 inputs"),
        ([Conv(torch.ones(2, 1, 3, 3, dtype=torch.int64), LIF)], r"\[C, H, W\]"),
        ([Dense(torch.ones(3, 4, dtype=torch.int64), LIF), Flatten()], "last layer"),
    ],
)
def test_out_of_range_or_inconsistent_networks_raise(layers, message):
    with pytest.raises(ValueError, match=message):
        Network(4, layers)


def test_wrong_types_raise():
    with pytest.raises(TypeError, match="integer tensor"):
        Network(4, [Dense(torch.ones(3, 4), LIF)])
    with pytest.raises(TypeError, match="du must be an int"):
        Network(4, [Dense(torch.ones(3, 4, dtype=torch.int64), LIF._replace(du=1.5))])
    with pytest.raises(ValueError, match="does not fit"):
        Network((1, 2, 2), [Conv(torch.ones(2, 1, 3, 3, dtype=torch.int64), LIF)])


@pytest.mark.parametrize(
    "spikes, message",
    [(torch.full((3, 2, 4), 2), "only 0 and 1"), (torch.zeros(3, 2, 5), r"\[T, B, \*\(4,\)\]"),
     (torch.zeros(0, 2, 4), "T >= 1")],
)
def test_bad_input_spikes_raise(spikes, message):
    net = Network(4, [Dense(torch.ones(3, 4, dtype=torch.int64), LIF)])
    with pytest.raises(ValueError, match=message):
        net.run(spikes)
    with pytest.raises(ValueError, match=message):
        emulate(net, spikes)


def _twin(seed: int) -> Sequential:
    torch.manual_seed(seed)
    return Sequential(
        LoihiConv2d(2, 4, 3, stride=2, padding=1), LoihiCubaLIF(0.5, 0.25, 1.5, shape=(4, 4, 4)), nn.Flatten(),
        LoihiLinear(64, 10, weight_exp=-1), LoihiCubaLIF(1.0, 0.1, 0.75, shape=10),
    )


def test_from_module_and_to_module_round_trip():
    model = _twin(0)
    net = Network.from_module(model, (2, 8, 8))
    assert [type(layer) for layer in net.layers] == [Conv, Flatten, Dense]
    assert net.layers[0].neuron == LoihiLIFParams(2047, 1024, 96, 0, 0)
    assert net.layers[2].weight_exp == -1 and net.shapes[-1] == (10,)
    assert Network.from_module(net.to_module(), (2, 8, 8)) == net


@pytest.mark.parametrize(
    "modules, message",
    [([LoihiLinear(4, 3), nn.ReLU()], "followed by a LoihiCubaLIF"),
     ([nn.Linear(4, 3), LoihiCubaLIF()], "Linear.*no Loihi equivalent"),
     ([nn.Flatten(0)], "start_dim=1")],
)
def test_from_module_rejects_what_the_chip_cannot_run(modules, message):
    with pytest.raises(ValueError, match=message):
        Network.from_module(modules, 4)


def test_missing_or_failing_lava_interpreter_raises(monkeypatch, tmp_path):
    from spikegate.export.lava import LavaError, LavaUnavailable, run_lava

    net, x = make_case("mixed")
    monkeypatch.setenv("SPIKEGATE_LAVA_PYTHON", str(tmp_path / "no-python"))
    with pytest.raises(LavaUnavailable, match="make lava-env"):
        run_lava(net, x)
    monkeypatch.setenv("SPIKEGATE_LAVA_PYTHON", "/bin/false")
    with pytest.raises(LavaError, match="exited with status 1"):
        run_lava(net, x)
