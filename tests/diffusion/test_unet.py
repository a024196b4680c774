"""Spiking U-Net and TSM: exact identities of the mechanisms, binary spikes, the membrane
read-out, IF neurons with hard reset, gradients, and input checks."""

import pytest
import torch
from torch import nn

from spikegate.diffusion.tsm import TSM, add_tsm, tsm_gains
from spikegate.diffusion.unet import SpikingUNet
from spikegate.neurons import LIF, Sequential


def small(**kw):
    torch.manual_seed(0)
    kw = {"ch": 8, "ch_mult": (1, 2), "num_res_blocks": 1, "steps": 4, **kw}
    return SpikingUNet(**kw)


def batch(b=6, size=8):
    g = torch.Generator().manual_seed(1)
    return torch.randn(b, 1, size, size, generator=g), torch.randint(0, 1000, (b,), generator=g)


@pytest.mark.parametrize("layer", [nn.Conv2d(3, 5, 3, padding=1), nn.Linear(7, 4)], ids=["conv", "linear"])
def test_tsm_with_unit_gains_equals_plain_layer_exactly(layer):
    x = torch.randn(4 * 3, *((3, 6, 6) if isinstance(layer, nn.Conv2d) else (7,)))
    assert torch.equal(TSM(layer, 4)(x), layer(x))


def test_tsm_scales_each_step_and_its_gradient_is_the_current():
    conv = nn.Conv2d(2, 3, 3, padding=1)
    tsm = TSM(conv, 3)
    with torch.no_grad():
        tsm.gain.copy_(torch.tensor([0.5, 1.0, 2.0]))
    x = torch.randn(3 * 2, 2, 5, 5)
    y = tsm(x).unflatten(0, (3, 2))
    current = conv(x).unflatten(0, (3, 2)).detach()
    for n, p in enumerate([0.5, 1.0, 2.0]):
        torch.testing.assert_close(y[n], p * current[n])
    grad_out = torch.randn_like(y)
    (y * grad_out).sum().backward()
    # SDM appendix eq. 27: dL/dp[n] = sum_i dL/du_i[n] * (W S)_i[n]
    torch.testing.assert_close(tsm.gain.grad, (grad_out * current).sum(dim=(1, 2, 3, 4)))


def test_tsm_rejects_wrong_time_folding():
    with pytest.raises(ValueError, match="T = 4"):
        TSM(nn.Linear(2, 2), 4)(torch.zeros(6, 2))
    with pytest.raises(TypeError, match="already"):
        TSM(TSM(nn.Linear(2, 2), 2), 2)


def test_add_tsm_is_idempotent_and_skips_excluded():
    net = Sequential(nn.Conv2d(1, 2, 3), LIF(1.0, 1.0, "zero"), nn.Conv2d(2, 2, 3))
    keep = net.layers[2]
    add_tsm(net, 3, exclude=[keep])
    add_tsm(net, 3, exclude=[keep])
    assert isinstance(net.layers[0], TSM) and isinstance(net.layers[0].layer, nn.Conv2d)
    assert net.layers[2] is keep
    assert tsm_gains(net).shape == (1, 3)


@pytest.mark.parametrize("train", [True, False], ids=["train-mode", "eval-mode"])
def test_enabling_tsm_keeps_the_unet_output_exactly(train):
    model = small()
    model.train(train)
    x, t = batch()
    before = model(x, t)
    model.enable_tsm()
    assert model.has_tsm and model.config()["tsm"]
    n_tsm = len(tsm_gains(model))
    n_conv = sum(isinstance(m, nn.Conv2d) for m in model.modules())
    assert n_tsm == n_conv - 1  # every conv but the output refinement (SDM's Conv3d)
    assert torch.equal(model(x, t), before)


def test_tsm_gains_change_the_output():
    model = small(tsm=True).eval()
    x, t = batch()
    before = model(x, t)
    with torch.no_grad():
        model.head.layers[0].gain.mul_(torch.tensor([1.0, 1.0, 1.0, 1.5]))
    assert not torch.allclose(model(x, t), before)


def _neurons(model):
    return [m for m in model.modules() if isinstance(m, LIF)]


def test_neurons_are_if_with_hard_reset_to_zero():
    model = small()
    neurons = _neurons(model)
    assert len(neurons) == 1 + 2 * 8 + 2  # head, 2 + 2 + 4 residual blocks, down + up
    for n in neurons:
        p = n.params()
        assert float(p.beta) == 1.0 and float(p.threshold) == 1.0 and p.reset == "zero"
        assert p.surrogate.kind == "atan" and p.surrogate.alpha == 2.0
    # IF under constant input 0.6: U = 0.6, 1.2 -> spike, reset to 0, 0.6, 1.2 -> spike
    s, state = neurons[0].trace(torch.full((4, 1, 1), 0.6))
    assert s.flatten().tolist() == [0.0, 1.0, 0.0, 1.0]
    torch.testing.assert_close(state.v.flatten(), torch.tensor([0.6, 0.0, 0.6, 0.0]))


@pytest.mark.parametrize("train", [True, False], ids=["train-mode", "eval-mode"])
def test_every_spiking_layer_emits_only_binary_spikes(train):
    model = small(tsm=True)
    model.train(train)
    seen = []

    def check(module, inputs, output):
        spikes = output[0]
        assert bool(((spikes == 0) | (spikes == 1)).all())
        seen.append(float(spikes.detach().mean()))

    handles = [n.register_forward_hook(check) for n in _neurons(model)]
    x, t = batch()
    model(3 * x, t)
    for h in handles:
        h.remove()
    assert len(seen) == len(_neurons(model))
    assert 0 < sum(seen) / len(seen) < 1  # the spikes carry information
    # pre-spike residuals: the tensors added inside the blocks are real-valued (not spikes)
    h = model.head(x.unsqueeze(0).expand(4, *x.shape))[0]
    assert not bool(((h == 0) | (h == 1)).all())


def test_membrane_readout_is_decayed_sum_of_output_steps():
    model = small().eval()
    grabbed = {}
    model.tail.register_forward_hook(lambda m, i, o: grabbed.update(tail=o))
    model.refine.register_forward_hook(lambda m, i, o: grabbed.update(refine=o))
    x, t = batch()
    eps = model(x, t)
    h = (grabbed["tail"] + grabbed["refine"]).unflatten(0, (4, len(x)))
    expected = sum(0.8 ** (4 - n) * h[n - 1] for n in range(1, 5))
    torch.testing.assert_close(eps, expected)


def test_rate_decode_and_ann_mode():
    x, t = batch()
    ann = small(steps=1, activation="relu").eval()
    assert not _neurons(ann)
    membrane = ann(x, t)
    rate = SpikingUNet(**{**ann.config(), "decode": "rate"}).eval()
    rate.load_state_dict(ann.state_dict())
    torch.testing.assert_close(rate(x, t), membrane)  # T = 1: both read-outs are the identity


def test_surrogate_gradients_reach_every_parameter():
    model = small(tsm=True)
    x, t = batch()
    ((model(x, t) - x) ** 2).mean().backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or not bool(p.grad.abs().sum() > 0)]
    assert missing == []


def test_config_rebuilds_the_same_architecture():
    model = small(tsm=True)
    clone = SpikingUNet(**model.config())
    clone.load_state_dict(model.state_dict())
    x, t = batch()
    model.eval(), clone.eval()
    assert torch.equal(clone(x, t), model(x, t))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"ch": 7}, "ch must be even"),
        ({"ch_mult": ()}, "ch_mult"),
        ({"ch_mult": (1, 0)}, "ch_mult"),
        ({"steps": 0}, "steps"),
        ({"decode": "mean"}, "decode"),
        ({"threshold": -1.0}, "threshold"),
        ({"reset": "hard"}, "reset"),
        ({"readout_decay": 1.5}, "readout_decay"),
        ({"activation": "gelu"}, "activation"),
    ],
)
def test_bad_constructor_arguments_raise(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        small(**kwargs)


def test_bad_inputs_raise():
    model = small()
    x, t = batch()
    with pytest.raises(ValueError, match="divisible by 2"):
        model(torch.zeros(2, 1, 7, 7), t[:2])
    with pytest.raises(ValueError, match="t must be an integer"):
        model(x, t.float())
    with pytest.raises(ValueError, match="4 dimensions"):
        model(x[0], t)
