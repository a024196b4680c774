"""What a neuron is: parameters, a NamedTuple state, one pure step function, a thin module."""

from spikegate.neurons.base import Bounded, Recurrent, RecurrentState, Sequential, Stateful, detach
from spikegate.neurons.izhikevich import (
    PRESETS,
    Izhikevich,
    IzhikevichParams,
    IzhikevichPopulation,
    IzhikevichState,
    izhikevich_population,
    izhikevich_step,
)
from spikegate.neurons.li import LI, LIParams, LIState, li_step
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
from spikegate.neurons.loihi import (
    LoihiConv2d,
    LoihiCubaLIF,
    LoihiLIF,
    LoihiLIFParams,
    LoihiLIFState,
    LoihiLinear,
    loihi_lif_step,
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
    "LI",
    "LIF",
    "LIFParams",
    "LIFState",
    "LIParams",
    "LIState",
    "LoihiConv2d",
    "LoihiCubaLIF",
    "LoihiLIF",
    "LoihiLIFParams",
    "LoihiLIFState",
    "LoihiLinear",
    "MetaNeuron",
    "MetaParams",
    "MetaState",
    "PRESETS",
    "Recurrent",
    "RecurrentState",
    "Sequential",
    "Stateful",
    "cuba_lif_step",
    "detach",
    "izhikevich_population",
    "izhikevich_step",
    "li_step",
    "lif_step",
    "loihi_lif_step",
    "meta_step",
]
