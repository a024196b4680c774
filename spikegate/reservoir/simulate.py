r"""Run a :class:`~spikegate.reservoir.Network`: event-driven on the CPU (numba) or as a
batched PyTorch loop over the neurons' step functions, with plasticity during the run and
HDF5 recording through :mod:`spikegate.io`.

One step ``n`` (both backends; the numba kernel's derivation is in
``spikegate/kernels/reservoir/README.md``):

1. every neuron makes one step of its model with the external current ``current[n]``
   (``izhikevich_step`` or ``lif_step``: integrate, threshold, reset);
2. synaptic events due at ``n`` are delivered as jumps of ``v``: recurrent spikes of step
   ``n - d`` through synapses of delay ``d`` (``d = 0`` included), then input spikes the same
   way, then Poisson afferents; each reads the weight as it is at step ``n``;
3. plasticity (a :class:`~spikegate.plasticity.PairSTDP` or
   :class:`~spikegate.plasticity.TripletSTDP`) updates the plastic recurrent synapses from the
   spikes of step ``n``, pre- and post-synaptic sides being the same population; traces see a
   presynaptic spike when it is emitted.

In Brian2 terms: a ``NeuronGroup`` (``method="euler"``, ``threshold="v >= 30"``, ``reset="v =
c; u += d"`` for Izhikevich) and ``Synapses`` whose pathways run in the ``after_resets`` slot:
transmission (``v_post += w``, with the delays), then the inputs, then the STDP ``on_pre`` (no
delay), then ``on_post`` (:func:`spikegate.reservoir.brian2.build` writes it).

Backends: ``"cpu"`` (numba, one network, event-driven: cost per synaptic event),
``"reference"`` (PyTorch, ``batch`` independent networks sharing the weights, dense weight
matrices: pays for many trials of a small network at once), ``"auto"`` (``"cpu"`` for
``batch == 1``, else ``"reference"``). Both give the same spikes in float64.
"""

from __future__ import annotations

import os
from typing import NamedTuple, Sequence

import numpy as np
import torch
from torch import Tensor

from spikegate._validate import check_choice, check_int
from spikegate.kernels import BackendError
from spikegate.neurons import IzhikevichParams, IzhikevichState, LIFState
from spikegate.plasticity import PairSTDP, STDPState, TripletSTDP, TripletState
from spikegate.reservoir.connectivity import as_generator
from spikegate.reservoir.network import Network

BACKENDS: tuple[str, ...] = ("auto", "cpu", "reference")


class PoissonDrive(NamedTuple):
    """Poisson afferents onto every neuron: events at ``rate`` Hz in total per neuron (e.g.
    ``n_afferents * rate_each``), each adding ``weight`` to ``v``. Both may be per neuron ``[N]``."""

    rate: float | np.ndarray
    weight: float | np.ndarray


class SpikeEvents(NamedTuple):
    """Spikes as parallel arrays: global step, neuron, batch index (``int64 [K]``), by step."""

    steps: np.ndarray
    units: np.ndarray
    batch: np.ndarray

    def raster(self, n_steps: int, n_units: int, batch: int = 1, first_step: int = 0) -> Tensor:
        """Dense ``[n_steps, batch, n_units]`` float64 0/1 raster of steps ``first_step ...``."""
        out = torch.zeros(n_steps, batch, n_units, dtype=torch.float64)
        keep = (self.steps >= first_step) & (self.steps < first_step + n_steps)
        out[self.steps[keep] - first_step, self.batch[keep], self.units[keep]] = 1.0
        return out


class NetworkState(NamedTuple):
    """Everything a run changes. ``history[n % R]`` holds the spikes of step ``n`` for the last
    ``R = max delay + 1`` steps (``[R, B, N]`` bool), likewise ``input_history`` for the input
    spikes; ``weight`` are the recurrent weights in :class:`Synapses` order (they may share
    memory with the network's synapses: treat them as read-only; a run never changes the
    state it is given); ``plasticity``
    the rule's traces (kept unchanged by a run without a rule); ``poisson_next`` the time (ms)
    of each drive's next event per neuron (``[K, B, N]``, cpu backend); ``step`` the number of
    steps simulated so far."""

    neuron: IzhikevichState | LIFState
    weight: Tensor
    history: Tensor
    input_history: Tensor
    plasticity: STDPState | TripletState | None
    poisson_next: Tensor | None
    step: int


class SimulationResult(NamedTuple):
    spikes: SpikeEvents
    traces: Tensor | None  # [T, B, K] membrane potential of the traced neurons after each step
    state: NetworkState
    backend: str


def initial_state(network: Network, batch: int = 1, plasticity: PairSTDP | TripletSTDP | None = None) -> NetworkState:
    """Rest (``v = v_init``, ``u = b v``), no pending spikes, zero traces, initial weights."""
    check_int(batch, "batch", minimum=1)
    n = network.n
    v = torch.full((batch, n), float(network.v_init), dtype=torch.float64)
    if isinstance(network.neuron, IzhikevichParams):
        neuron: IzhikevichState | LIFState = IzhikevichState(v, network.neuron.b.double() * v)
    else:
        neuron = LIFState(v, torch.zeros_like(v) if network.neuron.refractory > 0 else None)
    ring = network.recurrent.max_delay + 1
    ring_in = (network.inputs.max_delay + 1) if network.inputs is not None else 1
    traces = None if plasticity is None else plasticity.initial_state(batch, n, n)
    # the network's weights, not a copy: simulate() copies them before plasticity changes them
    return NetworkState(neuron, torch.from_numpy(network.recurrent.weight),
                        torch.zeros(ring, batch, n, dtype=torch.bool),
                        torch.zeros(ring_in, batch, max(network.n_inputs, 1), dtype=torch.bool),
                        traces, None, 0)


def default_plastic(network: Network) -> np.ndarray:
    """Plastic-synapse mask ``[nnz]``: excitatory onto excitatory."""
    exc = np.asarray(network.excitatory, dtype=bool)
    syn = network.recurrent
    return exc[syn.pre] & exc[syn.post]


def network_recorder(path: str | os.PathLike, network: Network, trace: Sequence[int] = (), **attrs):
    """A :class:`spikegate.io.Recorder` laid out for :func:`simulate`: spikes ``"network"``
    (``N`` units) and, with ``trace``, the membrane trace ``"v"`` of those neurons."""
    from spikegate.io import Recorder

    return Recorder(path, dt=network.dt, spikes={"network": network.n},
                    traces={"v": (len(trace),)} if len(trace) else None,
                    attrs={"model": network.model, "n": network.n, **attrs})


def _sequence(x: Tensor | np.ndarray | None, name: str, steps: int, batch: int, width: int) -> Tensor | None:
    """``[T, N]`` or ``[T, B, N]`` -> ``[T, B, N]`` (float64 or bool as given), checked."""
    if x is None:
        return None
    t = torch.as_tensor(x)
    if t.dim() == 2:
        t = t.unsqueeze(1).expand(t.shape[0], batch, t.shape[1])
    if t.dim() != 3 or t.shape[0] < steps or t.shape[1] != batch or t.shape[2] != width:
        raise ValueError(f"{name} must be [T, {width}] or [T, {batch}, {width}] with T >= {steps}, "
                         f"got {tuple(torch.as_tensor(x).shape)}")
    if t.is_floating_point() and not bool(torch.isfinite(t[:steps]).all()):
        raise ValueError(f"{name} contains NaN or inf")
    return t


def _plastic_mask(network: Network, rule, plastic, weight: Tensor) -> np.ndarray | None:
    if rule is None:
        return None
    if not isinstance(rule, (PairSTDP, TripletSTDP)):
        raise TypeError(f"plasticity must be a PairSTDP or TripletSTDP rule, got {type(rule).__name__}")
    mask = default_plastic(network) if plastic is None else np.asarray(plastic, dtype=bool)
    if mask.shape != (network.recurrent.nnz,):
        raise ValueError(f"plastic must be a bool mask of shape ({network.recurrent.nnz},), got {mask.shape}")
    w = weight.numpy()[mask]
    if w.size and (w.min() < rule.w_min or w.max() > rule.w_max):
        raise ValueError(f"plastic weights must start inside [w_min, w_max] = [{rule.w_min}, {rule.w_max}]")
    return mask


def simulate(
    network: Network,
    steps: int,
    *,
    current: Tensor | np.ndarray | None = None,
    input_spikes: Tensor | np.ndarray | None = None,
    poisson: Sequence[PoissonDrive] = (),
    plasticity: PairSTDP | TripletSTDP | None = None,
    plastic: np.ndarray | None = None,
    state: NetworkState | None = None,
    batch: int = 1,
    trace: Sequence[int] = (),
    recorder=None,
    chunk: int | None = None,
    backend: str = "auto",
    generator: np.random.Generator | int | None = None,
) -> SimulationResult:
    """Simulate ``steps`` steps of ``dt`` (see the module docstring for the step).

    Args:
        network: the network.
        steps: number of steps.
        current: external current ``[T, N]`` or ``[T, B, N]`` (model units; mV/ms for
            Izhikevich), ``T >= steps``.
        input_spikes: spikes of the input sources ``[T, n_in]`` or ``[T, B, n_in]`` (0/1),
            delivered through ``network.inputs``.
        poisson: Poisson afferent drives.
        plasticity: STDP rule applied to the plastic recurrent synapses (dt must match).
        plastic: bool mask ``[nnz]`` of plastic synapses (default: excitatory -> excitatory).
        state: state to continue from (default: :func:`initial_state`).
        batch: independent networks (shared weights; plasticity sums their changes).
        trace: neurons whose membrane potential is returned (and recorded) every step.
        recorder: a :func:`network_recorder` to append spikes (of batch 0) and traces to.
        chunk: steps per kernel call / recorder flush (default: all, or 1000 with a recorder).
        backend: ``"auto"`` | ``"cpu"`` | ``"reference"``.
        generator: numpy Generator (or seed) for the Poisson drives.
    """
    check_int(steps, "steps", minimum=1)
    check_int(batch, "batch", minimum=1)
    check_choice(backend, "backend", BACKENDS)
    if backend == "auto":
        backend = "cpu" if batch == 1 else "reference"
    if backend == "cpu" and batch != 1:
        raise BackendError(f"the 'cpu' backend simulates one network (batch = 1), got batch = {batch}; "
                           "backends that can: reference")
    if plasticity is not None and plasticity.dt != network.dt:
        raise ValueError(f"plasticity.dt ({plasticity.dt}) must equal the network's dt ({network.dt})")
    n = network.n
    traced = np.asarray(list(trace), dtype=np.int64)
    if traced.size and (traced.min() < 0 or traced.max() >= n):
        raise ValueError(f"trace indices must lie in 0..{n - 1}")
    cur = _sequence(current, "current", steps, batch, n)
    if input_spikes is not None and network.inputs is None:
        raise ValueError("input_spikes were given but the network has no input synapses")
    inp = _sequence(input_spikes, "input_spikes", steps, batch, network.n_inputs) if input_spikes is not None else None
    drives = [PoissonDrive(np.broadcast_to(np.asarray(d.rate, np.float64), (n,)).copy(),
                           np.broadcast_to(np.asarray(d.weight, np.float64), (n,)).copy()) for d in poisson]
    if any((d.rate < 0).any() or not np.isfinite(d.rate).all() for d in drives):
        raise ValueError("poisson rates must be finite and >= 0")
    state = initial_state(network, batch, plasticity) if state is None else state
    if state.history.shape[1] != batch:
        raise ValueError(f"state is for batch {state.history.shape[1]}, not {batch}")
    if plasticity is not None and state.plasticity is None:  # plasticity switched on mid-run
        state = state._replace(plasticity=plasticity.initial_state(batch, n, n))
    mask = _plastic_mask(network, plasticity, plastic, state.weight)
    if recorder is not None and batch != 1:
        raise ValueError("recording needs batch = 1")
    rng = as_generator(generator)
    chunk = chunk if chunk is not None else (1000 if recorder is not None else steps)
    check_int(chunk, "chunk", minimum=1)
    if backend == "cpu":
        from spikegate.reservoir import _cpu as engine
    else:
        from spikegate.reservoir import _reference as engine
    run = engine.Runner(network, plasticity, mask, drives, traced, state, rng)
    events, traces, first = [], [], state.step
    for start in range(0, steps, chunk):
        k = min(chunk, steps - start)
        ev, tr = run.advance(k, None if cur is None else cur[start:start + k],
                             None if inp is None else inp[start:start + k])
        events.append(ev)
        traces.append(tr)
        if recorder is not None:
            sl = ev.batch == 0
            raster = np.zeros((k, n), np.uint8)
            raster[ev.steps[sl] - (first + start), ev.units[sl]] = 1
            recorder.extend({"network": raster}, {"v": tr[:, 0].numpy()} if traced.size else None)
    spikes = SpikeEvents(*(np.concatenate([getattr(e, f) for e in events]) for f in SpikeEvents._fields))
    return SimulationResult(spikes, torch.cat(traces) if traced.size else None, run.final_state(), backend)
