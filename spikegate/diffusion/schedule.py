r"""Noise schedules of Gaussian diffusion (Ho et al. 2020), the forward process and its posterior.

With :math:`\beta_t` for :math:`t = 1..T_{diff}` (stored 0-based, ``betas[t]`` for
``t = 0..T_diff-1``), :math:`\alpha_t = 1 - \beta_t` and :math:`\bar\alpha_t = \prod_{s \le t} \alpha_s`:

.. math::

    q(x_t \mid x_0) &= \mathcal N(\sqrt{\bar\alpha_t}\, x_0,\ (1 - \bar\alpha_t) I),
    \qquad x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \epsilon \\
    \hat x_0 &= \bigl(x_t - \sqrt{1 - \bar\alpha_t}\, \hat\epsilon\bigr) / \sqrt{\bar\alpha_t}

SDM (SPEC §4.1) uses the linear schedule :math:`\beta_1 = 10^{-4} \to \beta_T = 0.02` over
:math:`T_{diff} = 1000` steps with an :math:`\epsilon`-prediction network. The schedule keeps
its coefficients in float64 and hands them out in the dtype of the data.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from spikegate._validate import check_int, check_range, check_tensor


class NoiseSchedule:
    r"""A discrete variance schedule ``betas: [T_diff]`` (each in (0, 1)).

    Build one with :meth:`linear` (SDM/DDPM) or :meth:`cosine` (Nichol & Dhariwal 2021).
    Time indices ``t`` are 0-based integers in ``[0, T_diff)``; ``t = 0`` is the least noisy.
    """

    def __init__(self, betas: Tensor) -> None:
        betas = check_tensor(betas, "betas", ndim=1).to(torch.float64)
        if len(betas) < 1:
            raise ValueError("betas must hold at least one step")
        check_range(betas, "betas", 0.0, 1.0, low_open=True, high_open=True)
        self.betas = betas
        self.alphas_bar = torch.cumprod(1.0 - betas, dim=0)

    @classmethod
    def linear(cls, steps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> "NoiseSchedule":
        r""":math:`\beta_t` evenly spaced from ``beta_start`` to ``beta_end`` (DDPM, SDM)."""
        check_int(steps, "steps", minimum=1)
        check_range(beta_start, "beta_start", 0.0, 1.0, low_open=True, high_open=True)
        check_range(beta_end, "beta_end", 0.0, 1.0, low_open=True, high_open=True)
        return cls(torch.linspace(beta_start, beta_end, steps, dtype=torch.float64))

    @classmethod
    def cosine(cls, steps: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> "NoiseSchedule":
        r""":math:`\bar\alpha_t = f(t)/f(0)` with :math:`f(t) = \cos^2\!\bigl(\frac{t/T + s}{1 + s}\frac{\pi}{2}\bigr)`,
        :math:`\beta_t = \min(1 - \bar\alpha_t/\bar\alpha_{t-1}, \beta_{max})`."""
        check_int(steps, "steps", minimum=1)
        check_range(max_beta, "max_beta", 0.0, 1.0, low_open=True, high_open=True)
        u = torch.arange(steps + 1, dtype=torch.float64) / steps
        f = torch.cos((u + s) / (1 + s) * math.pi / 2) ** 2
        return cls((1 - f[1:] / f[:-1]).clamp(max=max_beta))

    def __len__(self) -> int:
        return len(self.betas)

    def _check_t(self, t: Tensor, batch: int) -> Tensor:
        if not isinstance(t, Tensor) or t.dtype not in (torch.int32, torch.int64) or t.dim() != 1:
            raise TypeError("t must be a 1-D integer tensor of diffusion steps")
        if len(t) != batch:
            raise ValueError(f"t must have one step per sample ({batch}), got {len(t)}")
        if len(t) and (int(t.min()) < 0 or int(t.max()) >= len(self)):
            raise ValueError(f"t must lie in [0, {len(self)}), got values in [{int(t.min())}, {int(t.max())}]")
        return t

    def coef(self, values: Tensor, t: Tensor, like: Tensor) -> Tensor:
        """``values[t]`` shaped ``[B, 1, 1, ...]`` to broadcast against ``like: [B, ...]``."""
        self._check_t(t, like.shape[0])
        out = values.to(like.device)[t].to(like.dtype)
        return out.view(-1, *([1] * (like.dim() - 1)))

    def q_sample(self, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        r"""Noised data :math:`x_t = \sqrt{\bar\alpha_t} x_0 + \sqrt{1 - \bar\alpha_t}\,\epsilon`;
        ``x0, noise: [B, ...]``, ``t: [B]``."""
        check_tensor(x0, "x0")
        check_tensor(noise, "noise")
        if noise.shape != x0.shape:
            raise ValueError(f"noise must have the shape of x0 {tuple(x0.shape)}, got {tuple(noise.shape)}")
        ab = self.coef(self.alphas_bar, t, x0)
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise

    def predict_x0(self, x_t: Tensor, t: Tensor, eps: Tensor) -> Tensor:
        r""":math:`\hat x_0 = (x_t - \sqrt{1 - \bar\alpha_t}\,\hat\epsilon) / \sqrt{\bar\alpha_t}`."""
        ab = self.coef(self.alphas_bar, t, x_t)
        return (x_t - (1 - ab).sqrt() * eps) / ab.sqrt()

    def sample_t(self, batch: int, *, generator: torch.Generator | None = None, device: torch.device | str = "cpu") -> Tensor:
        """Training steps drawn uniformly from ``[0, T_diff)``: ``[batch]`` int64."""
        return torch.randint(len(self), (batch,), generator=generator, device=device)

    def timesteps(self, steps: int) -> Tensor:
        """``steps`` evenly spaced diffusion steps from ``T_diff - 1`` down to 0 (the sampling
        grid of DDIM and of respaced DDPM), int64, strictly decreasing."""
        check_int(steps, "steps", minimum=1)
        if steps > len(self):
            raise ValueError(f"steps must be <= T_diff ({len(self)}), got {steps}")
        grid = torch.linspace(len(self) - 1, 0, steps, dtype=torch.float64).round().long()
        return torch.unique_consecutive(grid)
