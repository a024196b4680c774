"""ANN-to-SNN path: b-bit QCFS U-Net -> IF U-Net with T = 2^b - 1, theta = s, mu = theta / 2."""

import pytest
import torch

from spikegate.convert import IFEncoder
from spikegate.convert.ann import ActQuant
from spikegate.diffusion.conversion import convert_unet, quantize_unet
from spikegate.diffusion.unet import SpikingUNet


@pytest.fixture(scope="module")
def quantized():
    torch.manual_seed(0)
    ann = SpikingUNet(ch=8, ch_mult=(1, 2), steps=1, activation="relu").double().eval()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(16, 1, 8, 8, generator=g, dtype=torch.float64)
    t = torch.randint(0, 1000, (16,), generator=g)
    return quantize_unet(ann, 2, (x, t)).eval(), x, t


def test_first_spiking_layer_equals_the_quantized_ann_exactly(quantized):
    qann, x, t = quantized
    snn = convert_unet(qann)  # real IF dynamics ("step" timing)
    assert snn.steps == 3 and snn.decode == "rate"
    grabbed = {}
    hooks = [
        qann.head.layers[2].register_forward_hook(lambda m, i, o: grabbed.update(ann=(i[0], o))),
        snn.head.layers[2].register_forward_hook(lambda m, i, o: grabbed.update(snn=o[0])),
    ]
    with torch.no_grad():
        qann(x, t)
        snn(x, t)
    for h in hooks:
        h.remove()
    pre, q = grabbed["ann"]
    encoder = snn.head.layers[2]
    s = qann.head.layers[2].threshold
    assert isinstance(encoder, IFEncoder) and encoder.theta == s
    level = q * 3 / s  # QCFS level in {0, 1, 2, 3}
    count = grabbed["snn"].sum(0) / s  # spikes over the T = 3 steps
    assert torch.equal(count, torch.round(count)) and torch.equal(level.round(), count)
    assert bool((pre > 0).any()) and 0 < float((count > 0).double().mean()) < 1  # non-trivial
    torch.testing.assert_close(grabbed["snn"].mean(0), q, rtol=1e-12, atol=1e-12)


def test_window_timing_reproduces_the_quantized_ann(quantized):
    qann, x, t = quantized
    with torch.no_grad():
        torch.testing.assert_close(convert_unet(qann, timing="window")(x, t), qann(x, t))
        step = convert_unet(qann)(x, t)
    assert step.shape == x.shape and bool(torch.isfinite(step).all())


@pytest.mark.parametrize("bits", [1, 2, 3])
def test_steps_are_two_to_the_bits_minus_one(bits):
    ann = SpikingUNet(ch=8, ch_mult=(1,), steps=1, activation="relu")
    q = quantize_unet(ann, bits)
    levels = {m.levels for m in q.modules() if isinstance(m, ActQuant)}
    assert levels == {2**bits - 1}
    assert convert_unet(q).steps == 2**bits - 1
    assert not any(isinstance(m, ActQuant) for m in convert_unet(q).modules())


def test_structural_quantization_loads_a_trained_state(quantized):
    qann, x, t = quantized
    clone = quantize_unet(SpikingUNet(**{**qann.config()}).double(), 2)
    clone.load_state_dict(qann.state_dict())
    with torch.no_grad():
        assert torch.equal(clone.eval()(x, t), qann(x, t))


def test_bad_models_are_rejected():
    with pytest.raises(TypeError, match="ANN"):
        quantize_unet(SpikingUNet(ch=8, ch_mult=(1,), steps=4), 2)
    with pytest.raises(TypeError, match="QCFS"):
        convert_unet(SpikingUNet(ch=8, ch_mult=(1,), steps=1, activation="relu"))
    with pytest.raises(ValueError, match="timing"):
        convert_unet(quantize_unet(SpikingUNet(ch=8, ch_mult=(1,), steps=1, activation="relu"), 2), timing="late")
