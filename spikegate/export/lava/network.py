r"""Integer Loihi networks: what runs on the chip, in spikegate's reference, its emulator and Lava.

A :class:`Network` is an input shape and a chain of layers: :class:`Dense` and :class:`Conv`
synapses, each with its layer of Loihi CUBA LIF neurons (:class:`~spikegate.neurons.loihi.LoihiLIFParams`),
and :class:`Flatten` (``[C, H, W]`` -> ``[C·H·W]`` in C order, PyTorch's flatten). This is the
layout of lava-dl's netx files (``spikegate.export.lava.netx``).

**Time.** Every layer sees the spikes of the layer below *in the same step*: for one sample,
``s_k[t] = LIF_k(syn_k(s_{k-1}[t]))`` from rest, with ``s_0`` the input. In Lava each
RingBuffer -> Dense -> LIF hop adds one step of delay; the Lava runner undoes it by reading
layer ``k`` ``k`` steps later and resetting it at its own offset (see ``runner/runner.py``), so all
three back ends return the same per-sample spikes.

:meth:`Network.run` is the reference: the pure integer step
:func:`~spikegate.neurons.loihi.loihi_lif_step` and the synapse ops, looped in PyTorch (int64).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Sequence

import torch
from torch import Tensor, nn

from spikegate.neurons.base import Sequential
from spikegate.neurons.loihi import (
    DECAY_UNITY,
    WEIGHT_SCALE,
    LoihiConv2d,
    LoihiCubaLIF,
    LoihiLIFParams,
    LoihiLIFState,
    LoihiLinear,
    check_lif_params,
    check_weight,
    check_weight_exp,
    conv_synapse,
    dense_synapse,
    loihi_lif_step,
)

RECORD = ("output", "spikes", "states")
MAX_FAN_IN = 1 << 23  # keeps every synaptic sum inside int32 (|w| <= 256)


@dataclass(frozen=True, eq=False)
class Dense:
    """Dense synapse ``weight: [out, in]`` (int mantissas) with exponent ``weight_exp``, and
    its ``out`` neurons."""

    weight: Tensor
    neuron: LoihiLIFParams
    weight_exp: int = 0


@dataclass(frozen=True, eq=False)
class Conv:
    """2-D convolution ``weight: [out, in/groups, kh, kw]`` (PyTorch's cross-correlation on
    ``[C, H, W]``), ``(h, w)`` pairs for stride/padding/dilation, and one neuron per output."""

    weight: Tensor
    neuron: LoihiLIFParams
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1


@dataclass(frozen=True)
class Flatten:
    """``[C, H, W]`` -> ``[C·H·W]`` (C order)."""


Layer = Dense | Conv | Flatten


class NetworkRun(NamedTuple):
    """Result of running a network on ``[T, B, *input_shape]`` spikes.

    spikes: per neuron layer ``[T, B, *shape]`` uint8 (only the last layer with
    ``record="output"``); u, v: per neuron layer ``[T, B, *shape]`` int32 (``record="states"``,
    else ``None``)."""

    spikes: list[Tensor]
    u: list[Tensor] | None = None
    v: list[Tensor] | None = None

    @property
    def output(self) -> Tensor:
        return self.spikes[-1]


def _pair(value: int | Sequence[int], name: str, minimum: int) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or any(isinstance(v, bool) or not isinstance(v, int) for v in pair):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return pair  # type: ignore[return-value]


def conv_output_shape(layer: Conv, shape: tuple[int, ...]) -> tuple[int, int, int]:
    """``[C_out, H', W']`` of ``layer`` on input ``shape = [C, H, W]`` (raises if it does not fit)."""
    if len(shape) != 3:
        raise ValueError(f"a Conv layer needs a [C, H, W] input, got shape {shape}")
    out_c, in_c, kh, kw = layer.weight.shape
    if shape[0] != in_c * layer.groups:
        raise ValueError(
            f"Conv weight expects {in_c * layer.groups} input channels ({in_c} x {layer.groups} groups), got {shape[0]}"
        )
    if out_c % layer.groups:
        raise ValueError(f"Conv output channels ({out_c}) must be divisible by groups ({layer.groups})")
    size = []
    for n, k, s, p, d in zip(shape[1:], (kh, kw), layer.stride, layer.padding, layer.dilation):
        m = (n + 2 * p - d * (k - 1) - 1) // s + 1
        if m < 1:
            raise ValueError(f"Conv kernel {kh}x{kw} does not fit the input {shape[1:]} with padding {layer.padding}")
        size.append(m)
    return (out_c, size[0], size[1])


class Network:
    """An integer Loihi network (module docstring). Validates every parameter against the
    chip's limits on construction; ``shapes[i]`` is the output shape of ``layers[i]``."""

    def __init__(self, input_shape: Sequence[int] | int, layers: Sequence[Layer]) -> None:
        shape = (input_shape,) if isinstance(input_shape, int) else tuple(int(s) for s in input_shape)
        if not shape or min(shape) < 1 or len(shape) not in (1, 3):
            raise ValueError(f"input_shape must be [N] or [C, H, W] with positive sizes, got {input_shape!r}")
        if not layers:
            raise ValueError("layers must hold at least one Dense or Conv layer")
        self.input_shape = shape
        checked: list[Layer] = []
        shapes: list[tuple[int, ...]] = []
        for i, layer in enumerate(layers):
            layer, shape = self._check_layer(i, layer, shape)
            checked.append(layer)
            shapes.append(shape)
        if isinstance(checked[-1], Flatten):
            raise ValueError("the last layer must be Dense or Conv (a network ends in neurons)")
        self.layers: tuple[Layer, ...] = tuple(checked)
        self.shapes: tuple[tuple[int, ...], ...] = tuple(shapes)

    @staticmethod
    def _check_layer(i: int, layer: Layer, shape: tuple[int, ...]) -> tuple[Layer, tuple[int, ...]]:
        where = f"layers[{i}]"
        if isinstance(layer, Flatten):
            n = 1
            for s in shape:
                n *= s
            return layer, (n,)
        if not isinstance(layer, (Dense, Conv)):
            raise TypeError(f"{where} must be Dense, Conv or Flatten, got {type(layer).__name__}")
        weight = check_weight(layer.weight, f"{where}.weight").to(torch.int64)
        try:
            neuron = check_lif_params(LoihiLIFParams(*layer.neuron))
        except (TypeError, ValueError) as e:
            raise type(e)(f"{where}.neuron: {e}") from None
        if isinstance(layer, Dense):
            if weight.dim() != 2:
                raise ValueError(f"{where}.weight must be [out, in], got shape {tuple(weight.shape)}")
            if len(shape) != 1 or weight.shape[1] != shape[0]:
                raise ValueError(f"{where}.weight expects {weight.shape[1]} inputs, the layer below gives {shape}")
            fan_in = weight.shape[1]
            out: tuple[int, ...] = (weight.shape[0],)
            layer = Dense(weight, neuron, check_weight_exp(layer.weight_exp, f"{where}.weight_exp"))
        else:
            if weight.dim() != 4:
                raise ValueError(f"{where}.weight must be [out, in/groups, kh, kw], got shape {tuple(weight.shape)}")
            if isinstance(layer.groups, bool) or not isinstance(layer.groups, int) or layer.groups < 1:
                raise ValueError(f"{where}.groups must be a positive int, got {layer.groups!r}")
            layer = Conv(weight, neuron, _pair(layer.stride, f"{where}.stride", 1),
                         _pair(layer.padding, f"{where}.padding", 0), _pair(layer.dilation, f"{where}.dilation", 1),
                         layer.groups)
            out = conv_output_shape(layer, shape)
            fan_in = weight.shape[1] * weight.shape[2] * weight.shape[3]
        if fan_in >= MAX_FAN_IN:
            raise ValueError(f"{where} has fan-in {fan_in}; at most {MAX_FAN_IN - 1} inputs per neuron are supported")
        for name in ("bias_mant", "bias_exp"):
            value = torch.as_tensor(getattr(neuron, name))
            try:
                torch.broadcast_shapes(value.shape, out)
            except RuntimeError:
                raise ValueError(
                    f"{where}.neuron.{name} of shape {tuple(value.shape)} does not broadcast to {out}"
                ) from None
        return layer, out

    # -- structure ------------------------------------------------------------------------
    @property
    def neuron_layers(self) -> list[int]:
        """Indices of the Dense/Conv layers (each carries neurons)."""
        return [i for i, layer in enumerate(self.layers) if not isinstance(layer, Flatten)]

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.shapes[-1]

    def __eq__(self, other: object) -> bool:
        """Same computation: same shapes and geometry, same effective weights (a positive
        weight exponent folded into the weights) and the same effective biases."""
        if not isinstance(other, Network):
            return NotImplemented
        if self.input_shape != other.input_shape or len(self.layers) != len(other.layers):
            return False
        for a, b in zip(self.layers, other.layers):
            if type(a) is not type(b):
                return False
            if isinstance(a, Flatten):
                continue
            if not _same_synapse(a, b) or not _same_neuron(a.neuron, b.neuron):  # type: ignore[union-attr]
                return False
            if isinstance(a, Conv) and (a.stride, a.padding, a.dilation, a.groups) != (
                b.stride, b.padding, b.dilation, b.groups  # type: ignore[union-attr]
            ):
                return False
        return True

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        parts = []
        for layer, shape in zip(self.layers, self.shapes):
            if isinstance(layer, Flatten):
                parts.append(f"Flatten -> {shape}")
            else:
                n = layer.neuron
                extra = f", weight_exp={layer.weight_exp}" if isinstance(layer, Dense) else ""
                parts.append(f"{type(layer).__name__}{extra} -> {shape} (du={n.du}, dv={n.dv}, vth={n.vth})")
        return f"Network(input {self.input_shape}: " + "; ".join(parts) + ")"

    # -- running --------------------------------------------------------------------------
    def check_input(self, spikes: Tensor, name: str = "spikes") -> Tensor:
        """Validate ``[T, B, *input_shape]`` 0/1 spikes; return them as uint8."""
        if not isinstance(spikes, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(spikes).__name__}")
        if spikes.dim() != 2 + len(self.input_shape) or tuple(spikes.shape[2:]) != self.input_shape:
            raise ValueError(f"{name} must be [T, B, *{self.input_shape}], got shape {tuple(spikes.shape)}")
        if spikes.shape[0] < 1 or spikes.shape[1] < 1:
            raise ValueError(f"{name} needs T >= 1 and B >= 1, got shape {tuple(spikes.shape)}")
        if spikes.numel():
            if spikes.is_floating_point() or spikes.is_complex():
                binary = bool(((spikes == 0) | (spikes == 1)).all())
            else:  # integers and bool: one pass
                low, high = torch.aminmax(spikes.view(torch.uint8) if spikes.dtype == torch.bool else spikes)
                binary = int(low) >= 0 and int(high) <= 1
            if not binary:
                raise ValueError(f"{name} must hold only 0 and 1 (binary spikes)")
        return spikes.to(torch.uint8)

    def run(self, spikes: Tensor, *, record: str = "output") -> NetworkRun:
        """Reference integer run. ``spikes: [T, B, *input_shape]`` 0/1 -> :class:`NetworkRun`
        (``record``: ``"output"``, ``"spikes"`` (every neuron layer) or ``"states"``)."""
        if record not in RECORD:
            raise ValueError(f"record must be one of {', '.join(RECORD)}; got {record!r}")
        x = self.check_input(spikes).to(torch.int64)
        steps, batch = x.shape[:2]
        idx = self.neuron_layers
        params = {i: self.layers[i].neuron._replace(  # type: ignore[union-attr]
            bias_mant=torch.as_tensor(self.layers[i].neuron.bias_mant, dtype=torch.int64),  # type: ignore[union-attr]
            bias_exp=torch.as_tensor(self.layers[i].neuron.bias_exp, dtype=torch.int64),  # type: ignore[union-attr]
        ) for i in idx}
        states = {i: LoihiLIFState(torch.zeros((batch, *self.shapes[i]), dtype=torch.int64),
                                   torch.zeros((batch, *self.shapes[i]), dtype=torch.int64)) for i in idx}
        keep = idx if record != "output" else idx[-1:]
        spk: dict[int, list[Tensor]] = {i: [] for i in keep}
        us: dict[int, list[Tensor]] = {i: [] for i in keep}
        vs: dict[int, list[Tensor]] = {i: [] for i in keep}
        for t in range(steps):
            s = x[t]
            for i, layer in enumerate(self.layers):
                if isinstance(layer, Flatten):
                    s = s.flatten(1)
                    continue
                if isinstance(layer, Dense):
                    a = dense_synapse(s, layer.weight, layer.weight_exp)
                else:
                    a = conv_synapse(s, layer.weight, layer.stride, layer.padding, layer.dilation, layer.groups)
                s, states[i] = loihi_lif_step(a, states[i], params[i])
                if i in spk:
                    spk[i].append(s.to(torch.uint8))
                    if record == "states":
                        us[i].append(states[i].u.to(torch.int32))
                        vs[i].append(states[i].v.to(torch.int32))
        stack = lambda d: [torch.stack(d[i]) for i in keep]  # noqa: E731
        if record == "states":
            return NetworkRun(stack(spk), stack(us), stack(vs))
        return NetworkRun(stack(spk))

    # -- conversion from / to the float twin ----------------------------------------------
    @classmethod
    def from_module(cls, model: nn.Module | Sequence[nn.Module], input_shape: Sequence[int] | int) -> "Network":
        """Integer network of a float twin: a :class:`~spikegate.neurons.Sequential` (or list)
        of ``LoihiLinear``/``LoihiConv2d`` each followed by ``LoihiCubaLIF``, and ``nn.Flatten``."""
        modules = list(model.layers) if isinstance(model, Sequential) else list(model)  # type: ignore[arg-type]
        layers: list[Layer] = []
        i = 0
        while i < len(modules):
            m = modules[i]
            if isinstance(m, nn.Flatten):
                if m.start_dim != 1 or m.end_dim != -1:
                    raise ValueError("only nn.Flatten(start_dim=1, end_dim=-1) maps to the chip")
                layers.append(Flatten())
                i += 1
                continue
            if not isinstance(m, (LoihiLinear, LoihiConv2d)):
                raise ValueError(
                    f"module {i} ({type(m).__name__}) has no Loihi equivalent; use LoihiLinear, LoihiConv2d, "
                    "LoihiCubaLIF and nn.Flatten"
                )
            if i + 1 >= len(modules) or not isinstance(modules[i + 1], LoihiCubaLIF):
                raise ValueError(f"module {i} ({type(m).__name__}) must be followed by a LoihiCubaLIF")
            neuron = modules[i + 1].integer_params()
            if isinstance(m, LoihiLinear):
                layers.append(Dense(m.integer_weight(), neuron, m.weight_exp))
            else:
                layers.append(Conv(m.integer_weight(), neuron, tuple(m.stride), tuple(m.padding),  # type: ignore[arg-type]
                                   tuple(m.dilation), m.groups))  # type: ignore[arg-type]
            i += 2
        return cls(input_shape, layers)

    def to_module(self) -> Sequential:
        """The float twin of this network (its forward quantizes back to exactly these
        integers). Biases have no float-twin equivalent and raise."""
        modules: list[nn.Module] = []
        for i, layer in enumerate(self.layers):
            if isinstance(layer, Flatten):
                modules.append(nn.Flatten())
                continue
            n = layer.neuron
            if bool(torch.as_tensor(n.bias_mant).ne(0).any()):
                raise ValueError(f"layers[{i}] has a bias, which the float twin (LoihiCubaLIF) does not model")
            if n.vth == 0:
                raise ValueError(f"layers[{i}] has vth = 0; the float twin needs a threshold > 0")
            if isinstance(layer, Dense):
                syn: nn.Module = LoihiLinear(layer.weight.shape[1], layer.weight.shape[0], weight_exp=layer.weight_exp)
                scale = 2.0**layer.weight_exp / WEIGHT_SCALE
            else:
                out_c, in_c, kh, kw = layer.weight.shape
                syn = LoihiConv2d(in_c * layer.groups, out_c, (kh, kw), layer.stride, layer.padding,
                                  layer.dilation, layer.groups)
                scale = 1.0 / WEIGHT_SCALE
            with torch.no_grad():
                syn.weight.copy_(layer.weight.to(syn.weight.dtype) * scale)
            modules += [syn, LoihiCubaLIF((n.du + 1) / DECAY_UNITY, n.dv / DECAY_UNITY,
                                          n.vth / WEIGHT_SCALE, shape=self.shapes[i])]
        return Sequential(*modules)


def _same_synapse(a: Dense | Conv, b: Dense | Conv) -> bool:
    if a.weight.shape != b.weight.shape:
        return False
    if isinstance(a, Dense):
        ea, eb = a.weight_exp, b.weight_exp  # type: ignore[union-attr]
        return min(ea, 0) == min(eb, 0) and torch.equal(a.weight << max(ea, 0), b.weight << max(eb, 0))
    return torch.equal(a.weight, b.weight)


def _same_neuron(a: LoihiLIFParams, b: LoihiLIFParams) -> bool:
    """Same decays, threshold and effective bias ``bias_mant << bias_exp``."""
    if (a.du, a.dv, a.vth) != (b.du, b.dv, b.vth):
        return False
    eff = lambda n: torch.as_tensor(n.bias_mant, dtype=torch.int64) << torch.as_tensor(n.bias_exp, dtype=torch.int64)  # noqa: E731
    try:
        return bool((eff(a) - eff(b)).eq(0).all())
    except RuntimeError:
        return False
