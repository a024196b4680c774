"""Sparse spike propagation: synaptic products whose cost follows the number of spikes (README.md)."""

from spikegate.kernels.sparse.linear import CROSSOVER, linear

__all__ = ["CROSSOVER", "linear"]
