"""The Loihi CUBA LIF: integer step against hand-computed values at every corner of the
datapath, parameter limits, and the float twin's straight-through quantization."""

from __future__ import annotations

import pytest
import torch

from spikegate.export.lava import Network
from spikegate.neurons import CubaLIF, Sequential
from spikegate.neurons.loihi import (
    LoihiCubaLIF,
    LoihiLIF,
    LoihiLIFParams,
    LoihiLIFState,
    LoihiLinear,
    check_lif_params,
    loihi_lif_step,
    quantize_weight,
    weight_mantissa,
)

M = 1 << 23


pytestmark = pytest.mark.usefixtures("one_thread")


def step(a, u, v, **p):
    params = LoihiLIFParams(**{"du": 4095, "dv": 0, "vth": 131071, **p})
    s, st = loihi_lif_step(torch.tensor([a]), LoihiLIFState(torch.tensor([u]), torch.tensor([v])), params)
    return int(s[0]), int(st.u[0]), int(st.v[0])


@pytest.mark.parametrize(
    "a, u, v, params, expected",
    [
        # current decays by (du + 1)/4096, truncated toward zero: -4097 * 2048/4096 = -2048.5 -> -2048
        (0, -4097, 0, dict(du=2047), (0, -2048, -2048)),
        (0, 4097, 0, dict(du=2047), (0, 2048, 2048)),
        # synaptic input is shifted by 6: a = 3 adds 192
        (3, 0, 0, dict(), (0, 192, 192)),
        # voltage decays by dv/4096, truncated toward zero: -1001 * 3072/4096 = -750.75 -> -750
        (0, 0, -1001, dict(dv=1024), (0, 0, -750)),
        # voltage saturates at +-(2^23 - 1)
        (0, 5000, M - 10, dict(du=0, dv=0), (1, 4998, 0)),
        (0, -5000, -M + 10, dict(du=0, dv=0), (0, -4998, -M + 1)),
        # strict threshold: v == vth << 6 does not fire, one more does, and resets to 0
        (10, 0, 0, dict(vth=10), (0, 640, 640)),
        (10, 0, 1, dict(vth=10), (1, 640, 0)),
        # bias mantissa << exponent
        (0, 0, 0, dict(bias_mant=-3, bias_exp=4), (0, 0, -48)),
        # a << 6 wraps at 32 bits like Lava's int32: 2^26 << 6 = 2^32 -> 0
        (1 << 26, 0, 0, dict(), (0, 0, 0)),
    ],
)
def test_integer_step_hand_computed(a, u, v, params, expected):
    assert step(a, u, v, **params) == expected


def test_current_wraps_once_exactly_as_lava():
    u0 = M - 100  # du = 0 keeps 4095/4096 of it, truncated; the input pushes it past 2^23
    decayed = (u0 * 4095) // 4096
    assert step(5000, u0, 0, du=0)[1] == decayed + 5000 * 64 - 2 * M  # wrapped into the negative range
    # c == 2^23 is kept, c == -2^23 becomes +2^23 (Lava's two comparisons)
    assert step(M >> 6, 0, 0)[1] == M
    assert step(-(M >> 6), 0, 0)[1] == M
    # beyond 3 * 2^23 the single wrap leaves the current out of 24 bits, as in Lava
    assert step((3 * M) >> 6, 0, 0)[1] == 3 * M - 2 * M
    assert step((4 * M) >> 6, 0, 0)[1] == 2 * M


@pytest.mark.parametrize(
    "field, value, limit",
    [("du", 4096, r"\[0, 4095\]"), ("du", -1, r"\[0, 4095\]"), ("dv", 5000, r"\[0, 4095\]"),
     ("vth", 131072, r"\[0, 131071\] \(17-bit"), ("bias_mant", -4097, r"\[-4096, 4095\]"),
     ("bias_exp", 8, r"\[0, 7\]"), ("bias_exp", torch.tensor([0, -1]), r"\[0, 7\]")],
)
def test_parameters_outside_the_registers_raise(field, value, limit):
    with pytest.raises(ValueError, match=f"{field} must lie in {limit}"):
        check_lif_params(LoihiLIFParams(0, 0, 0)._replace(**{field: value}))


def test_quantize_weight_grid_range_and_straight_through_gradient():
    w = torch.tensor([0.0, 0.014, 0.017, -0.5, 3.9, 5.0, -5.0], requires_grad=True)
    q = quantize_weight(w)
    assert q.tolist() == pytest.approx([0.0, 0.0, 2 / 64, -0.5, 250 / 64, 254 / 64, -4.0])
    q.sum().backward()
    assert w.grad.tolist() == [1, 1, 1, 1, 1, 0, 0]  # clipped weights get no gradient
    assert weight_mantissa(w).tolist() == [0, 0, 2, -32, 250, 254, -256]
    assert weight_mantissa(torch.tensor([0.3]), weight_exp=-2).tolist() == [76]  # grid 2^-1/64


@pytest.mark.parametrize(
    "kwargs, message",
    [(dict(current_decay=0.0), r"current_decay must lie in \[1/4096"),
     (dict(voltage_decay=1.0), r"voltage_decay must lie in \[0/4096, 4095/4096\]"),
     (dict(threshold=3000.0), r"threshold must lie in \(0, 131071/64\]"),
     (dict(threshold=-1.0), "threshold must be > 0")],
)
def test_twin_rejects_parameters_the_chip_cannot_hold(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LoihiCubaLIF(**kwargs)


def test_twin_is_cuba_lif_with_quantized_parameters():
    twin = LoihiCubaLIF(0.3, 0.1, 1.2345, shape=5)
    di, dv, th = 1229 / 4096, 410 / 4096, 79 / 64
    assert twin.integer_params() == LoihiLIFParams(1228, 410, 79, 0, 0)
    ref = CubaLIF(1 - di, 1 - dv, th + 2**-12, reset="zero", shape=5)
    x = torch.rand(30, 4, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert torch.equal(twin(x)[0], ref(x)[0])


def test_twin_gradient_reaches_learned_decays_and_threshold():
    twin = LoihiCubaLIF(0.5, 0.2, 1.0, learn_current_decay=True, learn_voltage_decay=True, learn_threshold=True)
    x = torch.rand(20, 3, 4, generator=torch.Generator().manual_seed(1)) * 2
    twin(x)[0].sum().backward()
    grads = [p.grad for p in twin.parameters()]
    assert len(grads) == 3 and all(g is not None and bool(g.ne(0).any()) for g in grads)


@pytest.mark.parametrize("weight_exp", [0, -2, 1])
def test_twin_equals_integer_network_without_decay(weight_exp):
    """Integrate-and-fire (no decay) on the chip's grid: the float64 twin and the integer
    datapath compute the same numbers (the twin floors a negative exponent's shift like the
    chip), so the spikes are identical, strict threshold included."""
    torch.manual_seed(weight_exp + 10)
    model = Sequential(LoihiLinear(12, 20, weight_exp=weight_exp), LoihiCubaLIF(1.0, 0.0, 0.5, shape=20),
                       LoihiLinear(20, 6, weight_exp=weight_exp), LoihiCubaLIF(1.0, 0.0, 0.25, shape=6)).double()
    x = (torch.rand(60, 8, 12, generator=torch.Generator().manual_seed(2)) < 0.4).double()
    out, _ = model(x)
    net = Network.from_module(model, 12)
    assert net.layers[0].neuron[:3] == (4095, 0, 32)
    run = net.run(x.to(torch.uint8))
    assert 0 < float(out.detach().mean()) < 1
    assert torch.equal(run.output.double(), out)


def test_integer_layer_module_loops_the_step():
    """LoihiLIF: an IF neuron with a_in = 3 per step and vth = 10 (640 state units) fires
    every fourth step (192, 384, 576, 768 > 640 -> spike, reset)."""
    layer = LoihiLIF(LoihiLIFParams(4095, 0, 10))
    a = torch.full((8, 2, 1), 3, dtype=torch.int64)
    spikes, state = layer(a)
    assert spikes[:, 0, 0].tolist() == [0, 0, 0, 1, 0, 0, 0, 1]
    _, states = layer.trace(a)
    assert states.v[:4, 0, 0].tolist() == [192, 384, 576, 0] and torch.equal(states.v[-1], state.v)
    with pytest.raises(TypeError, match="integer tensor"):
        layer(a.float())
    with pytest.raises(ValueError, match="vth must lie"):
        LoihiLIF(LoihiLIFParams(0, 0, 1 << 17))
