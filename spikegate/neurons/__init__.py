"""What a neuron is: parameters, a NamedTuple state, one pure step function, a thin module."""

from spikegate.neurons.base import (
    Bounded,
    Recurrent,
    RecurrentState,
    Sequential,
    SequenceModule,
    Stateful,
    detach,
)
from spikegate.neurons.izhikevich import (
    PRESETS,
    Izhikevich,
    IzhikevichParams,
    IzhikevichPopulation,
    IzhikevichState,
    izhikevich_population,
    izhikevich_step,
)
from spikegate.neurons.lif import (
    LIF,
    CubaLIF,
    CubaLIFParams,
    CubaLIFState,
    LIFParams,
    LIFState,
    cuba_lif_step,
    lif_step,
)
from spikegate.neurons.meta import MetaNeuron, MetaParams, MetaState, meta_step

__all__ = [
    "Bounded",
    "CubaLIF",
    "CubaLIFParams",
    "CubaLIFState",
    "Izhikevich",
    "IzhikevichParams",
    "IzhikevichPopulation",
    "IzhikevichState",
    "LIF",
    "LIFParams",
    "LIFState",
    "MetaNeuron",
    "MetaParams",
    "MetaState",
    "PRESETS",
    "Recurrent",
    "RecurrentState",
    "SequenceModule",
    "Sequential",
    "Stateful",
    "cuba_lif_step",
    "detach",
    "izhikevich_population",
    "izhikevich_step",
    "lif_step",
    "meta_step",
]
