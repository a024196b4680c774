r"""Loihi-2 CUBA LIF: the chip's integer datapath bit for bit, and its float training twin.

**Integer datapath** (Lava's ``PyLifModelBitAcc`` and ``PyDenseModelBitAcc``, tag
``fixed_pt``). All quantities are integers; ``wrap_b`` is two's-complement wrap-around to ``b``
bits. A synapse (dense) delivers per step

.. math::

    a = \mathrm{wrap}_{32}\big(\textstyle\sum_j w_{ij} s_j \cdot 2^{e}\big)

(``e`` = ``weight_exp``: left shift, or arithmetic right shift for ``e < 0``), and the neuron
updates, with :math:`\mathrm{dec}(x, d) = \mathrm{sign}(x)\,\lfloor |x| (4096 - d) / 4096 \rfloor`
(12-bit decay, truncated toward zero):

.. math::

    c &= \mathrm{wrap}_{32}\big(\mathrm{dec}(u, du + 1) + \mathrm{wrap}_{32}(a \ll 6)\big) \\
    u &= c - 2^{24}\,[c > 2^{23}] + 2^{24}\,[c \le -2^{23}]
         &\text{(24-bit current wraps around)} \\
    v &= \mathrm{clip}\big(\mathrm{wrap}_{32}(\mathrm{dec}(v, dv) + u + b),\; -2^{23}+1,\; 2^{23}-1\big)
         &\text{(24-bit voltage saturates)} \\
    s &= [v > vth \ll 6], \qquad v \leftarrow v\,(1 - s)

with the bias :math:`b = m \ll x` (``bias_mant`` :math:`m`, ``bias_exp`` :math:`x`). The
current wrap happens once, exactly as in Lava (a value beyond :math:`\pm 3 \cdot 2^{23}` stays
out of range), and every int32 overflow of Lava's numpy arithmetic is reproduced.

Ranges (Loihi's register widths; out-of-range values raise ``ValueError`` naming the limit):
``du``, ``dv`` in [0, 4095] (the current decays by ``(du+1)/4096`` per step, the voltage by
``dv/4096``), ``vth`` in [0, 131071] (17 bits), ``bias_mant`` in [-4096, 4095] (13 bits),
``bias_exp`` in [0, 7] (3 bits), ``weight_exp`` in [-8, 7]; weights are the 8-bit synapse: a
matrix with both signs holds integers in [-256, 254], an all-positive one [0, 255], an
all-negative one [-255, 0] (what Lava's weight clipping leaves unchanged).

**Units shared with the float twin** (SLAYER's convention): a float value 1.0 is 64 weight
units and :math:`64 \cdot 64 = 4096` state units, so a float weight :math:`w` is the mantissa
:math:`w \cdot 64 / 2^e`, a float threshold :math:`\vartheta` is ``vth`` :math:`= 64\vartheta`,
and the float current and voltage are :math:`u / 4096`, :math:`v / 4096`.

The pure step is :func:`loihi_lif_step` (state :class:`LoihiLIFState`, parameters
:class:`LoihiLIFParams`), :class:`LoihiLIF` loops it over time, and :func:`dense_synapse` /
:func:`conv_synapse` are the synapses; whole networks are ``spikegate.export.lava.Network``.

**Float twin** (:class:`LoihiCubaLIF`, :class:`LoihiLinear`, :class:`LoihiConv2d`): the
:class:`~spikegate.neurons.CubaLIF` dynamics with zero reset,
:math:`i \leftarrow (1 - \delta_i) i + x`, :math:`v \leftarrow (1 - \delta_v) v + i`,
spike if :math:`v > \vartheta`, where the weights, the decays :math:`\delta_i, \delta_v` and the
threshold are rounded to the chip's grid in the forward pass and passed straight through in
the backward pass (straight-through estimator). The strict comparison is kept by firing at
:math:`v \ge \vartheta + 2^{-12}` (one state unit above the threshold).
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from spikegate._validate import check_positive, check_range
from spikegate.kernels import reference
from spikegate.neurons.base import Bounded, NeuronModule
from spikegate.neurons.lif import CubaLIFParams, CubaLIFState, cuba_lif_step
from spikegate.surrogate import SurrogateSpec
from spikegate.surrogate import surrogate as make_surrogate

DECAY_UNITY = 4096  # 12-bit decays: x * (4096 - d) >> 12
STATE_LIMIT = 1 << 23  # 24-bit signed current and voltage
MSB_SHIFT = 6  # synaptic input and threshold are left-shifted by 6 bits
WEIGHT_SCALE = 64  # weight units per float unit (state units per float unit: 64 * 64)
VTH_MAX = (1 << 17) - 1
BIAS_MANT_RANGE = (-4096, 4095)
BIAS_EXP_RANGE = (0, 7)
WEIGHT_EXP_RANGE = (-8, 7)
DECAY_RANGE = (0, 4095)
WEIGHT_RANGES = {"mixed": (-256, 254), "excitatory": (0, 255), "inhibitory": (-255, 0)}


# --------------------------------------------------------------------------------------------
# Integer datapath


class LoihiLIFParams(NamedTuple):
    """Integer parameters of one Loihi CUBA LIF layer (ranges in the module docstring).

    ``du``, ``dv``, ``vth`` are per layer (Lava holds one value per process); ``bias_mant`` and
    ``bias_exp`` are ints or int tensors broadcastable to the layer's features."""

    du: int
    dv: int
    vth: int
    bias_mant: int | Tensor = 0
    bias_exp: int | Tensor = 0


class LoihiLIFState(NamedTuple):
    """u: current, v: voltage, both int64 tensors ``[B, *features]`` holding 24-bit values."""

    u: Tensor
    v: Tensor


def _int_in(value: int | Tensor, name: str, low: int, high: int, what: str) -> None:
    t = torch.as_tensor(value)
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise TypeError(f"{name} must be an integer (or integer tensor), got {t.dtype}")
    if t.numel() and (int(t.min()) < low or int(t.max()) > high):
        got = f"{int(t.min())}..{int(t.max())}" if t.numel() > 1 else str(int(t))
        raise ValueError(f"{name} must lie in [{low}, {high}] ({what}), got {got}")


def check_lif_params(p: LoihiLIFParams) -> LoihiLIFParams:
    """Raise ``TypeError``/``ValueError`` naming the limit unless ``p`` fits Loihi's registers."""
    for name in ("du", "dv", "vth"):
        value = getattr(p, name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int (one value per layer), got {type(value).__name__}")
    _int_in(p.du, "du", *DECAY_RANGE, "12-bit current decay")
    _int_in(p.dv, "dv", *DECAY_RANGE, "12-bit voltage decay")
    _int_in(p.vth, "vth", 0, VTH_MAX, "17-bit threshold mantissa")
    _int_in(p.bias_mant, "bias_mant", *BIAS_MANT_RANGE, "13-bit signed bias mantissa")
    _int_in(p.bias_exp, "bias_exp", *BIAS_EXP_RANGE, "3-bit bias exponent")
    return p


def sign_mode(weight: Tensor) -> str:
    """Lava's sign mode of a weight matrix: ``"excitatory"`` (all >= 0), ``"inhibitory"``
    (all <= 0, some < 0) or ``"mixed"``."""
    if int(weight.min()) >= 0:
        return "excitatory"
    if int(weight.max()) <= 0:
        return "inhibitory"
    return "mixed"


def check_weight(weight: Tensor, name: str = "weight") -> Tensor:
    """Raise unless ``weight`` is an integer tensor that Loihi's 8-bit synapse holds exactly."""
    if not isinstance(weight, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(weight).__name__}")
    if weight.is_floating_point() or weight.is_complex() or weight.dtype == torch.bool:
        raise TypeError(f"{name} must be an integer tensor, got {weight.dtype}")
    if weight.numel():
        mode = sign_mode(weight)
        low, high = WEIGHT_RANGES[mode]
        _int_in(weight, name, low, high, f"8-bit synapse, {mode} sign mode")
    return weight


def check_weight_exp(weight_exp: int, name: str = "weight_exp") -> int:
    if isinstance(weight_exp, bool) or not isinstance(weight_exp, int):
        raise TypeError(f"{name} must be an int, got {type(weight_exp).__name__}")
    _int_in(weight_exp, name, *WEIGHT_EXP_RANGE, "weight exponent")
    return weight_exp


def wrap(x: Tensor, bits: int) -> Tensor:
    """Two's-complement wrap-around of an int64 tensor to ``bits`` bits."""
    half = 1 << (bits - 1)
    return ((x + half) & ((1 << bits) - 1)) - half


def _decay(x: Tensor, factor: int) -> Tensor:
    # sign(x * f) * (|x * f| >> 12): truncation toward zero, in int64 as Lava does
    return torch.div(x * factor, DECAY_UNITY, rounding_mode="trunc")


def effective_bias(p: LoihiLIFParams) -> Tensor:
    """Bias in state units: ``bias_mant << bias_exp`` (int64)."""
    return torch.as_tensor(p.bias_mant, dtype=torch.int64) << torch.as_tensor(p.bias_exp, dtype=torch.int64)


def loihi_lif_step(a_in: Tensor, state: LoihiLIFState, p: LoihiLIFParams) -> tuple[Tensor, LoihiLIFState]:
    """One integer step (module equations). ``a_in: [B, *features]`` int64 synaptic input
    (as a synapse op returns it) -> ``(spikes int64 0/1, new state)``."""
    act = wrap(wrap(a_in, 32) << MSB_SHIFT, 32)
    c = wrap(_decay(state.u, DECAY_UNITY - (p.du + 1)) + act, 32)
    u = torch.where(c > STATE_LIMIT, c - 2 * STATE_LIMIT, c)
    u = torch.where(u <= -STATE_LIMIT, c + 2 * STATE_LIMIT, u)
    v = wrap(_decay(state.v, DECAY_UNITY - p.dv) + u + effective_bias(p).to(u.device), 32)
    v = v.clamp(-STATE_LIMIT + 1, STATE_LIMIT - 1)
    s = v > (p.vth << MSB_SHIFT)
    return s.to(torch.int64), LoihiLIFState(u, torch.where(s, torch.zeros_like(v), v))


class LoihiLIF(nn.Module):
    """One layer of the integer datapath: ``forward(a_in: [T, B, *features], state=None) ->
    (spikes [T, B, *features] int64 0/1, LoihiLIFState)``, where ``a_in`` is the integer
    synaptic input a synapse op returns (before the 6-bit shift). ``trace`` returns the state
    after every step. The step is :func:`loihi_lif_step`, looped by the reference kernel."""

    def __init__(self, params: LoihiLIFParams) -> None:
        super().__init__()
        p = check_lif_params(LoihiLIFParams(*params))
        self.params = p._replace(bias_mant=torch.as_tensor(p.bias_mant, dtype=torch.int64),
                                 bias_exp=torch.as_tensor(p.bias_exp, dtype=torch.int64))

    def _prepare(self, a_in: Tensor, state: LoihiLIFState | None) -> tuple[Tensor, LoihiLIFState]:
        if not isinstance(a_in, Tensor) or a_in.is_floating_point() or a_in.is_complex() or a_in.dim() < 2:
            raise TypeError("a_in must be an integer tensor [T, B, *features]")
        if state is None:
            zeros = torch.zeros(a_in.shape[1:], dtype=torch.int64, device=a_in.device)
            state = LoihiLIFState(zeros, zeros.clone())
        elif not isinstance(state, LoihiLIFState) or state.u.shape != a_in.shape[1:]:
            raise ValueError(f"state must be a LoihiLIFState with fields of shape {tuple(a_in.shape[1:])}")
        return a_in.to(torch.int64), state

    def forward(self, a_in: Tensor, state: LoihiLIFState | None = None) -> tuple[Tensor, LoihiLIFState]:
        x, state = self._prepare(a_in, state)
        return reference.run(loihi_lif_step, x, state, self.params)

    def trace(self, a_in: Tensor, state: LoihiLIFState | None = None) -> tuple[Tensor, LoihiLIFState]:
        x, state = self._prepare(a_in, state)
        return reference.trace(loihi_lif_step, x, state, self.params)  # type: ignore[return-value]


def dense_synapse(s: Tensor, weight: Tensor, weight_exp: int = 0) -> Tensor:
    """Lava's bit-accurate Dense: ``s: [B, in]`` 0/1 -> ``[B, out]`` int64,
    :math:`(\\sum_j w_{ij} s_j)` shifted by ``weight_exp`` (the neuron wraps it to 32 bits)."""
    # float64 holds these sums exactly (|sum| < 2^31 by the network's fan-in check)
    acc = (s.to(torch.float64) @ weight.to(torch.float64).T).to(torch.int64)
    return acc << weight_exp if weight_exp > 0 else acc >> -weight_exp


def conv_synapse(
    s: Tensor,
    weight: Tensor,
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
    groups: int,
) -> Tensor:
    """Lava's fixed-point Conv: ``s: [B, C, H, W]`` 0/1, ``weight: [out, C/groups, kh, kw]``
    (PyTorch's cross-correlation) -> ``[B, out, H', W']`` int64 wrapped to 24 bits. Lava's
    fixed-point Conv applies no weight exponent."""
    acc = F.conv2d(s.to(torch.float64), weight.to(torch.float64), None, tuple(stride), tuple(padding),
                   tuple(dilation), groups)
    return wrap(acc.to(torch.int64), 24)


# --------------------------------------------------------------------------------------------
# Float twin: straight-through quantization


class _RoundSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # type: ignore[override]
        return torch.round(x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        return grad


class _FloorSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # type: ignore[override]
        return torch.floor(x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        return grad


def round_ste(x: Tensor) -> Tensor:
    """``round(x)`` forward, identity backward (the straight-through estimator)."""
    return _RoundSTE.apply(x)


def floor_ste(x: Tensor) -> Tensor:
    """``floor(x)`` forward, identity backward."""
    return _FloorSTE.apply(x)


def quantize_weight(weight: Tensor, weight_exp: int = 0) -> Tensor:
    r"""Float weights on the chip's grid: even mantissas in [-256, 254] times
    :math:`2^e / 64`; straight-through in the backward pass (zero gradient where clipped)."""
    step = 2.0 ** (weight_exp + 1) / WEIGHT_SCALE
    return torch.clamp(round_ste(weight / step), -128, 127) * step


def weight_mantissa(weight: Tensor, weight_exp: int = 0) -> Tensor:
    """The int64 mantissas of :func:`quantize_weight` (what the chip stores)."""
    with torch.no_grad():
        return torch.round(quantize_weight(weight.detach().double(), weight_exp) * WEIGHT_SCALE / 2.0**weight_exp).to(
            torch.int64
        )


class LoihiCubaLIF(NeuronModule):
    r"""Float twin of the Loihi CUBA LIF for training (equations in :mod:`spikegate.neurons.loihi`).

    Args:
        current_decay: fraction :math:`\delta_i` of the current lost per step, in [1/4096, 1]
            (1 = no synaptic memory); on the chip ``du = 4096 δ_i - 1``.
        voltage_decay: fraction :math:`\delta_v` of the voltage lost per step, in [0, 4095/4096];
            on the chip ``dv = 4096 δ_v``.
        threshold: :math:`\vartheta` in float units, in (0, 131071/64]; ``vth = 64 ϑ``.
        shape, learn_*: per-neuron learnable decays/threshold are not on the chip (one value per
            layer), so learning keeps one shared value (``shape`` only fixes the feature shape).
        surrogate, backend: as :class:`~spikegate.neurons.CubaLIF`.

    ``forward(x: [T, B, *features], state=None) -> (spikes, CubaLIFState(i, v))``;
    :meth:`integer_params` gives the chip's :class:`LoihiLIFParams`.
    """

    op = "cuba_lif"
    step = staticmethod(cuba_lif_step)
    state_type = CubaLIFState

    def __init__(
        self,
        current_decay: float = 1.0,
        voltage_decay: float = 0.1,
        threshold: float = 1.0,
        *,
        shape: Sequence[int] | int | None = None,
        learn_current_decay: bool = False,
        learn_voltage_decay: bool = False,
        learn_threshold: bool = False,
        surrogate: str | SurrogateSpec = "atan",
        backend: str = "auto",
    ) -> None:
        super().__init__(shape, backend)
        self._check_decay("current_decay", current_decay, 1, DECAY_UNITY, "du = 4096·current_decay - 1")
        self._check_decay("voltage_decay", voltage_decay, 0, DECAY_UNITY - 1, "dv = 4096·voltage_decay")
        check_positive(threshold, "threshold")
        if round(float(threshold) * WEIGHT_SCALE) > VTH_MAX:
            raise ValueError(
                f"threshold must lie in (0, {VTH_MAX}/64] (Loihi's 17-bit vth = 64·threshold), got {threshold}"
            )
        for name, value, learn in (
            ("current_decay", current_decay, learn_current_decay),
            ("voltage_decay", voltage_decay, learn_voltage_decay),
        ):
            if learn:
                check_range(value, name, 0.0, 1.0, low_open=True, high_open=True)
        self.surrogate = make_surrogate(surrogate)
        self.current_decay = Bounded(float(current_decay), learnable=learn_current_decay, transform="unit")
        self.voltage_decay = Bounded(float(voltage_decay), learnable=learn_voltage_decay, transform="unit")
        self.threshold = Bounded(float(threshold), learnable=learn_threshold, transform="positive")

    @staticmethod
    def _check_decay(name: str, value: float, low: int, high: int, rule: str) -> None:
        check_range(value, name, 0.0, 1.0)
        q = round(float(value) * DECAY_UNITY)
        if not low <= q <= high:
            raise ValueError(
                f"{name} must lie in [{low}/4096, {high}/4096] (Loihi's 12-bit decay, {rule} in [0, 4095]), got {value}"
            )

    def quantized(self) -> tuple[Tensor, Tensor, Tensor]:
        """``(current_decay, voltage_decay, threshold)`` on the chip's grid, straight-through."""
        di = torch.clamp(round_ste(self.current_decay() * DECAY_UNITY), 1, DECAY_UNITY) / DECAY_UNITY
        dv = torch.clamp(round_ste(self.voltage_decay() * DECAY_UNITY), 0, DECAY_UNITY - 1) / DECAY_UNITY
        th = torch.clamp(round_ste(self.threshold() * WEIGHT_SCALE), 0, VTH_MAX) / WEIGHT_SCALE
        return di, dv, th

    def params(self) -> CubaLIFParams:
        di, dv, th = self.quantized()
        eps = 1.0 / (WEIGHT_SCALE * WEIGHT_SCALE)  # one state unit: v > vth  <=>  v >= vth + eps
        return CubaLIFParams(1 - di, 1 - dv, th + eps, "zero", self.surrogate)

    def integer_params(self) -> LoihiLIFParams:
        """The chip's parameters (bias 0): ``du = 4096 δ_i - 1``, ``dv = 4096 δ_v``, ``vth = 64 ϑ``."""
        with torch.no_grad():
            di, dv, th = (float(q) for q in self.quantized())
        return LoihiLIFParams(
            round(di * DECAY_UNITY) - 1, round(dv * DECAY_UNITY), round(th * WEIGHT_SCALE), 0, 0
        )

    def initial_state(self, like: Tensor) -> CubaLIFState:
        return CubaLIFState(torch.zeros_like(like), torch.zeros_like(like))

    def extra_repr(self) -> str:
        return f"shape={self.shape}, surrogate={self.surrogate}, chip={tuple(self.integer_params()[:3])}"


class LoihiLinear(nn.Linear):
    r"""Dense synapse of the float twin: ``x @ Q(W).T`` with :math:`Q` = :func:`quantize_weight`
    (no bias: Loihi's bias lives in the neuron). ``weight_exp`` in [-8, 7] sets the grid
    :math:`2^{e+1}/64` and range :math:`[-256, 254] \cdot 2^e / 64`. With ``e < 0`` the chip
    shifts the integer sum right, so the output is floored to multiples of :math:`1/64` too
    (straight through in the backward pass): for spike inputs the twin's synapse then equals
    the chip's exactly."""

    def __init__(self, in_features: int, out_features: int, *, weight_exp: int = 0) -> None:
        super().__init__(in_features, out_features, bias=False)
        self.weight_exp = check_weight_exp(weight_exp)

    def forward(self, x: Tensor) -> Tensor:
        y = F.linear(x, quantize_weight(self.weight, self.weight_exp))
        if self.weight_exp < 0:
            y = floor_ste(y * WEIGHT_SCALE) / WEIGHT_SCALE
        return y

    def integer_weight(self) -> Tensor:
        """int64 mantissas ``[out, in]``."""
        return weight_mantissa(self.weight, self.weight_exp)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, weight_exp={self.weight_exp}"


class LoihiConv2d(nn.Conv2d):
    r"""Convolutional synapse of the float twin (no bias; grid 2/64, range [-256, 254]/64).
    Lava's fixed-point Conv has no weight exponent, so neither has this layer."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias=False)
        if isinstance(self.padding, str):
            raise ValueError("padding must be integers (Loihi's Conv has no 'same'/'valid' modes)")
        self.weight_exp = 0

    def forward(self, x: Tensor) -> Tensor:
        return self._conv_forward(x, quantize_weight(self.weight), None)

    def integer_weight(self) -> Tensor:
        """int64 mantissas ``[out, in/groups, kh, kw]``."""
        return weight_mantissa(self.weight)
