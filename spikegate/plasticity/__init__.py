"""Local learning rules. Every rule returns weight changes and keeps weights in their bounds;
states are NamedTuples of traces; weights are ``[N_post, N_pre]``."""

from spikegate.plasticity.force import FORCE, FORCEState
from spikegate.plasticity.stdp import (
    TRIPLET_PRESETS,
    WEIGHT_DEPENDENCE,
    PairSTDP,
    STDPState,
    TripletSTDP,
    TripletState,
)
from spikegate.plasticity.three_factor import ThreeFactor, ThreeFactorState
from spikegate.plasticity.traces import (
    TRACE_MODES,
    DoubleExponential,
    DoubleExponentialState,
    bump,
    decay,
    decay_factor,
    update_trace,
)

__all__ = [
    "DoubleExponential",
    "DoubleExponentialState",
    "FORCE",
    "FORCEState",
    "PairSTDP",
    "STDPState",
    "TRACE_MODES",
    "TRIPLET_PRESETS",
    "ThreeFactor",
    "ThreeFactorState",
    "TripletSTDP",
    "TripletState",
    "WEIGHT_DEPENDENCE",
    "bump",
    "decay",
    "decay_factor",
    "update_trace",
]
