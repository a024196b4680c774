"""The synthetic two-class sources of the LZC papers: shapes, balance, rates, temporal structure."""

import pytest
import torch

from spikegate.encoding.lzc import lzc
from spikegate.io.synthetic import SOURCES, lzc_source


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("kind", SOURCES)
def test_shapes_balance_and_seed(kind):
    a = lzc_source(kind, 40, channels=7, steps=60, motif_steps=20, generator=gen())
    b = lzc_source(kind, 40, channels=7, steps=60, motif_steps=20, generator=gen())
    assert a.x.shape == (40, 60, 7) and a.x.dtype == torch.uint8 and set(a.x.unique().tolist()) <= {0, 1}
    assert int((a.y == 1).sum()) == 20
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)


def class_rates(s):
    r = s.x.double().mean((1, 2))
    return r[s.y == 0].mean().item(), r[s.y == 1].mean().item()


def test_rate_source_rates_in_hz():
    r0, r1 = class_rates(lzc_source("rate", 400, rates=(20.0, 30.0), generator=gen()))
    assert r0 == pytest.approx(0.020, rel=0.03) and r1 == pytest.approx(0.030, rel=0.03)


@pytest.mark.parametrize("kind", ["markov", "motif"])
def test_same_rate_sources_differ_only_in_time(kind):
    s = lzc_source(kind, 400, generator=gen(1))
    r0, r1 = class_rates(s)
    assert r0 == pytest.approx(r1, rel=0.06)


def test_markov_bursts_repeat_spikes_and_lower_complexity():
    s = lzc_source("markov", 400, p=0.05, burst=0.5, generator=gen(2))
    x = s.x.double()
    repeat = (x[:, 1:] * x[:, :-1]).sum((1, 2)) / x[:, :-1].sum((1, 2))
    assert repeat[s.y == 0].mean() == pytest.approx(0.05, abs=0.01)
    assert repeat[s.y == 1].mean() == pytest.approx(0.5, abs=0.03)
    c = lzc(s.x.transpose(1, 2)).mean(1)
    assert c[s.y == 1].mean() < c[s.y == 0].mean()


def test_motif_is_the_same_in_every_class1_sample():
    s = lzc_source("motif", 20, channels=5, steps=30, rate=0.0, motif_steps=10, motif_rate=300.0, generator=gen(3))
    ones = s.x[s.y == 1]
    blocks = [x[x.any(1).nonzero()[0, 0]:][:10] for x in ones]  # background is silent: the block stands alone
    assert all(torch.equal(b, blocks[0]) for b in blocks)
    zeros = s.x[s.y == 0]
    assert not all(torch.equal(z, zeros[0]) for z in zeros)


@pytest.mark.parametrize("kw, match", [
    (dict(kind="nope"), "kind"), (dict(n=1), "n must be"), (dict(rates=(20.0,)), "two values"),
    (dict(kind="markov", burst=0.01), "burst"), (dict(kind="motif", motif_steps=500), "motif_steps"),
    (dict(rates=(20.0, 2000.0)), "probability"),
])
def test_bad_parameters(kw, match):
    args = dict(kind="rate", n=10) | kw
    with pytest.raises(ValueError, match=match):
        lzc_source(args.pop("kind"), args.pop("n"), **args)
