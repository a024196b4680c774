"""Threshold guidance, the SOP energy count and the offline sample-quality metric."""

import numpy as np
import pytest
import torch
from scipy import linalg
from sklearn.datasets import load_digits
from torch import nn

from spikegate.diffusion.energy import unet_energy
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


def _dense_macs(model, x, t):
    """Connections of every Conv2d / Linear call (zero padding adds none)."""
    total = []

    def hook(m, inputs, out):
        if isinstance(m, nn.Linear):
            total.append(out.numel() * m.in_features)
            return
        ones = torch.ones_like(inputs[0])
        w = torch.ones_like(m.weight)
        total.append(float(nn.functional.conv2d(ones, w, None, m.stride, m.padding).sum()))

    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model(x, t)
    for h in hs:
        h.remove()
    return sum(total) / len(x)


def test_spiking_unet_energy_against_its_ann():
    torch.manual_seed(0)
    snn = SpikingUNet(ch=8, ch_mult=(1, 2), steps=4).eval()
    ann = SpikingUNet(ch=8, ch_mult=(1, 2), steps=1, activation="relu").eval()
    x, t = torch.randn(4, 1, 8, 8), torch.randint(0, 1000, (4,))
    e_ann = unet_energy(ann, x, t)
    assert e_ann.ac == 0 and e_ann.mac == pytest.approx(_dense_macs(ann, x, t))
    assert e_ann.energy == pytest.approx(4.6e-12 * e_ann.mac)
    e_snn = unet_energy(snn, x, t)
    assert 0 < e_snn.rate < 1 and e_snn.ac > 0
    # spikes replace most MACs; the MACs left are the encoder conv (once) and the convs on
    # membrane values, far fewer than the ANN's
    assert e_snn.mac < 0.5 * e_ann.mac
    assert e_snn.energy == pytest.approx(4.6e-12 * e_snn.mac + 0.9e-12 * e_snn.ac)
    assert e_snn.energy < e_ann.energy
    with pytest.raises(ValueError, match="multiple"):
        unet_energy(snn, x[:3], t[:3])


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
