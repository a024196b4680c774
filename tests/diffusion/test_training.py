"""Training loop: the loss falls, EMA arithmetic, exact resume, frozen batch norms."""

import copy

import pytest
import torch

from spikegate.diffusion import EMA, NoiseSchedule, SpikingUNet, Trainer
from spikegate.diffusion.training import diffusion_loss

SCHEDULE = NoiseSchedule.linear(1000)


def tiny(**kw):
    torch.manual_seed(0)
    return SpikingUNet(**{"ch": 8, "ch_mult": (1, 2), "steps": 2, **kw})


def data(n=64):
    g = torch.Generator().manual_seed(0)
    digit = torch.zeros(1, 1, 8, 8)
    digit[..., 2:6, 3:5] = 1.0
    return (digit * 2 - 1).expand(n, 1, 8, 8) + 0.05 * torch.randn(n, 1, 8, 8, generator=g)


def test_spiking_unet_loss_falls_by_half():
    trainer = Trainer(tiny(), SCHEDULE, lr=3e-3, generator=torch.Generator().manual_seed(1))
    losses = trainer.run(data(), 30, batch_size=8)
    assert float(losses[-10:].mean()) < 0.5 * float(losses[:5].mean())


def test_ema_update_arithmetic():
    model = torch.nn.Linear(2, 1)
    ema = EMA(model, decay=0.9)
    before = ema.model.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(1.0)
    ema.update(model)
    torch.testing.assert_close(ema.model.weight, 0.9 * before + 0.1 * model.weight)
    assert not ema.model.weight.requires_grad


def test_resume_from_state_is_exact():
    x = data(32)
    a = Trainer(tiny(), SCHEDULE, lr=1e-3, warmup=3, ema_decay=0.9, generator=torch.Generator().manual_seed(2))
    full = a.run(x, 4, batch_size=4)
    b = Trainer(tiny(), SCHEDULE, lr=1e-3, warmup=3, ema_decay=0.9, generator=torch.Generator().manual_seed(2))
    first = b.run(x, 2, batch_size=4)
    state = copy.deepcopy(b.state_dict())
    c = Trainer(tiny(), SCHEDULE, lr=1e-3, warmup=3, ema_decay=0.9, generator=torch.Generator().manual_seed(99))
    c.load_state_dict(copy.deepcopy(state))  # Adam's moments are loaded without a copy
    second = c.run(x, 2, batch_size=4)
    assert c.step == 4
    assert torch.equal(torch.cat([first, second]), full)
    # a state written before the trainer had rate multipliers resumes too
    for group in state["optimizer"]["param_groups"]:
        del group["lr_mult"]
    d = Trainer(tiny(), SCHEDULE, lr=1e-3, warmup=3, ema_decay=0.9)
    d.load_state_dict(state)
    assert torch.equal(d.run(x, 2, batch_size=4), second)
    for p, q in zip(a.sampling_model.state_dict().values(), c.sampling_model.state_dict().values()):
        assert torch.equal(p, q)


def test_learning_rate_warms_up_then_anneals_to_zero():
    t = Trainer(tiny(), SCHEDULE, lr=1e-3, warmup=4, total_steps=20, anneal=10)
    rates = [t.lr_at(k) for k in range(20)]
    assert rates[:4] == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3])
    assert rates[4:11] == pytest.approx([1e-3] * 7)  # constant until the anneal starts at step 10
    assert rates[15] == pytest.approx(0.5e-3)  # half way down the cosine
    assert all(a > b for a, b in zip(rates[10:], rates[11:])) and rates[19] < 3e-5
    t.run(data(8), 3, batch_size=4)
    assert t.optimizer.param_groups[0]["lr"] == pytest.approx(t.lr_at(2))
    with pytest.raises(ValueError, match="anneal"):
        Trainer(tiny(), SCHEDULE, anneal=10)
    with pytest.raises(ValueError, match="anneal"):
        Trainer(tiny(), SCHEDULE, total_steps=5, anneal=10)


def test_lr_multipliers_scale_the_named_parameters():
    model = tiny().enable_tsm()
    t = Trainer(model, SCHEDULE, lr=1e-3, lr_multipliers={"gain": 10.0})
    t.run(data(8), 2, batch_size=4)
    rates = {id(p): g["lr"] for g in t.optimizer.param_groups for p in g["params"]}
    for name, p in model.named_parameters():
        assert rates[id(p)] == pytest.approx(1e-2 if name.endswith(".gain") else 1e-3)
    assert any(name.endswith(".gain") for name, _ in model.named_parameters())
    with pytest.raises(ValueError, match="lr_multipliers"):
        Trainer(tiny(), SCHEDULE, lr_multipliers={"gain": 0.0})


def test_norm_eval_freezes_batch_norm_statistics():
    model = tiny()
    bn = model.head.layers[1]
    stats = {k: v.clone() for k, v in bn.state_dict().items() if k.startswith(("running", "num_batches"))}
    Trainer(model, SCHEDULE, norm_eval=True).run(data(16), 2, batch_size=4)
    assert all(torch.equal(v, bn.state_dict()[k]) for k, v in stats.items())
    Trainer(model, SCHEDULE).run(data(16), 1, batch_size=4)
    assert not torch.equal(stats["running_mean"], bn.running_mean)


def test_diffusion_loss_is_noise_mse():
    model = lambda x, t: torch.zeros_like(x)  # noqa: E731 - predicts no noise: loss = E[eps^2] = 1
    loss = diffusion_loss(model, torch.zeros(4000, 1, 2, 2), SCHEDULE, generator=torch.Generator().manual_seed(0))
    assert float(loss) == pytest.approx(1.0, abs=0.03)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: Trainer(tiny(), SCHEDULE, lr=0.0), "lr"),
        (lambda: Trainer(tiny(), SCHEDULE).run(data(4)[0], 1), "4 dimensions"),
        (lambda: Trainer(tiny(), SCHEDULE).run(data(4), 0), "steps"),
        (lambda: Trainer(tiny(), SCHEDULE, ema_decay=1.0), "decay"),
        (lambda: Trainer(tiny(), SCHEDULE).load_state_dict(Trainer(tiny(), SCHEDULE, ema_decay=0.5).state_dict()), "EMA"),
    ],
)
def test_bad_arguments_raise(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
