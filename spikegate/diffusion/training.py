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
import math
from typing import Any, Callable

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


class Trainer:
    r"""Trains ``model`` in place: AdamW, gradient-norm clipping, a linear learning-rate warm-up
    over ``warmup`` steps, an optional cosine anneal to zero over the last ``anneal`` of
    ``total_steps`` steps (learning rate
    :math:`\eta_k = \eta \cdot \tfrac12 (1 + \cos(\pi (k - k_0) / K_a))` for
    :math:`k_0 = \text{total} - K_a \le k < \text{total}`; a constant rate leaves the weights
    of a small-batch diffusion model wandering, and sample quality with them) and, with
    ``ema_decay``, an :class:`EMA` (started from ``ema_init``, an averaged model of the same
    architecture, when given; else from ``model``).
    ``lr_multipliers`` scales the rate of every parameter whose name is a key or ends in ``.key``
    (e.g. ``{"gain": 10}`` for the few TSM gains among the convolution weights).
    ``norm_eval`` keeps the batch norms in eval mode (running statistics, frozen) while the
    rest trains: the fine-tuning of a converted network, whose thresholds were set for them.

    The trainer owns its optimizer, average, random generator and step count, so training
    can run in chunks (``run`` several times) and resume from :meth:`state_dict` exactly.
    """

    def __init__(
        self,
        model: nn.Module,
        schedule: NoiseSchedule,
        *,
        lr: float = 2e-4,
        weight_decay: float = 0.0,
        grad_clip: float = 1.0,
        warmup: int = 0,
        total_steps: int | None = None,
        anneal: int = 0,
        ema_decay: float | None = None,
        ema_init: nn.Module | None = None,
        norm_eval: bool = False,
        lr_multipliers: dict[str, float] | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        check_positive(lr, "lr")
        check_positive(grad_clip, "grad_clip")
        check_int(warmup, "warmup")
        check_int(anneal, "anneal")
        if anneal and (total_steps is None or check_int(total_steps, "total_steps", minimum=1) < anneal):
            raise ValueError(f"anneal ({anneal}) needs total_steps >= anneal, got {total_steps}")
        self.model, self.schedule = model, schedule
        self.lr, self.grad_clip, self.warmup = float(lr), float(grad_clip), warmup
        self.total_steps, self.anneal = total_steps, anneal
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self.params = [p for _, p in named]
        mults = dict(lr_multipliers or {})
        for key, m in mults.items():
            check_positive(m, f"lr_multipliers[{key!r}]")
        groups: dict[float, list] = {}
        for n, p in named:
            m = next((v for k, v in mults.items() if n == k or n.endswith("." + k)), 1.0)
            groups.setdefault(float(m), []).append(p)
        self.optimizer = torch.optim.AdamW([{"params": ps, "lr_mult": m} for m, ps in groups.items()], lr=lr,
                                           weight_decay=weight_decay)
        self.ema = None if ema_decay is None else EMA(ema_init if ema_init is not None else model, ema_decay)
        self.generator = generator if generator is not None else torch.Generator()
        self.norm_eval = bool(norm_eval)
        self.step = 0

    def lr_at(self, step: int) -> float:
        """The learning rate of optimisation step ``step`` (counted from 0)."""
        scale = min(1.0, (step + 1) / self.warmup) if self.warmup else 1.0
        if self.anneal:
            start = self.total_steps - self.anneal
            if step >= start:
                scale *= 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - start) / self.anneal)))
        return self.lr * scale

    @property
    def sampling_model(self) -> nn.Module:
        """The model to sample from: the average when there is one."""
        return self.model if self.ema is None else self.ema.model

    def run(
        self, data: Tensor, steps: int, *, batch_size: int = 64, callback: Callable[[int, float], None] | None = None
    ) -> Tensor:
        """``steps`` optimisation steps on images ``data: [N, C, H, W]`` in [-1, 1], batches
        drawn with replacement; returns their losses ``[steps]``. ``callback(step, loss)``
        runs after every step (``step`` counts from the trainer's start)."""
        check_tensor(data, "data", ndim=4)
        check_int(steps, "steps", minimum=1)
        check_int(batch_size, "batch_size", minimum=1)
        self.model.train()
        if self.norm_eval:
            for m in self.model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        losses = torch.empty(steps)
        for i in range(steps):
            for group in self.optimizer.param_groups:
                group["lr"] = self.lr_at(self.step) * group["lr_mult"]
            idx = torch.randint(len(data), (batch_size,), generator=self.generator)
            loss = diffusion_loss(self.model, data[idx], self.schedule, generator=self.generator)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(self.params, self.grad_clip)
            self.optimizer.step()
            if self.ema is not None:
                self.ema.update(self.model)
            losses[i] = loss.detach()
            self.step += 1
            if callback is not None:
                callback(self.step, float(losses[i]))
        self.model.eval()
        return losses

    def state_dict(self) -> dict[str, Any]:
        """Everything to resume: model, optimizer, average, generator state and step."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "ema": None if self.ema is None else self.ema.model.state_dict(),
            "generator": self.generator.get_state(),
            "step": self.step,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if (state.get("ema") is None) != (self.ema is None):
            raise ValueError("the state and this trainer disagree on keeping an EMA")
        self.model.load_state_dict(state["model"])
        # the rate multipliers belong to this trainer (older states do not carry them)
        mults = [group["lr_mult"] for group in self.optimizer.param_groups]
        self.optimizer.load_state_dict(state["optimizer"])
        for group, mult in zip(self.optimizer.param_groups, mults):
            group["lr_mult"] = mult
        if self.ema is not None:
            self.ema.model.load_state_dict(state["ema"])
        self.generator.set_state(state["generator"])
        self.step = int(state["step"])
