r"""Calibration: thresholds of the spike encoders from activations, and QCFS preparation for
quantization-aware fine-tuning.

Every activation site (:class:`~spikegate.convert.ann.ActQuant` or ``nn.ReLU``) records the
values entering it on calibration data: the positive ones for an unsigned (ReLU) site,
magnitudes for a signed site. Its range :math:`R` (the IF threshold, the QCFS
:math:`\lambda`) is then

* ``method="percentile"``: the ``percentile``-th percentile of those values (99.9 by default;
  robust normalisation, Rueckauer et al. 2017), or
* ``method="mse"``: the :math:`R` that minimises the mean squared error of the T-level
  quantizer :math:`\frac{R}{T}\mathrm{clip}(\lfloor vT/R + \frac12 \rfloor, 0, T)` on the
  values (searched on 128 candidates spaced geometrically between the median and the maximum,
  on at most 65536 of the values).
  It trades clipping against rounding for the given T.

Calibration data is a tensor (one batch, one input), a tuple of tensors (one batch, several
inputs) or a list / iterable of such batches; the model is called as ``model(*batch)``.
"""

from __future__ import annotations

import copy
from typing import Any, Iterable

import torch
from torch import Tensor, nn

from spikegate._validate import check_choice, check_int, check_range
from spikegate.convert.ann.base import Convertible
from spikegate.convert.ann.quant import ActQuant
from spikegate.convert.operators import is_site

METHODS: tuple[str, ...] = ("percentile", "mse")
MAX_VALUES = 1 << 18  # values kept per site and batch
MSE_VALUES = 1 << 16  # values the MSE search evaluates
MSE_CANDIDATES = 128


def batches(data: Any) -> list[tuple]:
    """Normalise calibration data to a list of argument tuples (module docstring)."""
    if isinstance(data, Tensor):
        return [(data,)]
    if isinstance(data, tuple):
        return [data]
    if isinstance(data, Iterable):
        out = [b if isinstance(b, tuple) else (b,) for b in data]
        if out:
            return out
    raise ValueError("calibration_data must be a tensor, a tuple of tensors or a non-empty iterable of batches")


def sites(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Named activation sites of ``model`` in module order."""
    return [(name, m) for name, m in model.named_modules() if is_site(m)]


def signed(site: nn.Module) -> bool:
    return isinstance(site, ActQuant) and site.signed


@torch.no_grad()
def collect(model: nn.Module, data: Any, seed: int = 0) -> dict[nn.Module, Tensor]:
    """Run ``model`` on calibration ``data`` and return, per site, the recorded values (module
    docstring; at most :data:`MAX_VALUES` per site and batch, drawn with a seeded generator)."""
    generator = torch.Generator().manual_seed(seed)
    values: dict[nn.Module, list[Tensor]] = {}

    def hook(module: nn.Module, args: tuple, output: Tensor) -> None:
        v = args[0].detach().flatten()
        v = v.abs() if signed(module) else v[v > 0]
        if v.numel() > MAX_VALUES:
            v = v[torch.randperm(v.numel(), generator=generator)[:MAX_VALUES].to(v.device)]
        values.setdefault(module, []).append(v.double().cpu())

    handles = [m.register_forward_hook(hook) for _, m in sites(model)]
    was_training = model.training
    model.eval()
    try:
        for batch in batches(data):
            model(*batch)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return {m: torch.cat(v) for m, v in values.items()}


def threshold(values: Tensor, steps: int, method: str = "percentile", percentile: float = 99.9) -> float:
    """Range :math:`R` of one site from its recorded non-negative ``values`` (module docstring)
    for a quantizer with ``steps`` levels."""
    check_choice(method, "method", METHODS)
    check_int(steps, "steps", minimum=1)
    check_range(percentile, "percentile", 0.0, 100.0, low_open=True)
    values = values[values > 0]
    if values.numel() == 0:
        raise ValueError("the site saw no non-zero activation on the calibration data")
    if method == "percentile":
        k = max(1, min(values.numel(), int(round(percentile / 100.0 * values.numel()))))
        return float(values.kthvalue(k).values)
    if values.numel() > MSE_VALUES:
        values = values[torch.randperm(values.numel(), generator=torch.Generator().manual_seed(0))[:MSE_VALUES]]
    lo, hi = values.median().log10(), values.max().log10()
    candidates = torch.logspace(float(lo), float(hi), MSE_CANDIDATES, dtype=values.dtype).unsqueeze(1)
    q = (values * (steps / candidates) + 0.5).floor().clamp(0, steps) * (candidates / steps)
    return float(candidates[(q - values).pow(2).mean(1).argmin(), 0])


def thresholds(
    model: nn.Module, data: Any, steps: int, method: str = "percentile", percentile: float = 99.9
) -> dict[nn.Module, float]:
    """Calibrated range of every site of ``model`` (a float ANN); raises naming any site that
    saw no activation."""
    recorded = collect(model, data)
    out = {}
    for name, m in sites(model):
        if m not in recorded:
            raise ValueError(f"activation site {name!r} was not reached by the calibration data")
        try:
            out[m] = threshold(recorded[m], steps, method, percentile)
        except ValueError as e:
            raise ValueError(f"activation site {name!r}: {e}") from None
    return out


def prepare_qat(
    model: nn.Module, calibration_data: Any, levels: int, method: str = "percentile", percentile: float = 99.9
) -> nn.Module:
    """A copy of the float ``model`` ready for quantization-aware fine-tuning at ``levels``
    QCFS steps: every ``nn.ReLU`` becomes an unsigned :class:`~spikegate.convert.ann.ActQuant`,
    every site quantizes with :math:`\\lambda` initialised from calibration, and components fix
    what the SNN fixes (the 12-bit GLA decay). Fine-tune it, then ``to_snn(model, None, T=levels,
    mode="qat")`` gives an SNN equal to it."""
    check_int(levels, "levels", minimum=1)
    model = copy.deepcopy(model)
    _replace_relu(model)
    ranges = thresholds(model, calibration_data, levels, method, percentile)
    for m, r in ranges.items():
        m.quantize(levels, r)
    for m in model.modules():
        if isinstance(m, Convertible):
            m.prepare_conversion(require_prepared=False)
    return model


def _replace_relu(module: nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.ReLU):
            setattr(module, name, ActQuant(signed=False))
        else:
            _replace_relu(child)
