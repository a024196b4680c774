r"""Reverse-process samplers for an :math:`\epsilon`-prediction network: DDPM and DDIM.

Both walk a decreasing grid of diffusion steps :math:`\tau_K > \dots > \tau_1` (all
``T_diff`` steps, or an evenly spaced subset from :meth:`NoiseSchedule.timesteps`). For a pair
:math:`t = \tau_k`, :math:`s = \tau_{k-1}` (:math:`\bar\alpha_s := 1` after the last step), with
:math:`\hat x_0` from :meth:`NoiseSchedule.predict_x0`:

**DDPM** (ancestral, Ho et al. 2020; on a sub-grid the "respaced" chain with
:math:`\beta' = 1 - \bar\alpha_t/\bar\alpha_s`):

.. math::

    x_s = \frac{\sqrt{\bar\alpha_s}\,\beta'}{1 - \bar\alpha_t}\hat x_0
        + \frac{\sqrt{1 - \beta'}\,(1 - \bar\alpha_s)}{1 - \bar\alpha_t} x_t + \sigma z,
    \qquad \sigma^2 = \begin{cases} \beta' & \texttt{"fixedlarge"} \text{ (SDM)}\\
        \beta' (1 - \bar\alpha_s)/(1 - \bar\alpha_t) & \texttt{"fixedsmall"}\end{cases}

**DDIM** (Song et al. 2021), :math:`\eta = 0` deterministic:

.. math::

    x_s = \sqrt{\bar\alpha_s}\,\hat x_0 + \sqrt{1 - \bar\alpha_s - \sigma^2}\,\hat\epsilon + \sigma z,
    \qquad \sigma = \eta \sqrt{\tfrac{1 - \bar\alpha_s}{1 - \bar\alpha_t}}\sqrt{1 - \bar\alpha_t/\bar\alpha_s}

No noise is added on the last step. ``model(x_t: [B, *shape], t: [B] int64) -> eps`` is any
noise predictor (a spiking U-Net, an ANN, or an analytic one); it is called under
``torch.no_grad``. With ``clip_x0`` the prediction :math:`\hat x_0` is clipped to [-1, 1]
(data scaled to that range), as in the DDPM reference code.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor

from spikegate._validate import check_choice, check_int, check_range
from spikegate.diffusion.schedule import NoiseSchedule

EpsModel = Callable[[Tensor, Tensor], Tensor]
VARIANCES: tuple[str, ...] = ("fixedlarge", "fixedsmall")


def _start(shape: Sequence[int], generator: torch.Generator | None, device, dtype) -> Tensor:
    shape = tuple(int(s) for s in shape)
    if len(shape) < 1 or min(shape) < 1:
        raise ValueError(f"shape must be [B, ...] with every size >= 1, got {shape}")
    return torch.randn(shape, generator=generator, dtype=dtype, device=device)


def _grid(schedule: NoiseSchedule, steps: int | None) -> list[int]:
    if not isinstance(schedule, NoiseSchedule):
        raise TypeError(f"schedule must be a NoiseSchedule, got {type(schedule).__name__}")
    return schedule.timesteps(len(schedule) if steps is None else steps).tolist()


def _steps(grid: list[int], progress: bool, desc: str):
    """``(t, s)`` pairs of the walk: each diffusion step and the next one (``None`` after the last),
    with a progress bar when asked."""
    pairs = list(zip(grid, [*grid[1:], None]))
    if not progress:
        return pairs
    from tqdm import tqdm

    return tqdm(pairs, desc=desc, unit="step", leave=False)


def _predict(model: EpsModel, schedule: NoiseSchedule, x: Tensor, t: int, s: int | None,
             clip_x0: bool) -> tuple[float, float, Tensor, Tensor]:
    """One model call at diffusion step ``t`` before step ``s`` (``None``: the end):
    ``(alpha_bar_t, alpha_bar_s, x0, eps)``; with ``clip_x0`` the predicted :math:`x_0` is clipped
    to [-1, 1] and ``eps`` recomputed from it, :math:`\\epsilon = (x - \\sqrt{\\bar\\alpha_t} x_0) /
    \\sqrt{1 - \\bar\\alpha_t}`."""
    ab = schedule.alphas_bar
    ab_t, ab_s = float(ab[t]), (float(ab[s]) if s is not None else 1.0)
    tt = torch.full((x.shape[0],), t, dtype=torch.long, device=x.device)
    eps = model(x, tt)
    x0 = schedule.predict_x0(x, tt, eps)
    if clip_x0:
        x0 = x0.clamp(-1.0, 1.0)
        eps = (x - ab_t**0.5 * x0) / (1 - ab_t) ** 0.5
    return ab_t, ab_s, x0, eps


@torch.no_grad()
def ddpm_sample(
    model: EpsModel,
    shape: Sequence[int],
    schedule: NoiseSchedule,
    *,
    steps: int | None = None,
    variance: str = "fixedlarge",
    clip_x0: bool = True,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    progress: bool = False,
) -> Tensor:
    """Ancestral DDPM sampling from pure noise; ``steps=None`` walks all ``T_diff`` steps.
    Returns :math:`x_0` of ``shape``."""
    check_choice(variance, "variance", VARIANCES)
    grid = _grid(schedule, steps)
    x = _start(shape, generator, device, dtype)
    for t, s in _steps(grid, progress, "DDPM"):
        ab_t, ab_s, x0, _ = _predict(model, schedule, x, t, s, clip_x0)
        beta = 1.0 - ab_t / ab_s
        mean = (ab_s**0.5 * beta / (1 - ab_t)) * x0 + ((1 - beta) ** 0.5 * (1 - ab_s) / (1 - ab_t)) * x
        if s is None:
            x = mean
            continue
        var = beta if variance == "fixedlarge" else beta * (1 - ab_s) / (1 - ab_t)
        x = mean + var**0.5 * torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    return x


@torch.no_grad()
def ddim_sample(
    model: EpsModel,
    shape: Sequence[int],
    schedule: NoiseSchedule,
    *,
    steps: int = 50,
    eta: float = 0.0,
    clip_x0: bool = True,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    progress: bool = False,
) -> Tensor:
    """DDIM sampling on ``steps`` evenly spaced diffusion steps (``eta = 0``: deterministic
    given the initial noise; ``eta = 1``: the DDPM ``"fixedsmall"`` chain). Returns :math:`x_0`."""
    check_int(steps, "steps", minimum=1)
    check_range(eta, "eta", 0.0, 1.0)
    grid = _grid(schedule, steps)
    x = _start(shape, generator, device, dtype)
    for t, s in _steps(grid, progress, "DDIM"):
        ab_t, ab_s, x0, eps = _predict(model, schedule, x, t, s, clip_x0)
        if s is None:
            x = x0
            continue
        sigma = eta * ((1 - ab_s) / (1 - ab_t) * (1 - ab_t / ab_s)) ** 0.5
        x = ab_s**0.5 * x0 + max(1 - ab_s - sigma**2, 0.0) ** 0.5 * eps
        if sigma > 0:
            x = x + sigma * torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    return x
