r"""``to_snn``: convert an ANN (MLP, CNN, or a model built from the gated components) into a
spiking network.

* Activation sites (``nn.ReLU``, :class:`~spikegate.convert.ann.ActQuant`) become IF encoders
  (reset by subtraction, membrane started at :math:`\vartheta/2`) with threshold
  :math:`\vartheta = \lambda`: the trained QCFS range (``mode="qat"``) or the calibrated range
  (``mode="calibrate"``, see :mod:`spikegate.convert.calibrate`).
* Linear maps (``Linear``, ``Conv1d/2d``, average pooling, ``BatchNorm`` in eval mode,
  ``Flatten``, ``Dropout``, ``Identity``) run per step: they are exact on window means.
* Non-linear modules (``LayerNorm``, ``RMSNorm``, ``Sigmoid``, ``Tanh``, ``SiLU``, ``GELU``,
  ``Softmax``) become accumulate-then-compute units.
* :class:`~spikegate.convert.ann.Convertible` components run their own ``compute`` with the
  spiking operators (:mod:`spikegate.convert.operators`).
* ``nn.Sequential`` and :class:`spikegate.neurons.Sequential` become
  :class:`spikegate.neurons.Sequential`.

Anything else (max pooling, a custom module with its own ``forward``, a functional call the
converter cannot see) raises :class:`ConversionError` naming the layer and the supported types,
rather than being left unconverted.

In ``mode="qat"`` with window timing and ``T`` equal to the QCFS levels, the SNN's window-mean
output equals the quantized ANN's up to float rounding.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor, nn

from spikegate._validate import check_choice, check_int, check_tensor
from spikegate.convert import calibrate as cal
from spikegate.convert.ann.base import Convertible
from spikegate.convert.ann.move import ValueEmbeddingBank
from spikegate.convert.ann.quant import ActQuant
from spikegate.convert.counting import OpCounts, count_ops
from spikegate.convert.operators import TIMINGS, IFEncoder, SpikingComponent, SpikingUnit, is_site
from spikegate.neurons import Bounded, SequenceModule, Sequential

MODES: tuple[str, ...] = ("qat", "calibrate")
PER_STEP: tuple[type, ...] = (
    nn.Linear,
    nn.Conv1d,
    nn.Conv2d,
    nn.Flatten,
    nn.Unflatten,
    nn.AvgPool1d,
    nn.AvgPool2d,
    nn.AdaptiveAvgPool1d,
    nn.AdaptiveAvgPool2d,
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.Dropout,
    nn.Identity,
)
UNITS: tuple[type, ...] = (nn.LayerNorm, nn.RMSNorm, nn.Sigmoid, nn.Tanh, nn.SiLU, nn.GELU, nn.Softmax)
SITES: tuple[type, ...] = (nn.ReLU, ActQuant)
CONTAINERS: tuple[type, ...] = (nn.Sequential, Sequential)
# Parameter holders a component may own besides sites and sub-components (used through ops).
INSIDE: tuple[type, ...] = (
    nn.Linear,
    nn.Conv1d,
    nn.Embedding,
    nn.LayerNorm,
    nn.RMSNorm,
    nn.ModuleList,
    nn.ModuleDict,
    ValueEmbeddingBank,
    Bounded,
)


def supported() -> list[str]:
    """Names of the module types :func:`to_snn` converts."""
    names = [t.__name__ for t in (*CONTAINERS, *SITES, *PER_STEP, *UNITS)]
    return [*names, "Convertible components (spikegate.convert.ann)"]


class ConversionError(TypeError):
    """A layer that :func:`to_snn` cannot convert; the message names it and the supported types."""

    def __init__(self, path: str, module: nn.Module, where: str = "") -> None:
        self.path, self.layer = path, type(module).__name__
        super().__init__(
            f"cannot convert layer {path or '<root>'!r} ({self.layer}){where}; supported: {', '.join(supported())}"
        )


class SpikingNetwork(SequenceModule):
    """The result of :func:`to_snn`. ``forward(*inputs: [T, B, ...], state=None) -> (y: [T, B,
    ...], state)`` runs one window of ``T`` steps from rest (integer inputs such as token ids
    carry no time axis); the output's window mean is the decoded value. :meth:`infer` does
    direct coding (the static input repeated for every step) and decoding in one call."""

    def __init__(self, net: nn.Module, steps: int, timing: str, mode: str) -> None:
        super().__init__()
        self.net, self.steps, self.timing, self.mode = net, steps, timing, mode

    def forward(self, *inputs: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        if not inputs:
            raise ValueError("SpikingNetwork needs at least one input")
        check_tensor(inputs[0], "inputs[0]", min_dim=2)
        if isinstance(self.net, SpikingComponent):
            return self.net.run(*inputs, state=state)
        if len(inputs) != 1:
            raise ValueError(f"this network takes one input, got {len(inputs)}")
        return self.net(inputs[0], state)

    def encode(self, *inputs: Tensor) -> tuple[Tensor, ...]:
        """Direct coding: floating inputs repeated over ``steps`` steps; integer inputs as they are."""
        return tuple(x.expand(self.steps, *x.shape) if x.is_floating_point() else x for x in inputs)

    @torch.no_grad()
    def infer(self, *inputs: Tensor) -> Tensor:
        """Window-mean output for static inputs (the ANN's input shapes)."""
        return self(*self.encode(*inputs))[0].mean(0)

    def count_ops(self, *inputs: Tensor) -> OpCounts:
        """Operations of :meth:`infer` on static ``inputs`` (see :mod:`spikegate.convert.counting`)."""
        return count_ops(self, *self.encode(*inputs), steps=self.steps, spiking=True)

    def extra_repr(self) -> str:
        return f"steps={self.steps}, timing={self.timing!r}, mode={self.mode!r}"


def to_snn(
    model: nn.Module,
    calibration_data: Any,
    T: int,
    mode: str = "calibrate",
    *,
    timing: str = "window",
    method: str = "percentile",
    percentile: float = 99.9,
) -> SpikingNetwork:
    """Convert ``model`` (module docstring) into a :class:`SpikingNetwork` of ``T`` steps.

    Args:
        model: the ANN (left unchanged; the SNN holds a converted copy).
        calibration_data: ``mode="calibrate"``: batches whose activations set the thresholds
            (format in :mod:`spikegate.convert.calibrate`); ``mode="qat"``: must be ``None``,
            the thresholds are the trained QCFS ranges.
        T: time steps per window (the QCFS levels for an exact QAT conversion).
        mode: ``"qat"`` (a model prepared by :func:`~spikegate.convert.prepare_qat` and
            fine-tuned) or ``"calibrate"`` (a float model, training-free).
        timing: ``"window"`` (pipelined, exact on quantized values) or ``"step"`` (streaming);
            see :mod:`spikegate.convert.operators`.
        method, percentile: threshold calibration (``mode="calibrate"``).
    """
    check_int(T, "T", minimum=1)
    check_choice(mode, "mode", MODES)
    check_choice(timing, "timing", TIMINGS)
    net = copy.deepcopy(model).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    if mode == "qat":
        if calibration_data is not None:
            raise ValueError("calibration_data is not used in mode='qat' (thresholds are the trained QCFS ranges); pass None")
        ranges = _trained_ranges(net)
    else:
        for name, m in cal.sites(net):
            if isinstance(m, ActQuant) and m.levels is not None:
                raise ValueError(f"mode='calibrate' converts a float model, but site {name!r} is quantized; use mode='qat'")
        for m in net.modules():
            if isinstance(m, Convertible):
                m.prepare_conversion(require_prepared=False)
        ranges = cal.thresholds(net, calibration_data, T, method, percentile)
    if mode == "qat":
        for m in net.modules():
            if isinstance(m, Convertible):
                m.prepare_conversion(require_prepared=True)
    return SpikingNetwork(_convert(net, "", ranges, timing), T, timing, mode)


def _trained_ranges(net: nn.Module) -> dict[nn.Module, float]:
    ranges = {}
    for name, m in cal.sites(net):
        if not isinstance(m, ActQuant) or m.levels is None:
            raise ValueError(
                f"mode='qat' needs quantized activation sites, but {name!r} ({type(m).__name__}) is not; "
                "prepare the model with spikegate.convert.prepare_qat and fine-tune it"
            )
        ranges[m] = m.threshold
    return ranges


def _encoder(site: nn.Module, ranges: dict[nn.Module, float], timing: str) -> IFEncoder:
    return IFEncoder(ranges[site], cal.signed(site), timing)


def _convert(module: nn.Module, path: str, ranges: dict[nn.Module, float], timing: str) -> nn.Module:
    if isinstance(module, CONTAINERS):
        layers = module.layers if isinstance(module, Sequential) else list(module)
        return Sequential(*(_convert(m, f"{path}.{i}".lstrip("."), ranges, timing) for i, m in enumerate(layers)))
    if isinstance(module, Convertible):
        _convert_inside(module, path, ranges, timing)
        return SpikingComponent(module, timing)
    if is_site(module):
        return _encoder(module, ranges, timing)
    if isinstance(module, PER_STEP):
        return module
    if isinstance(module, UNITS):
        return SpikingUnit(module, timing)
    raise ConversionError(path, module)


def _convert_inside(module: nn.Module, path: str, ranges: dict[nn.Module, float], timing: str) -> None:
    for name, child in module.named_children():
        child_path = f"{path}.{name}".lstrip(".")
        if is_site(child):
            setattr(module, name, _encoder(child, ranges, timing))
        elif isinstance(child, Convertible) or isinstance(child, (nn.ModuleList, nn.ModuleDict, ValueEmbeddingBank)):
            _convert_inside(child, child_path, ranges, timing)
        elif not isinstance(child, INSIDE):
            raise ConversionError(child_path, child, f" inside the component {type(module).__name__}")
