"""Spike encoders: rate (Bernoulli/Poisson), latency, delta; Lempel-Ziv complexity of spike
trains. Explicit generators throughout."""

from spikegate.encoding.delta import delta
from spikegate.encoding.latency import latency, spike_times
from spikegate.encoding.lzc import lz76_complexity, lzc
from spikegate.encoding.poisson import bernoulli, poisson, poisson_process

__all__ = ["bernoulli", "delta", "latency", "lz76_complexity", "lzc", "poisson", "poisson_process", "spike_times"]
