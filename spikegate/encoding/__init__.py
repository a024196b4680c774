"""Spike encoders: rate (Bernoulli/Poisson), latency, delta. Explicit generators throughout."""

from spikegate.encoding.delta import delta
from spikegate.encoding.latency import latency, spike_times
from spikegate.encoding.poisson import bernoulli, poisson, poisson_process

__all__ = ["bernoulli", "delta", "latency", "poisson", "poisson_process", "spike_times"]
