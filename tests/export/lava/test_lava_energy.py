"""Operations and energy per inference, against independent counts."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from conftest import make_case
from spikegate.export.lava.energy import EnergyCosts, operations


def test_dense_counts_are_spikes_times_fan_out():
    net, x = make_case("mixed")
    run = net.run(x, record="spikes")
    ops = operations(net, x, run)
    steps, batch = x.shape[:2]
    inputs = [x] + run.spikes[:-1]
    for layer, inp, out, row in zip(net.layers, inputs, run.spikes, ops.layers, strict=True):
        n_out = layer.weight.shape[0]
        assert row.synaptic_ops == pytest.approx(float(inp.double().sum()) * n_out / batch)
        assert row.neuron_updates == n_out * steps and row.spikes == pytest.approx(float(out.double().sum()) / batch)
        assert row.macs == layer.weight.numel()


def test_conv_synaptic_ops_equal_a_convolution_with_unit_weights():
    net, x = make_case("conv")
    run = net.run(x, record="spikes")
    ops = operations(net, x, run)
    conv = net.layers[0]
    ones = torch.ones(conv.weight.shape, dtype=torch.float64)
    inp = x.flatten(0, 1).double()
    expected = F.conv2d(inp, ones, None, conv.stride, conv.padding, conv.dilation, conv.groups).sum() / x.shape[1]
    assert ops.layers[0].synaptic_ops == pytest.approx(float(expected))
    assert ops.layers[0].macs == 6 * 4 * 11 * 9  # positions x weights per position


def test_energy_formula_and_table():
    net, x = make_case("mixed")
    ops = operations(net, x, net.run(x, record="spikes"), EnergyCosts(1.0, 2.0, 3.0, 4.0, 5.0, 6.0))
    syn, upd, spk = ops.total("synaptic_ops"), ops.total("neuron_updates"), ops.total("spikes")
    assert ops.loihi_energy() == pytest.approx(syn + 2 * (upd - spk) + 7 * spk)
    table = ops.table()
    assert "dense2" in table and "total" in table and "Loihi estimate" in table


def test_operations_needs_every_layer():
    net, x = make_case("mixed")
    with pytest.raises(ValueError, match="every neuron layer"):
        operations(net, x, net.run(x))
