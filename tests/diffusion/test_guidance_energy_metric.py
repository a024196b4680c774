"""Threshold guidance, the SOP energy count and the offline sample-quality metric."""

import numpy as np
import pytest
import torch
from scipy import linalg
from sklearn.datasets import load_digits
from torch import nn

from spikegate.diffusion.energy import E_AC, E_MAC, count_energy
from spikegate.diffusion.guidance import threshold_guidance
from spikegate.diffusion.metric import FeatureClassifier, frechet_distance, sample_quality, train_classifier
from spikegate.diffusion.unet import SpikingUNet
from spikegate.neurons import LIF, Sequential


def test_threshold_guidance_scales_every_threshold_and_restores_them():
    torch.manual_seed(0)
    model = SpikingUNet(ch=8, ch_mult=(1, 2), steps=4).eval()
    learnable = LIF(1.0, 1.5, "zero", shape=3, learn_threshold=True)
    model.extra = learnable
    x, t = torch.randn(4, 1, 8, 8), torch.randint(0, 1000, (4,))
    base = model(x, t)
    originals = [m.threshold for m in model.modules() if isinstance(m, LIF)]
    with threshold_guidance(model, 0.9) as guided:
        values = [float(m.threshold().mean()) for m in guided.modules() if isinstance(m, LIF)]
        assert values == pytest.approx([0.9] * (len(values) - 1) + [1.35])
        assert not torch.equal(guided(x, t), base)
    assert [m.threshold for m in model.modules() if isinstance(m, LIF)] == originals
    assert torch.equal(model(x, t), base)
    with threshold_guidance(model, 1.0):
        assert torch.equal(model(x, t), base)


def test_threshold_guidance_changes_firing_in_the_expected_direction():
    lif = Sequential(LIF(1.0, 1.0, "zero"))
    x = torch.rand(8, 16, 50)
    rates = {}
    for scale in (0.8, 1.0, 1.25):
        with threshold_guidance(lif, scale):
            rates[scale] = float(lif(x)[0].mean())
    assert rates[0.8] > rates[1.0] > rates[1.25]  # inhibitory guidance lowers the threshold


def test_threshold_guidance_rejects_bad_input():
    with pytest.raises(ValueError, match="scale"):
        with threshold_guidance(Sequential(LIF()), 0.0):
            pass
    with pytest.raises(ValueError, match="no neurons"):
        with threshold_guidance(nn.Linear(2, 2), 0.9):
            pass


def test_energy_counts_spike_inputs_as_sops_and_real_inputs_as_macs():
    lin = nn.Linear(10, 5, bias=False)
    spikes = torch.zeros(4 * 2, 10)  # T = 4 steps of a batch of 2, folded
    spikes[:, :3] = 1.0  # firing rate 0.3
    rep = count_energy(lin, lambda: lin(spikes), batch=2, steps=4)
    assert rep.mac == 0
    assert rep.sop == pytest.approx(0.3 * 4 * 50)  # fr * T * FLOPs per sample
    assert rep.rate == pytest.approx(0.3)
    assert rep.energy == pytest.approx(E_AC * rep.sop)
    real = torch.randn(4 * 2, 10)
    assert count_energy(lin, lambda: lin(real), batch=2, steps=4).mac == pytest.approx(4 * 50)
    same = torch.randn(1, 2, 10).expand(4, 2, 10).flatten(0, 1)  # direct encoding: computed once
    rep = count_energy(lin, lambda: lin(same), batch=2, steps=4)
    assert rep.mac == pytest.approx(50) and rep.energy == pytest.approx(E_MAC * 50)


def test_energy_conv_flops():
    conv = nn.Conv2d(3, 4, 3, padding=1, stride=2)
    rep = count_energy(conv, lambda: conv(torch.randn(5, 3, 8, 8)), batch=5)
    assert rep.mac == pytest.approx(4 * 4 * 4 * 3 * 9)


def test_spiking_unet_uses_less_energy_than_its_ann():
    torch.manual_seed(0)
    snn = SpikingUNet(ch=8, ch_mult=(1, 2), steps=4).eval()
    ann = SpikingUNet(ch=8, ch_mult=(1, 2), steps=1, activation=nn.ReLU).eval()
    x, t = torch.randn(4, 1, 8, 8), torch.randint(0, 1000, (4,))
    e_snn = count_energy(snn, lambda: snn(x, t), batch=4, steps=4)
    e_ann = count_energy(ann, lambda: ann(x, t), batch=4, steps=1)
    assert e_ann.sop == 0 and e_snn.sop > 0
    assert 0 < e_snn.rate < 1
    assert e_snn.energy < e_ann.energy


def _scipy_fd(a, b):
    a, b = a.numpy(), b.numpy()
    ca, cb = np.cov(a.T), np.cov(b.T)
    root = linalg.sqrtm(ca @ cb).real
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(ca + cb - 2 * root))


def test_frechet_distance_matches_scipy_and_is_zero_for_the_same_set():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(300, 6, generator=g, dtype=torch.float64)
    b = torch.randn(200, 6, generator=g, dtype=torch.float64) @ torch.randn(6, 6, generator=g, dtype=torch.float64) + 0.5
    assert frechet_distance(a, b) == pytest.approx(_scipy_fd(a, b), rel=1e-6)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    with pytest.raises(ValueError, match="feature dimension"):
        frechet_distance(a, b[:, :5])


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    x = (torch.tensor(d.images, dtype=torch.float32) / 8 - 1).unsqueeze(1)
    return x, torch.tensor(d.target)


def test_sample_quality_separates_real_images_from_noise(digits):
    x, y = digits
    clf = train_classifier(x[:1200], y[:1200], epochs=6)
    assert isinstance(clf, FeatureClassifier)
    real = sample_quality(clf, x[1200:1500], x[1500:])
    noise = sample_quality(clf, torch.rand(300, 1, 8, 8) * 2 - 1, x[1500:])
    one_class = sample_quality(clf, x[1200:][y[1200:] == 3], x[1500:])
    assert real.confident > 0.8 and real.coverage == 1.0
    assert noise.fd > 5 * real.fd
    assert one_class.coverage <= 0.2 and one_class.fd > 3 * real.fd
    again = train_classifier(x[:1200], y[:1200], epochs=6)
    assert all(torch.equal(p, q) for p, q in zip(clf.state_dict().values(), again.state_dict().values()))
