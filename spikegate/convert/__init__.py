"""ANN -> SNN conversion: gated / expert / attention components (:mod:`.ann`), calibration and
QCFS preparation (:mod:`.calibrate`), spiking operators (:mod:`.operators`), :func:`to_snn`
(:mod:`.convert`), operation counts and energy (:mod:`.counting`), error budgets of the
gate / router / GLA designs (:mod:`.budget`). Plots of a metric against T:
:func:`spikegate.plot.versus_steps`."""

from spikegate.convert import ann, budget
from spikegate.convert.calibrate import prepare_qat, thresholds
from spikegate.convert.convert import ConversionError, SpikingNetwork, supported, to_snn
from spikegate.convert.counting import EnergyCosts, OpCounts, count_ops, energy
from spikegate.convert.operators import (
    IFEncoder,
    SpikeOps,
    SpikingComponent,
    SpikingUnit,
    accumulate_compute,
    cumulative_product,
)

__all__ = [
    "ConversionError",
    "EnergyCosts",
    "IFEncoder",
    "OpCounts",
    "SpikeOps",
    "SpikingComponent",
    "SpikingNetwork",
    "SpikingUnit",
    "accumulate_compute",
    "ann",
    "budget",
    "count_ops",
    "cumulative_product",
    "energy",
    "prepare_qat",
    "supported",
    "thresholds",
    "to_snn",
]
