r"""Training of an :math:`\epsilon`-prediction diffusion model (DDPM algorithm 1, SDM eq. 25).

Each step draws a batch :math:`x_0`, steps :math:`t \sim U\{0..T_{diff}-1\}` and noise
:math:`\epsilon \sim \mathcal N(0, I)`, and minimises
:math:`L = \frac{1}{N}\sum_i \lVert \hat\epsilon_\theta(x_t, t) - \epsilon \rVert^2` (mean over
pixels) with AdamW, gradient-norm clipping and an optional exponential moving average (EMA)
of the weights. The spiking U-Net trains by backpropagation through its spike steps with the
neurons' surrogate gradients (STBP).
"""

from __future__ import annotations

import copy
from typing import Callable, NamedTuple

import torch
from torch import Tensor, nn

from spikegate._validate import check_int, check_positive, check_range, check_tensor
from spikegate.diffusion.schedule import NoiseSchedule


def diffusion_loss(
    model: nn.Module, x0: Tensor, schedule: NoiseSchedule, *, generator: torch.Generator | None = None
) -> Tensor:
    r"""Mean squared error of the predicted noise on one batch ``x0: [B, ...]`` (scalar)."""
    t = schedule.sample_t(x0.shape[0], generator=generator, device=x0.device)
    noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype, device=x0.device)
    return torch.mean((model(schedule.q_sample(x0, t, noise), t) - noise) ** 2)


class EMA:
    r"""Exponential moving average of a model: :math:`\bar\theta \leftarrow d\,\bar\theta + (1-d)\,\theta`
    for floating parameters and buffers (batch-norm running statistics included); integer
    buffers are copied. ``model`` is the averaged copy, in eval mode."""

    def __init__(self, model: nn.Module, decay: float = 0.999) -> None:
        check_range(decay, "decay", 0.0, 1.0, high_open=True)
        self.decay = float(decay)
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        live = model.state_dict()
        for name, avg in self.model.state_dict().items():
            if avg.is_floating_point():
                avg.mul_(self.decay).add_(live[name].detach(), alpha=1 - self.decay)
            else:
                avg.copy_(live[name])


class TrainResult(NamedTuple):
    """losses: loss of every step ``[steps]``; ema: the averaged model (``None`` without EMA)."""

    losses: Tensor
    ema: nn.Module | None


def train(
    model: nn.Module,
    data: Tensor,
    schedule: NoiseSchedule,
    *,
    steps: int,
    batch_size: int = 64,
    lr: float = 2e-4,
    weight_decay: float = 0.0,
    grad_clip: float = 1.0,
    warmup: int = 0,
    ema_decay: float | None = None,
    ema: nn.Module | None = None,
    generator: torch.Generator | None = None,
    callback: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Train ``model`` in place on images ``data: [N, C, H, W]`` in [-1, 1] for ``steps`` steps.

    The learning rate rises linearly over ``warmup`` steps. With ``ema_decay`` an :class:`EMA`
    is kept (started from ``ema``, a previous average with the same architecture, if given).
    ``callback(step, loss)`` runs after every step (progress bars, checkpoints).
    """
    check_tensor(data, "data", ndim=4)
    check_int(steps, "steps", minimum=1)
    check_int(batch_size, "batch_size", minimum=1)
    check_int(warmup, "warmup")
    check_positive(lr, "lr")
    check_positive(grad_clip, "grad_clip")
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    averaged = None
    if ema_decay is not None:
        averaged = EMA(model, ema_decay)
        if ema is not None:
            averaged.model.load_state_dict(ema.state_dict())
    model.train()
    losses = torch.empty(steps)
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / warmup) if warmup else lr
        idx = torch.randint(len(data), (batch_size,), generator=generator)
        loss = diffusion_loss(model, data[idx], schedule, generator=generator)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(params, grad_clip)
        opt.step()
        if averaged is not None:
            averaged.update(model)
        losses[step] = loss.detach()
        if callback is not None:
            callback(step, float(losses[step]))
    model.eval()
    return TrainResult(losses, None if averaged is None else averaged.model)
