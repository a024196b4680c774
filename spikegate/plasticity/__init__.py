"""Local learning rules. Every rule returns weight changes and keeps weights in their bounds;
states are NamedTuples of traces; weights are ``[N_post, N_pre]``."""

from spikegate.plasticity.stdp import (
    TRIPLET_PRESETS,
    WEIGHT_DEPENDENCE,
    PairSTDP,
    STDPState,
    TripletSTDP,
    TripletState,
)
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
    "PairSTDP",
    "STDPState",
    "TRACE_MODES",
    "TRIPLET_PRESETS",
    "TripletSTDP",
    "TripletState",
    "WEIGHT_DEPENDENCE",
    "bump",
    "decay",
    "decay_factor",
    "update_trace",
]
