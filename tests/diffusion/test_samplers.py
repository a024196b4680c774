"""Noise schedule and samplers: exact forward-process algebra, and sampling a known Gaussian
with its analytic noise predictor reproduces that Gaussian's mean and variance."""

import pytest
import torch

from spikegate.diffusion.samplers import ddim_sample, ddpm_sample
from spikegate.diffusion.schedule import NoiseSchedule

MU, SD = 0.3, 0.5
SCHEDULE = NoiseSchedule.linear()


def oracle(x, t):
    r"""E[eps | x_t] for x_0 ~ N(MU, SD^2): sqrt(1-ab) (x_t - sqrt(ab) MU) / (ab SD^2 + 1 - ab)."""
    ab = SCHEDULE.coef(SCHEDULE.alphas_bar, t, x)
    return (1 - ab).sqrt() * (x - ab.sqrt() * MU) / (ab * SD**2 + 1 - ab)


def test_linear_schedule_matches_ddpm():
    s = NoiseSchedule.linear(1000, 1e-4, 0.02)
    assert len(s) == 1000
    assert s.betas[0] == pytest.approx(1e-4) and s.betas[-1] == pytest.approx(0.02)
    assert s.alphas_bar[-1] == pytest.approx(4.04e-5, rel=0.01)  # DDPM's terminal signal level
    c = NoiseSchedule.cosine(100)
    assert bool((c.alphas_bar[1:] < c.alphas_bar[:-1]).all())


def test_q_sample_and_predict_x0_invert():
    x0 = torch.randn(8, 1, 4, 4, dtype=torch.float64)
    noise = torch.randn_like(x0)
    t = torch.arange(0, 1000, 125)
    xt = SCHEDULE.q_sample(x0, t, noise)
    torch.testing.assert_close(SCHEDULE.predict_x0(xt, t, noise), x0)


def test_timesteps_grid():
    g = SCHEDULE.timesteps(50)
    assert g[0] == 999 and g[-1] == 0 and len(g) == 50
    assert bool((g[1:] < g[:-1]).all())


@pytest.mark.parametrize(
    "sample",
    [
        pytest.param(lambda g: ddpm_sample(oracle, (4000, 1), SCHEDULE, variance="fixedlarge", clip_x0=False,
                                           generator=g, dtype=torch.float64), id="ddpm-fixedlarge-1000"),
        pytest.param(lambda g: ddpm_sample(oracle, (4000, 1), SCHEDULE, variance="fixedsmall", clip_x0=False,
                                           generator=g, dtype=torch.float64), id="ddpm-fixedsmall-1000"),
        pytest.param(lambda g: ddim_sample(oracle, (4000, 1), SCHEDULE, steps=1000, clip_x0=False,
                                           generator=g, dtype=torch.float64), id="ddim-1000"),
        pytest.param(lambda g: ddim_sample(oracle, (4000, 1), SCHEDULE, steps=250, eta=1.0, clip_x0=False,
                                           generator=g, dtype=torch.float64), id="ddim-eta1-250"),
    ],
)
def test_samplers_reproduce_gaussian_target(sample):
    x = sample(torch.Generator().manual_seed(1))
    # standard errors with 4000 samples: mean 0.008, std 0.006
    assert float(x.mean()) == pytest.approx(MU, abs=0.03)
    assert float(x.std()) == pytest.approx(SD, abs=0.03)


def test_ddim_converges_with_steps():
    g = torch.Generator()
    err = []
    for steps in (10, 100):
        x = ddim_sample(oracle, (4000, 1), SCHEDULE, steps=steps, clip_x0=False,
                        generator=g.manual_seed(2), dtype=torch.float64)
        err.append(abs(float(x.std()) - SD))
    assert err[1] < err[0] / 3


def test_same_seed_same_samples():
    a = ddpm_sample(oracle, (16, 1), SCHEDULE, steps=20, generator=torch.Generator().manual_seed(3))
    b = ddpm_sample(oracle, (16, 1), SCHEDULE, steps=20, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: NoiseSchedule(torch.tensor([0.1, 1.0])), "betas"),
        (lambda: NoiseSchedule.linear(0), "steps"),
        (lambda: SCHEDULE.timesteps(2000), "steps"),
        (lambda: SCHEDULE.q_sample(torch.zeros(2, 3), torch.tensor([0, 1000]), torch.zeros(2, 3)), "t must lie"),
        (lambda: SCHEDULE.q_sample(torch.zeros(2, 3), torch.tensor([0]), torch.zeros(2, 3)), "one step per sample"),
        (lambda: ddpm_sample(oracle, (4, 1), SCHEDULE, variance="large"), "variance"),
        (lambda: ddim_sample(oracle, (4, 1), SCHEDULE, eta=2.0), "eta"),
        (lambda: ddim_sample(oracle, (0, 1), SCHEDULE), "shape"),
    ],
)
def test_bad_arguments_raise(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
