"""Spiking reservoirs: sparse E/I networks of Izhikevich or LIF neurons, their event-driven
simulation with plasticity, and HDF5 recording."""

from spikegate.reservoir.connectivity import Synapses, dale_synapses, obeys_dale, random_pairs
from spikegate.reservoir.network import Network, input_synapses, izhikevich_reservoir, lif_reservoir
from spikegate.reservoir.simulate import (
    NetworkState,
    PoissonDrive,
    SimulationResult,
    SpikeEvents,
    default_plastic,
    initial_state,
    network_recorder,
    simulate,
)

__all__ = [
    "Network",
    "NetworkState",
    "PoissonDrive",
    "SimulationResult",
    "SpikeEvents",
    "Synapses",
    "dale_synapses",
    "default_plastic",
    "initial_state",
    "input_synapses",
    "izhikevich_reservoir",
    "lif_reservoir",
    "network_recorder",
    "obeys_dale",
    "random_pairs",
    "simulate",
]
