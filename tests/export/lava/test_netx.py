"""netx HDF5: round trips, the layout lava-dl's netx reads, the exponent folding and its limits."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from conftest import CASES, make_case
from spikegate.export.lava import Dense, Network, read_netx, write_netx
from spikegate.neurons.loihi import LoihiLIFParams


@pytest.mark.parametrize("name", CASES)
def test_round_trip_with_extensions_gives_the_same_network(name, tmp_path):
    net, x = make_case(name)
    path = tmp_path / "net.net"
    write_netx(net, path, extensions=True)
    back = read_netx(path)
    assert back == net
    assert torch.equal(back.run(x).output, net.run(x).output)


def test_strict_round_trip_folds_exponents_exactly(tmp_path):
    """weight_exp 2 with small weights and a bias at exponent 7 fit netx without extensions."""
    w = torch.tensor([[1, -3, 20], [7, 0, -64]])
    net = Network(3, [Dense(w, LoihiLIFParams(10, 20, 30, torch.tensor([5, -7]), 7), weight_exp=2)])
    path = tmp_path / "net.net"
    write_netx(net, path)
    with h5py.File(path) as f:
        assert "weightExp" not in f["layer/1"] and "biasExp" not in f["layer/1"]
        assert f["layer/1/weight"][()].tolist() == (w * 4).tolist()
        assert f["layer/1/bias"][()].tolist() == [10, -14]  # mantissas at exponent 6
    assert read_netx(path) == net


@pytest.mark.parametrize(
    "layer, message",
    [(Dense(torch.tensor([[1, -3]]), LoihiLIFParams(1, 1, 1), weight_exp=-1), "weight_exp=-1"),
     (Dense(torch.tensor([[100, -3]]), LoihiLIFParams(1, 1, 1), weight_exp=2), "weight_exp=2"),
     (Dense(torch.tensor([[1, -3]]), LoihiLIFParams(1, 1, 1, 3, 2)), "bias")],
)
def test_strict_writer_refuses_what_netx_cannot_hold(layer, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        write_netx(Network(2, [layer]), tmp_path / "x.net")


def test_layout_is_what_lava_dl_netx_reads(tmp_path):
    net, _ = make_case("conv")
    path = tmp_path / "conv.net"
    write_netx(net, path, extensions=True)
    with h5py.File(path) as f:
        types = [f[f"layer/{i}/type"][0].decode() for i in range(len(f["layer"]))]
        assert types == ["input", "conv", "conv", "flatten", "dense"]
        assert f["layer/0/shape"][()].tolist() == [2, 7, 11]
        conv = f["layer/1"]
        assert conv["weight"].dtype == np.float32 and conv["weight"].shape == (6, 1, 3, 3)
        assert conv["stride"][()].tolist() == [2, 1] and conv["dilation"][()].tolist() == [1, 2]
        assert int(conv["groups"][()]) == 2 and int(conv["inChannels"][()]) == 2
        assert conv["bias"].shape == (6,)  # uniform per channel
        assert f["layer/2/bias"].shape == (5, 2, 4)  # per neuron, Lava's [W, H, C]
        n = f["layer/4/neuron"]
        assert n["type"][0] == b"CUBA"
        assert int(n["iDecay"][()]) == net.layers[3].neuron.du + 1
        assert int(n["vDecay"][()]) == net.layers[3].neuron.dv and int(n["vThMant"][()]) == net.layers[3].neuron.vth


def _lava_dl_style_file(path, extra=None):
    """A file as lava-dl's exporter writes it: 5-D conv weights, scalar geometry, LOIHI neurons."""
    with h5py.File(path, "w") as f:
        def layer(i, kind):
            g = f.create_group(f"layer/{i}")
            g.create_dataset("type", (1,), "S10", [kind.encode()])
            return g

        g = layer(0, "input")
        g.create_dataset("shape", data=[1, 4, 4])
        g = layer(1, "conv")
        g.create_dataset("shape", data=[2, 2, 2])
        g.create_dataset("weight", data=np.arange(18, dtype=np.float32).reshape(2, 1, 3, 3, 1) * 2 - 16)
        for key, value in (("stride", 2), ("padding", 1), ("dilation", 1), ("groups", 1)):
            g.create_dataset(key, data=value)
        n = g.create_group("neuron")
        n.create_dataset("type", (1,), "S10", [b"LOIHI"])
        for key, value in (("iDecay", 1024), ("vDecay", 128), ("vThMant", 80), ("refDelay", 1), ("wgtExp", 0)):
            n.create_dataset(key, data=value)
        layer(2, "flatten")
        g = layer(3, "dense")
        g.create_dataset("shape", data=[3, 1, 1])
        g.create_dataset("weight", data=np.arange(24, dtype=np.float32).reshape(3, 8) * 4 - 40)
        g.create_dataset("bias", data=np.array([1, -2, 3], np.float32))
        n = g.create_group("neuron")
        n.create_dataset("type", (1,), "S10", [b"CUBA"])
        for key, value in (("iDecay", 4096), ("vDecay", 0), ("vThMant", 64)):
            n.create_dataset(key, data=value)
        if extra is not None:
            extra(f)


def test_input_neurons_can_be_dropped(tmp_path):
    _lava_dl_style_file(tmp_path / "c.net", lambda f: f["layer/0"].create_group("neuron"))
    net = read_netx(tmp_path / "c.net", drop_input_neurons=True)
    assert net.input_shape == (1, 4, 4) and len(net.layers) == 3


def test_reads_lava_dl_style_files(tmp_path):
    _lava_dl_style_file(tmp_path / "a.net")
    net = read_netx(tmp_path / "a.net")
    assert net.input_shape == (1, 4, 4) and net.shapes == ((2, 2, 2), (8,), (3,))
    conv, dense = net.layers[0], net.layers[2]
    assert conv.stride == (2, 2) and conv.padding == (1, 1) and conv.neuron.du == 1023
    assert dense.neuron[:3] == (4095, 0, 64) and dense.neuron.bias_exp == 6
    assert dense.neuron.bias_mant.tolist() == [1, -2, 3]
    assert dense.weight[1].tolist() == [4 * i - 40 for i in range(8, 16)]


def _retype(group, kind: bytes) -> None:
    del group["type"]
    group.create_dataset("type", (1,), "S10", [kind])


@pytest.mark.parametrize(
    "extra, error, message",
    [(lambda f: f["layer/3"].create_dataset("delay", data=[1, 2, 3]), NotImplementedError, "delays"),
     (lambda f: f["layer/3"].__delitem__("neuron"), ValueError, "du = -1"),
     (lambda f: _retype(f["layer/2"], b"pool"), NotImplementedError, "'pool'"),
     (lambda f: _retype(f["layer/1/neuron"], b"SDNN"), NotImplementedError, "'SDNN'"),
     (lambda f: f["layer/0"].create_group("neuron"), NotImplementedError, "input layers with neurons")],
)
def test_unsupported_netx_content_raises(extra, error, message, tmp_path):
    _lava_dl_style_file(tmp_path / "b.net", extra)
    with pytest.raises(error, match=message):
        read_netx(tmp_path / "b.net")
