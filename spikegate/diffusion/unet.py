r"""Spiking U-Net noise predictor of Spiking Diffusion Models (SDM; SPEC §4.2, following the code).

The pytorch-ddpm U-Net without attention, every activation replaced by a spiking neuron
(default: IF, :math:`\beta = 1`, :math:`\vartheta = 1`, hard reset to 0, atan surrogate with
:math:`\alpha = 2`), run for ``steps`` = :math:`T` spike steps. Tensors inside are time-major
``[T, B, C, H, W]``; convolutions and batch norms see time folded into the batch
(:class:`spikegate.neurons.Sequential`), so their statistics pool over steps and samples.

* **Encoder** (direct encoding): :math:`x_t` repeated over the :math:`T` steps;
  conv3x3 -> BN -> neuron -> conv3x3 -> BN gives the real-valued :math:`h`.
* **Pre-spike residual block**: :math:`a = \mathrm{BN}(\mathrm{Conv}(\mathrm{IF}(h))) +
  \mathrm{Linear}(\mathrm{Swish}(e_t))`, :math:`b = \mathrm{BN}(\mathrm{Conv}(\mathrm{IF}(a)))`,
  out :math:`= b + \mathrm{shortcut}(h)` (identity, or a 1x1 conv of the real-valued input).
  Real values are added *before* the next neuron, so every spike stays binary (SDM eqs. 12-15).
* **Down / up**: IF -> stride-2 conv3x3 -> BN; IF -> nearest x2 -> conv3x3 -> BN. Skips
  concatenate real-valued tensors along channels.
* **Time embedding** :math:`e_t`: sinusoidal(t) -> Linear -> Swish -> Linear (dimension 4 ch),
  real-valued and shared by all spike steps.
* **Output** (``decode="membrane"``, SDM): per step BN -> Swish -> conv3x3 to the image
  channels, then :math:`h \mathrel{+}= \mathrm{Swish}(\mathrm{BN}(\mathrm{Conv}(h)))` (the
  code's Conv3d with kernel (3, 3, 1) over (H, W, T), i.e. a 3x3 conv per step), then the
  membrane read-out :math:`\hat\epsilon = \sum_{n=1}^{T} d^{T-n} h[n]` with :math:`d = 0.8`.
  ``decode="rate"`` averages the body's output over the steps and runs the output layers once
  on that mean: the read-out of a rate-coded network converted from an ANN (SPEC §4.7).

With ``activation="relu"`` and ``steps=1`` the same class is the ANN U-Net (the starting point
of the ANN-to-SNN path in :mod:`spikegate.diffusion.conversion`).
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable, Sequence

import torch
from torch import Tensor, nn

from spikegate._validate import check_choice, check_int, check_range, check_tensor
from spikegate.diffusion.tsm import TSM, add_tsm
from spikegate.neurons import LIF, Sequential

DECODES: tuple[str, ...] = ("membrane", "rate")
ACTIVATIONS: tuple[str, ...] = ("spike", "relu")


def _conv(cin: int, cout: int, k: int = 3, stride: int = 1) -> nn.Conv2d:
    conv = nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2)
    nn.init.xavier_uniform_(conv.weight)
    nn.init.zeros_(conv.bias)
    return conv


def _linear(cin: int, cout: int) -> nn.Linear:
    lin = nn.Linear(cin, cout)
    nn.init.xavier_uniform_(lin.weight)
    nn.init.zeros_(lin.bias)
    return lin


def _timewise(layer: nn.Module, x: Tensor) -> Tensor:
    """Apply a stateless layer to ``x: [T, B, ...]`` with time folded into the batch."""
    return layer(x.flatten(0, 1)).unflatten(0, x.shape[:2])


def sinusoidal_embedding(t: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    r"""``[B] -> [B, dim]``: :math:`(\sin(t\,\omega_k), \cos(t\,\omega_k))` interleaved, with
    :math:`\omega_k = \text{max\_period}^{-2k/\text{dim}}` (the DDPM / SDM embedding)."""
    half = torch.arange(0, dim, 2, dtype=torch.float32, device=t.device) / dim
    freq = torch.exp(-math.log(max_period) * half)
    arg = t.to(torch.float32)[:, None] * freq[None, :]
    return torch.stack([torch.sin(arg), torch.cos(arg)], dim=-1).flatten(1)


class TimeEmbedding(nn.Module):
    """Diffusion-step embedding ``t: [B] -> [B, dim]``: sinusoidal(ch) -> Linear -> Swish -> Linear."""

    def __init__(self, ch: int, dim: int) -> None:
        super().__init__()
        self.ch = ch
        self.mlp = nn.Sequential(_linear(ch, dim), nn.SiLU(), _linear(dim, dim))

    def forward(self, t: Tensor) -> Tensor:
        return self.mlp(sinusoidal_embedding(t, self.ch).to(self.mlp[0].weight.dtype))


class ResBlock(nn.Module):
    """Pre-spike residual block (module docstring); ``forward(h: [T, B, Cin, H, W], temb: [B, D])``."""

    def __init__(self, cin: int, cout: int, tdim: int, act: Callable[[], nn.Module]) -> None:
        super().__init__()
        self.block1 = Sequential(act(), _conv(cin, cout), nn.BatchNorm2d(cout))
        self.temb = nn.Sequential(nn.SiLU(), _linear(tdim, cout))
        self.block2 = Sequential(act(), _conv(cout, cout), nn.BatchNorm2d(cout))
        self.shortcut = _conv(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, h: Tensor, temb: Tensor) -> Tensor:
        a, _ = self.block1(h)
        a = a + self.temb(temb)[None, :, :, None, None]
        b, _ = self.block2(a)
        return b + _timewise(self.shortcut, h)


class Resample(nn.Module):
    """IF -> stride-2 conv -> BN (``up=False``) or IF -> nearest x2 -> conv -> BN (``up=True``)."""

    def __init__(self, ch: int, up: bool, act: Callable[[], nn.Module]) -> None:
        super().__init__()
        if up:
            self.block = Sequential(act(), nn.Upsample(scale_factor=2, mode="nearest"), _conv(ch, ch), nn.BatchNorm2d(ch))
        else:
            self.block = Sequential(act(), _conv(ch, ch, stride=2), nn.BatchNorm2d(ch))

    def forward(self, h: Tensor, temb: Tensor) -> Tensor:
        return self.block(h)[0]


class SpikingUNet(nn.Module):
    r"""Spiking U-Net :math:`\hat\epsilon_\theta(x_t, t)` (module docstring).

    Args:
        in_channels: image channels.
        ch: base channels; level ``i`` has ``ch * ch_mult[i]``; the time embedding ``4 ch``.
        ch_mult: channel multipliers; one down-sampling between consecutive levels, so the
            image side must be divisible by ``2 ** (len(ch_mult) - 1)``.
        num_res_blocks: residual blocks per level on the way down (one more on the way up).
        steps: spike steps :math:`T`.
        diffusion_steps: :math:`T_{diff}` (kept for the checkpoint; the embedding takes any t).
        beta, threshold, reset, surrogate: the neurons (:class:`spikegate.neurons.LIF`);
            default IF with hard reset to 0 as in SDM.
        readout_decay: :math:`d` of the membrane read-out.
        decode: ``"membrane"`` (SDM) or ``"rate"`` (converted networks).
        tsm: wrap the convolutions in :class:`~spikegate.diffusion.tsm.TSM` layers, as SDM's
            ``TSMConv2d`` does (all but the per-step output refinement conv).
        activation: ``"spike"`` (the neurons above) or ``"relu"`` (ANN U-Net).

    ``forward(x: [B, C, H, W], t: [B] int64) -> eps [B, C, H, W]``; neuron states start from
    rest on every call (each call is one denoising step).
    """

    def __init__(
        self,
        in_channels: int = 1,
        ch: int = 16,
        ch_mult: Sequence[int] = (1, 2, 2),
        num_res_blocks: int = 1,
        steps: int = 4,
        diffusion_steps: int = 1000,
        *,
        beta: float = 1.0,
        threshold: float = 1.0,
        reset: str = "zero",
        surrogate: str = "atan",
        readout_decay: float = 0.8,
        decode: str = "membrane",
        tsm: bool = False,
        activation: str = "spike",
    ) -> None:
        super().__init__()
        for name, v in (("in_channels", in_channels), ("ch", ch), ("steps", steps), ("diffusion_steps", diffusion_steps)):
            check_int(v, name, minimum=1)
        check_int(num_res_blocks, "num_res_blocks", minimum=0)
        if ch % 2:
            raise ValueError(f"ch must be even (sinusoidal embedding), got {ch}")
        ch_mult = tuple(ch_mult)
        if not ch_mult or any(isinstance(m, bool) or not isinstance(m, int) or m < 1 for m in ch_mult):
            raise ValueError(f"ch_mult must be a non-empty sequence of positive ints, got {ch_mult}")
        check_range(readout_decay, "readout_decay", 0.0, 1.0, low_open=True)
        self.decode = check_choice(decode, "decode", DECODES)
        check_choice(activation, "activation", ACTIVATIONS)
        self._config: dict[str, Any] = dict(
            in_channels=in_channels, ch=ch, ch_mult=list(ch_mult), num_res_blocks=num_res_blocks, steps=steps,
            diffusion_steps=diffusion_steps, beta=beta, threshold=threshold, reset=reset, surrogate=surrogate,
            readout_decay=readout_decay, decode=decode, tsm=tsm, activation=activation,
        )
        act: Callable[[], nn.Module] = nn.ReLU
        if activation == "spike":
            act = functools.partial(LIF, beta, threshold, reset, surrogate=surrogate)
            act()  # validates the neuron arguments once

        self.steps = steps
        self.levels = len(ch_mult)
        self.readout_decay = float(readout_decay)
        tdim = 4 * ch
        self.time_embedding = TimeEmbedding(ch, tdim)
        self.head = Sequential(_conv(in_channels, ch), nn.BatchNorm2d(ch), act(), _conv(ch, ch), nn.BatchNorm2d(ch))
        self.down = nn.ModuleList()
        chans, now = [ch], ch
        for i, mult in enumerate(ch_mult):
            for _ in range(num_res_blocks):
                self.down.append(ResBlock(now, ch * mult, tdim, act))
                now = ch * mult
                chans.append(now)
            if i != len(ch_mult) - 1:
                self.down.append(Resample(now, up=False, act=act))
                chans.append(now)
        self.middle = nn.ModuleList([ResBlock(now, now, tdim, act), ResBlock(now, now, tdim, act)])
        self.up = nn.ModuleList()
        for i, mult in reversed(list(enumerate(ch_mult))):
            for _ in range(num_res_blocks + 1):
                self.up.append(ResBlock(chans.pop() + now, ch * mult, tdim, act))
                now = ch * mult
            if i != 0:
                self.up.append(Resample(now, up=True, act=act))
        self.tail = nn.Sequential(nn.BatchNorm2d(now), nn.SiLU(), _conv(now, in_channels))
        self.refine = nn.Sequential(_conv(in_channels, in_channels), nn.BatchNorm2d(in_channels), nn.SiLU())
        if tsm:
            self.enable_tsm()

    def config(self) -> dict[str, Any]:
        """Constructor arguments (plain values) that rebuild this architecture."""
        return dict(self._config)

    def enable_tsm(self) -> "SpikingUNet":
        """Second stage of SDM training: wrap every conv but the output refinement in a TSM
        layer with gains 1, keeping the weights (the output does not change)."""
        add_tsm(self, self.steps, exclude=list(self.refine.modules()))
        self._config["tsm"] = True
        return self

    @property
    def has_tsm(self) -> bool:
        return any(isinstance(m, TSM) for m in self.modules())

    def _output(self, h: Tensor) -> Tensor:
        h = _timewise(self.tail, h)
        return h + _timewise(self.refine, h)

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        check_tensor(x, "x", ndim=4)
        side = 2 ** (self.levels - 1)
        if x.shape[-1] % side or x.shape[-2] % side:
            raise ValueError(f"x height and width must be divisible by {side}, got {tuple(x.shape[-2:])}")
        if not isinstance(t, Tensor) or t.dim() != 1 or t.shape[0] != x.shape[0] or t.is_floating_point():
            raise ValueError(f"t must be an integer tensor [B] with B = {x.shape[0]}")
        temb = self.time_embedding(t)
        h, _ = self.head(x.unsqueeze(0).expand(self.steps, *x.shape))
        skips = [h]
        for block in self.down:
            h = block(h, temb)
            skips.append(h)
        for block in self.middle:
            h = block(h, temb)
        for block in self.up:
            if isinstance(block, ResBlock):
                h = torch.cat([h, skips.pop()], dim=2)
            h = block(h, temb)
        if self.decode == "rate":
            return self._output(h.mean(0, keepdim=True))[0]
        h = self._output(h)
        weights = self.readout_decay ** torch.arange(self.steps - 1, -1, -1, dtype=h.dtype, device=h.device)
        return (weights.view(-1, *([1] * (h.dim() - 1))) * h).sum(0)
