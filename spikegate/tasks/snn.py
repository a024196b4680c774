r"""Spiking classifier presets: an MLP and a small convolutional network, on LIF, current-based
LIF or meta-neurons, with the neurons' intrinsic parameters fixed or learned.

Intrinsic defaults (``../shared/papers/SPEC.md`` §2.5, §2.8), one step = 1 ms:

* ``lif``: :math:`\beta = 0.9`, :math:`\vartheta = 1`, subtractive reset; learnable:
  :math:`\beta = \sigma(\theta_\beta)` and :math:`\vartheta = \mathrm{softplus}(\theta_\vartheta)` per neuron.
* ``cuba``: :math:`\alpha = 0.8`, :math:`\beta = 0.9`, :math:`\vartheta = 1`; learnable: all three per neuron.
* ``meta``: :math:`\tau_m = 10`, :math:`\tau_s = 5`, :math:`\vartheta = 1`, :math:`\kappa = 0.3`,
  Bernoulli escape-noise spikes; learnable: all four per neuron. (With the module's default
  :math:`\kappa = 0.1` the straight-through gradient :math:`\sigma'/\kappa` vanishes a unit
  below threshold and a network on sparse spike input never starts to learn.)

Readouts: ``"potential"`` ends in a Linear layer (a non-spiking integrator) and the logits are
its mean over time; ``"spikes"`` ends in a neuron layer and the logits are the output firing
rates scaled by ``rate_scale`` (3), :math:`3 \cdot \frac1T \sum_t S_c[t]`. Raw counts over
hundreds of steps make the softmax so sharp that training first silences every output and stalls;
with stochastic (meta) outputs a large scale also rewards silence, since the cross-entropy is
convex in the logits and silent outputs have no variance. The network maps
``x: [T, B, *features]`` to ``y: [T, B, classes]``.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import Tensor, nn

from spikegate._validate import check_choice, check_int, check_positive
from spikegate.neurons import LIF, CubaLIF, MetaNeuron
from spikegate.neurons.base import NeuronModule
from spikegate.neurons.meta import INTRINSIC

NEURONS: tuple[str, ...] = ("lif", "cuba", "meta")
MODELS: tuple[str, ...] = ("mlp", "conv")
READOUTS: tuple[str, ...] = ("potential", "spikes")


DEFAULTS: dict[str, dict[str, float]] = {
    "lif": {"beta": 0.9, "threshold": 1.0},
    "cuba": {"alpha": 0.8, "beta": 0.9, "threshold": 1.0},
    "meta": {"tau_mem": 10.0, "tau_syn": 5.0, "threshold": 1.0, "kappa": 0.3},
}


def make_neuron(kind: str, shape: Sequence[int], *, learnable: bool, surrogate: str = "atan",
                intrinsic: Mapping[str, float] | None = None) -> NeuronModule:
    """A neuron layer of ``kind`` for features ``shape`` with the intrinsic values of
    :data:`DEFAULTS` (entries of ``intrinsic`` override them), learned per neuron when
    ``learnable`` (the meta-neuron ignores ``surrogate``: its backward is the Bernoulli
    straight-through estimator)."""
    check_choice(kind, "neuron", NEURONS)
    values = dict(DEFAULTS[kind])
    unknown = set(intrinsic or {}) - set(values)
    if unknown:
        raise ValueError(f"intrinsic parameters of {kind!r} are {', '.join(values)}; got {', '.join(sorted(unknown))}")
    values.update(intrinsic or {})
    shape = tuple(shape)
    if kind == "lif":
        return LIF(values["beta"], values["threshold"], shape=shape, learn_beta=learnable, learn_threshold=learnable,
                   surrogate=surrogate)
    if kind == "cuba":
        return CubaLIF(values["alpha"], values["beta"], values["threshold"], shape=shape, learn_alpha=learnable,
                       learn_beta=learnable, learn_threshold=learnable, surrogate=surrogate)
    return MetaNeuron(values["tau_mem"], values["tau_syn"], values["threshold"], values["kappa"], dt=1.0, shape=shape,
                      learn=INTRINSIC if learnable else ())


def synaptic_gain(cell: NeuronModule) -> float:
    r"""Initial scale for the layer that feeds ``cell``: :math:`1 - \alpha` for neurons with a
    synaptic current (``CubaLIF``, ``MetaNeuron``), whose filter :math:`I[n] = \alpha I[n-1] + X[n]`
    has DC gain :math:`1/(1 - \alpha)`; 1 otherwise. Without it the defaults (gain 5) drive the
    layer into saturation at initialization."""
    if isinstance(cell, (CubaLIF, MetaNeuron)):
        return float(1.0 - cell.params().alpha.detach().double().mean())
    return 1.0


class SNN(nn.Module):
    """A chain of layers over a time-major sequence. Neuron layers carry state (the
    meta-neurons draw their noise from ``generator``); every other layer is applied to all steps
    at once with time folded into the batch, or once when the input is the same at every step
    (a time axis of stride 0, as :func:`spikegate.tasks.data.encode` gives for direct coding;
    BatchNorm then counts each sample once in its statistics).

    ``forward(x: [T, B, *features], state=None, *, generator=None) -> (y [T, B, classes], states)``.
    """

    def __init__(self, layers: Sequence[nn.Module], readout: str = "potential", rate_scale: float = 3.0) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.readout = check_choice(readout, "readout", READOUTS)
        check_positive(rate_scale, "rate_scale")
        self.rate_scale = float(rate_scale)

    def forward(self, x: Tensor, state: tuple | None = None, *, generator: torch.Generator | None = None
                ) -> tuple[Tensor, tuple]:
        if state is None:
            state = (None,) * len(self.layers)
        elif len(state) != len(self.layers):
            raise ValueError(f"state must have one entry per layer ({len(self.layers)}), got {len(state)}")
        new_states = []
        # the one-step tensor behind a time-constant ``x`` (stride 0 in time); layers read it
        # directly, so autograd never materialises the [T, ...] gradient of an expand/select pair
        once: Tensor | None = x[0] if x.stride(0) == 0 else None
        for layer, s in zip(self.layers, state):
            if isinstance(layer, MetaNeuron):
                x, s = layer(x, s, generator=generator)
                once = None
            elif isinstance(layer, NeuronModule):
                x, s = layer(x, s)
                once = None
            elif once is not None:
                # the same input at every step (direct coding): run the layer once
                once = layer(once)
                x = once.unsqueeze(0).expand(x.shape[0], *once.shape)
            else:
                t, b = x.shape[:2]
                x = layer(x.flatten(0, 1)).unflatten(0, (t, b))
            new_states.append(s)
        return x, tuple(new_states)

    def logits(self, y: Tensor) -> Tensor:
        """Class scores ``[B, classes]`` from the output sequence ``y: [T, B, classes]``."""
        return self.rate_scale * y.mean(0) if self.readout == "spikes" else y.mean(0)

    def neurons(self) -> list[NeuronModule]:
        return [m for m in self.layers if isinstance(m, NeuronModule)]


def build_model(
    preset: str,
    features: Sequence[int],
    n_classes: int,
    *,
    neuron: str = "lif",
    learnable: bool = False,
    surrogate: str = "atan",
    hidden: Sequence[int] = (256,),
    channels: Sequence[int] = (32, 64),
    readout: str = "potential",
    intrinsic: Mapping[str, float] | None = None,
) -> SNN:
    """Build a preset.

    * ``"mlp"``: Flatten, then ``Linear -> neuron`` for every width in ``hidden``, then
      ``Linear(hidden[-1], n_classes)``.
    * ``"conv"`` (features ``(C, H, W)``): for every width in ``channels``
      ``Conv3x3 -> BatchNorm -> MaxPool2 -> neuron`` (pooling the input currents before the
      neurons keeps the neuron count, and the cost of their time loop, 4x smaller), then
      Flatten, ``Linear -> neuron`` for ``hidden``, and ``Linear(., n_classes)``. BatchNorm
      statistics run over time and batch.

    ``intrinsic`` overrides initial (or fixed) intrinsic values, see :func:`make_neuron`.
    With ``readout="spikes"`` a final neuron layer of ``n_classes`` units follows. The layer
    feeding a current-based neuron starts scaled by :func:`synaptic_gain`.
    """
    check_choice(preset, "model", MODELS)
    check_int(n_classes, "n_classes", minimum=2)
    features = tuple(int(f) for f in features)
    hidden = tuple(check_int(int(h), "hidden width", minimum=1) for h in hidden)

    def neuron_layer(shape):
        cell = make_neuron(neuron, shape, learnable=learnable, surrogate=surrogate, intrinsic=intrinsic)
        gain = synaptic_gain(cell)
        if gain != 1.0:
            last = next(m for m in reversed(layers) if isinstance(m, (nn.Linear, nn.BatchNorm2d)))
            with torch.no_grad():
                last.weight.mul_(gain)
                if last.bias is not None:
                    last.bias.mul_(gain)
        return cell

    layers: list[nn.Module] = []
    if preset == "conv":
        if len(features) != 3:
            raise ValueError(f"the conv preset needs image features (C, H, W), got {features}")
        c, h, w = features
        for width in channels:
            width = check_int(int(width), "channel width", minimum=1)
            if h < 2 or w < 2:
                raise ValueError(f"too many conv stages for a {features[1]}x{features[2]} input")
            layers += [nn.Conv2d(c, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.MaxPool2d(2)]
            c, h, w = width, h // 2, w // 2
            layers.append(neuron_layer((c, h, w)))
        width_in = c * h * w
    else:
        width_in = 1
        for f in features:
            width_in *= f
    layers.append(nn.Flatten())
    for width in hidden:
        layers.append(nn.Linear(width_in, width))
        layers.append(neuron_layer((width,)))
        width_in = width
    layers.append(nn.Linear(width_in, n_classes))
    if readout == "spikes":
        layers.append(neuron_layer((n_classes,)))
    return SNN(layers, readout)
