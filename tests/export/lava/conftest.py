"""Random integer Loihi networks that exercise every corner of the datapath, and the Lava fixture.

Each case is ``(network, input spikes [T, B, *input_shape])``; the cases are built so that the
current wraps around, the voltage saturates, Lava's int32 arithmetic overflows, and every sign
mode, weight exponent, bias exponent and conv geometry appears.
"""

from __future__ import annotations

import pytest
import torch

from spikegate.export.lava import Conv, Dense, Flatten, Network
from spikegate.export.lava.lava_run import LavaUnavailable, lava_python
from spikegate.neurons.loihi import LoihiLIFParams
from tests.helpers import IN_CI


def _ri(g: torch.Generator, low: int, high: int, shape) -> torch.Tensor:
    return torch.randint(low, high + 1, tuple(shape), generator=g)


def _spikes(g: torch.Generator, steps: int, batch: int, shape, p: float) -> torch.Tensor:
    return (torch.rand((steps, batch, *shape), generator=g) < p).to(torch.uint8)


def _lif(g: torch.Generator, n) -> LoihiLIFParams:
    return LoihiLIFParams(int(_ri(g, 0, 4095, ())), int(_ri(g, 0, 4095, ())), int(_ri(g, 0, 600, ())),
                          _ri(g, -4096, 4095, n), _ri(g, 0, 7, n))


def make_case(name: str) -> tuple[Network, torch.Tensor]:
    g = torch.Generator().manual_seed(sum(map(ord, name)))
    if name == "wrap":  # slow current decay, strong excitation: u wraps past 2^23, v saturates
        net = Network(24, [Dense(_ri(g, 150, 255, (16, 24)), LoihiLIFParams(0, 0, 131071)),
                           Dense(_ri(g, -256, 254, (6, 16)), LoihiLIFParams(40, 300, 2, -4000, 7), weight_exp=3)])
        return net, _spikes(g, 90, 3, (24,), 0.6)
    if name == "negative":  # all-inhibitory synapses: u wraps downward, v saturates at -2^23 + 1
        net = Network(20, [Dense(-_ri(g, 100, 255, (12, 20)), LoihiLIFParams(0, 2, 0, 4095, 7)),
                           Dense(_ri(g, 0, 255, (5, 12)), LoihiLIFParams(4095, 4095, 1, -60, 0), weight_exp=-6)])
        return net, _spikes(g, 90, 3, (20,), 0.6)
    if name == "int32":  # fan-in 1100 at weight 255 << 7: a << 6 overflows int32 in Lava
        net = Network(1100, [Dense(_ri(g, 230, 255, (8, 1100)), LoihiLIFParams(4095, 100, 1000), weight_exp=7),
                             Dense(_ri(g, -256, 254, (4, 8)), LoihiLIFParams(3000, 1000, 20, 0, 0))])
        return net, _spikes(g, 20, 3, (1100,), 0.97)
    if name == "mixed":  # random everything, three layers, per-neuron biases and exponents
        sizes = [30, 41, 17, 9]
        layers = [Dense(_ri(g, -256, 254, (sizes[i + 1], sizes[i])), _lif(g, (sizes[i + 1],)),
                        weight_exp=int(_ri(g, -4, 4, ()))) for i in range(3)]
        return Network(30, layers), _spikes(g, 40, 4, (30,), 0.3)
    if name == "conv":  # stride, padding, dilation, groups, per-channel and per-neuron biases, flatten
        c1 = Conv(_ri(g, -256, 254, (6, 1, 3, 3)), LoihiLIFParams(300, 200, 40, _ri(g, -500, 500, (6, 1, 1)), 4),
                  stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2)
        c2 = Conv(_ri(g, -256, 254, (4, 6, 2, 2)), LoihiLIFParams(4095, 800, 60, _ri(g, -900, 900, (4, 2, 5)), 6),
                  stride=2)
        net = Network((2, 7, 11), [c1, c2, Flatten(), Dense(_ri(g, -256, 254, (5, 40)), LoihiLIFParams(1000, 400, 30))])
        return net, _spikes(g, 25, 3, (2, 7, 11), 0.4)
    raise KeyError(name)


CASES = ("wrap", "negative", "int32", "mixed", "conv")


@pytest.fixture(autouse=True)
def one_torch_thread():
    """These tensors are tiny: one intra-op thread is fastest, and on a shared machine extra
    threads only spin against each other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def lava_env() -> str:
    """The Lava interpreter; a failure (not a skip) when CI=true and Lava is missing."""
    try:
        return lava_python()
    except LavaUnavailable as e:
        if IN_CI:
            pytest.fail(f"Lava is required in CI: {e}")
        pytest.skip(str(e))
