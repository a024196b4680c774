"""spikegate: spiking neural networks for training, biological simulation and Loihi deployment.

The public surface is re-exported here name by name; submodules hold the rest.
"""

from spikegate.kernels import BackendError
from spikegate.neurons import (
    LI,
    LIF,
    CubaLIF,
    Izhikevich,
    MetaNeuron,
    Recurrent,
    Sequential,
    Stateful,
    detach,
    izhikevich_population,
)
from spikegate.surrogate import SurrogateSpec

__version__ = "0.1.0"

__all__ = [
    "BackendError",
    "CubaLIF",
    "Izhikevich",
    "LI",
    "LIF",
    "MetaNeuron",
    "Recurrent",
    "Sequential",
    "Stateful",
    "SurrogateSpec",
    "__version__",
    "detach",
    "izhikevich_population",
]
