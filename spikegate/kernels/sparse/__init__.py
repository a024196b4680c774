"""Sparse spike propagation: synaptic products whose cost follows the number of spikes (README.md)."""

from spikegate.kernels.sparse.conv import CONV_CROSSOVER, conv2d
from spikegate.kernels.sparse.linear import CROSSOVER, linear

__all__ = ["CONV_CROSSOVER", "CROSSOVER", "conv2d", "linear"]
