r"""Spiking networks for simulation: a population (heterogeneous Izhikevich or LIF), recurrent
sparse synapses, optional input synapses from external spike sources.

A :class:`Network` is data only: the neuron parameters are the NamedTuples of
:mod:`spikegate.neurons` (``IzhikevichParams`` or ``LIFParams`` with per-neuron ``[N]``
tensors), so the simulation engine runs exactly the model the step functions define.
Synaptic events are jumps of the membrane potential (mV for Izhikevich, membrane units for
LIF): a spike of neuron ``j`` at step ``n`` adds ``w`` to ``v`` of its target at the end of
step ``n + delay`` (after the reset; see :mod:`spikegate.reservoir.simulate`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from spikegate._validate import check_choice, check_int, check_positive
from spikegate.neurons import IzhikevichParams, LIFParams, izhikevich_population
from spikegate.neurons.izhikevich import SCHEMES
from spikegate.neurons.lif import RESETS
from spikegate.reservoir.connectivity import (
    Synapses,
    as_generator,
    dale_synapses,
    delays_in_steps,
    draw_weights,
    random_pairs,
)


@dataclass(frozen=True, eq=False)
class Network:
    """A population with recurrent and (optionally) input synapses.

    Attributes:
        neuron: ``IzhikevichParams`` or ``LIFParams`` with per-neuron ``[N]`` float64 tensors
            (Izhikevich ``dt`` must equal ``dt``).
        recurrent: ``N -> N`` synapses (delays in steps of ``dt``).
        excitatory: bool ``[N]``; excitatory neurons first by convention.
        dt: step in ms.
        inputs: ``n_in -> N`` synapses from external spike trains, or ``None``.
        v_init: membrane potential at rest (mV for Izhikevich, where ``u = b v``; LIF units).
    """

    neuron: IzhikevichParams | LIFParams
    recurrent: Synapses
    excitatory: np.ndarray
    dt: float
    inputs: Synapses | None = None
    v_init: float = -65.0

    def __post_init__(self) -> None:
        check_positive(self.dt, "dt")
        n = self.n
        if not isinstance(self.neuron, (IzhikevichParams, LIFParams)):
            raise TypeError(f"neuron must be IzhikevichParams or LIFParams, got {type(self.neuron).__name__}")
        fields = ("a", "b", "c", "d") if isinstance(self.neuron, IzhikevichParams) else ("beta", "threshold")
        for name in fields:
            t = getattr(self.neuron, name)
            if not isinstance(t, torch.Tensor) or t.shape != (n,):
                raise ValueError(f"neuron.{name} must be a tensor of shape ({n},)")
        if isinstance(self.neuron, IzhikevichParams) and self.neuron.dt != self.dt:
            raise ValueError(f"neuron.dt ({self.neuron.dt}) must equal the network's dt ({self.dt})")
        if isinstance(self.neuron, LIFParams):
            check_choice(self.neuron.reset, "neuron.reset", RESETS)
        if self.recurrent.n_pre != n or self.recurrent.n_post != n:
            raise ValueError(f"recurrent synapses must be {n} -> {n}")
        if self.inputs is not None and self.inputs.n_post != n:
            raise ValueError(f"input synapses must target the {n} neurons")

    @property
    def n(self) -> int:
        return int(np.asarray(self.excitatory).size)

    @property
    def n_inputs(self) -> int:
        return 0 if self.inputs is None else self.inputs.n_pre

    @property
    def model(self) -> str:
        """``"izhikevich"`` or ``"lif"``."""
        return "izhikevich" if isinstance(self.neuron, IzhikevichParams) else "lif"

    def with_recurrent(self, recurrent: Synapses) -> "Network":
        return replace(self, recurrent=recurrent)

    def with_inputs(self, inputs: Synapses | None) -> "Network":
        return replace(self, inputs=inputs)


def izhikevich_reservoir(
    n_exc: int = 800,
    n_inh: int = 200,
    *,
    p: float | None = 0.1,
    in_degree: int | None = None,
    w_exc: float = 0.5,
    w_inh: float = 1.0,
    distribution: str = "uniform",
    spectral_radius: float | None = None,
    delay: float | tuple[float, float] = 0.0,
    dt: float = 0.5,
    scheme: str = "euler",
    autapses: bool = False,
    generator: np.random.Generator | int | None = None,
) -> Network:
    r"""Heterogeneous Izhikevich reservoir: the excitatory/inhibitory parameter spread of
    Izhikevich (2003) (:func:`spikegate.neurons.izhikevich_population`), sparse random
    recurrent synapses (probability ``p`` or fixed ``in_degree``) under Dale's law, magnitudes
    ``w_exc * U(0,1)`` and ``w_inh * U(0,1)`` in mV (``distribution="uniform"``) or constant,
    optionally rescaled to a spectral radius, delays in ms (fixed or a uniform range).
    Excitatory neurons are ``0 .. n_exc - 1``."""
    check_int(n_exc, "n_exc")
    check_int(n_inh, "n_inh")
    if n_exc + n_inh < 1:
        raise ValueError("the network needs at least one neuron")
    check_choice(scheme, "scheme", SCHEMES)
    rng = as_generator(generator)
    pop = izhikevich_population(n_exc, n_inh, generator=torch.Generator().manual_seed(int(rng.integers(2**62))))
    exc = pop.excitatory.numpy()
    rec = dale_synapses(exc, p=p, in_degree=in_degree, w_exc=w_exc, w_inh=w_inh, distribution=distribution,
                        delay=delay, dt=dt, autapses=autapses, spectral_radius=spectral_radius, generator=rng)
    params = IzhikevichParams(pop.a, pop.b, pop.c, pop.d, dt=float(dt), scheme=scheme)
    return Network(params, rec, exc, float(dt), None, -65.0)


def lif_reservoir(
    n_exc: int = 800,
    n_inh: int = 200,
    *,
    tau_mem: float = 20.0,
    threshold: float = 1.0,
    reset: str = "zero",
    refractory: int = 0,
    p: float | None = 0.1,
    in_degree: int | None = None,
    w_exc: float = 0.1,
    w_inh: float = 0.4,
    distribution: str = "constant",
    spectral_radius: float | None = None,
    delay: float | tuple[float, float] = 0.0,
    dt: float = 0.5,
    autapses: bool = False,
    generator: np.random.Generator | int | None = None,
) -> Network:
    r"""LIF reservoir (:func:`spikegate.neurons.lif_step`, :math:`\beta = e^{-dt/\tau_m}`),
    connectivity as :func:`izhikevich_reservoir`; weights in units of the threshold scale;
    ``refractory`` in steps."""
    check_int(n_exc, "n_exc")
    check_int(n_inh, "n_inh")
    if n_exc + n_inh < 1:
        raise ValueError("the network needs at least one neuron")
    check_positive(tau_mem, "tau_mem")
    check_positive(threshold, "threshold")
    check_choice(reset, "reset", RESETS)
    check_int(refractory, "refractory")
    rng = as_generator(generator)
    n = n_exc + n_inh
    exc = np.arange(n) < n_exc
    rec = dale_synapses(exc, p=p, in_degree=in_degree, w_exc=w_exc, w_inh=w_inh, distribution=distribution,
                        delay=delay, dt=dt, autapses=autapses, spectral_radius=spectral_radius, generator=rng)
    beta = torch.full((n,), float(np.exp(-dt / tau_mem)), dtype=torch.float64)
    params = LIFParams(beta, torch.full((n,), float(threshold), dtype=torch.float64), reset, refractory)
    return Network(params, rec, exc, float(dt), None, 0.0)


def input_synapses(
    n_in: int,
    n: int,
    *,
    p: float | None = None,
    in_degree: int | None = None,
    weight: float = 1.0,
    distribution: str = "constant",
    delay: float | tuple[float, float] = 0.0,
    dt: float = 0.5,
    generator: np.random.Generator | int | None = None,
) -> Synapses:
    """Random ``n_in -> n`` synapses from external spike sources (probability ``p`` or
    ``in_degree`` inputs per neuron); ``weight`` may be negative (inhibitory afferents)."""
    rng = as_generator(generator)
    pre, post = random_pairs(n_in, n, p=p, in_degree=in_degree, autapses=True, generator=rng)
    mag = draw_weights(pre.size, abs(weight), distribution, rng)
    return Synapses.from_pairs(pre, post, np.sign(weight) * mag, n_in, n, delays_in_steps(pre.size, delay, dt, rng))
