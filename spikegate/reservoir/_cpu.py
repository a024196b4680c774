"""The ``"cpu"`` backend of :func:`spikegate.reservoir.simulate`: packs a network and its state
into the plain arrays of :mod:`spikegate.kernels.reservoir.cpu` and unpacks the result."""

from __future__ import annotations

import hashlib
import weakref

import numpy as np
import torch
from torch import Tensor

from spikegate.kernels.reservoir import cpu as kernel
from spikegate.neurons import IzhikevichParams, IzhikevichState, LIFState
from spikegate.plasticity import PairSTDP, STDPState, TripletState
from spikegate.plasticity.traces import decay_factor

_RESETS = {"subtract": kernel.RESET_SUBTRACT, "zero": kernel.RESET_ZERO, "none": kernel.RESET_NONE}
_EMPTY_F = np.zeros((1, 1))
# incoming index of the plastic synapses, per Synapses object and plastic mask
_INCOMING: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_EMPTY_U8 = np.zeros((1, 1), np.uint8)


def _f64(x: Tensor | np.ndarray, copy: bool = False) -> np.ndarray:
    """A contiguous float64 array; ``copy=True`` for arrays the kernel writes to (the caller's
    state must not change)."""
    a = x.detach().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x)
    return np.array(a, dtype=np.float64, order="C", copy=True) if copy else np.ascontiguousarray(a, dtype=np.float64)


def _ring_to_lists(history: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """``[R, 1, N]`` bool -> (indices ``[R, N]``, counts ``[R]``)."""
    h = history[:, 0].numpy()
    idx = np.zeros(h.shape, np.int64)
    cnt = np.zeros(h.shape[0], np.int64)
    for r in range(h.shape[0]):
        units = np.flatnonzero(h[r])
        idx[r, : units.size] = units
        cnt[r] = units.size
    return idx, cnt


def _lists_to_ring(idx: np.ndarray, cnt: np.ndarray) -> Tensor:
    out = np.zeros(idx.shape, bool)
    for r in range(idx.shape[0]):
        out[r, idx[r, : cnt[r]]] = True
    return torch.from_numpy(out)[:, None]


def _incoming(rec, plastic: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(ptr [N + 1], synapse ids, their presynaptic neurons)`` of the plastic synapses by
    target, cached per synapse object and mask (building it touches every synapse)."""
    key = hashlib.blake2b(np.ascontiguousarray(plastic).view(np.uint8), digest_size=16).digest()
    cached = _INCOMING.get(rec)
    if cached is not None and cached[0] == key:
        return cached[1]
    _, ids = rec.by_post
    in_syn = np.ascontiguousarray(ids[plastic[ids]])
    in_ptr = np.zeros(rec.n_post + 1, np.int64)
    np.cumsum(np.bincount(rec.post[in_syn], minlength=rec.n_post), out=in_ptr[1:])
    value = (in_ptr, in_syn, rec.pre[in_syn].astype(np.int32))  # read in order when potentiating
    _INCOMING[rec] = (key, value)
    return value


def _rule_vector(rule) -> tuple[int, np.ndarray]:
    rp = np.zeros(kernel.RULE_PARAMS)
    if rule is None:
        return kernel.NO_RULE, rp
    rp[kernel.P_W_MIN], rp[kernel.P_W_MAX], rp[kernel.P_MU] = rule.w_min, rule.w_max, rule.mu
    rp[kernel.P_MULTIPLICATIVE] = float(rule.weight_dependence == "multiplicative")
    rp[kernel.P_NEAREST] = float(rule.pairing == "nearest")
    if isinstance(rule, PairSTDP):
        rp[kernel.P_A_PLUS], rp[kernel.P_A_MINUS] = rule.a_plus, rule.a_minus
        taus = (rule.tau_plus, rule.tau_minus)
        which = kernel.PAIR
    else:
        rp[kernel.P_A2_PLUS], rp[kernel.P_A3_PLUS] = rule.a2_plus, rule.a3_plus
        rp[kernel.P_A2_MINUS], rp[kernel.P_A3_MINUS] = rule.a2_minus, rule.a3_minus
        taus = (rule.tau_plus, rule.tau_x, rule.tau_minus, rule.tau_y)
        which = kernel.TRIPLET
    for t, tau in enumerate(taus):
        rp[kernel.P_F0 + t] = decay_factor(tau, rule.dt)
    return which, rp


class Runner:
    """Holds the packed arrays between chunks; :meth:`advance` runs the kernel."""

    def __init__(self, network, rule, plastic, drives, traced, state, rng: np.random.Generator) -> None:
        self.network, self.rule, self.rng = network, rule, rng
        self.step = state.step
        nrn = network.neuron
        n = network.n
        self.v = _f64(state.neuron.v[0], copy=True)
        if isinstance(nrn, IzhikevichParams):
            self.model = kernel.IZH_EULER if nrn.scheme == "euler" else kernel.IZH_2003
            self.p = [_f64(t) for t in (nrn.a, nrn.b, nrn.c, nrn.d)]
            self.u = _f64(state.neuron.u[0], copy=True)
            self.v_peak, self.reset, self.refractory = float(nrn.v_peak), 0, 0
        else:
            self.model = kernel.LIF
            zeros = np.zeros(n)
            self.p = [_f64(nrn.beta), _f64(nrn.threshold), zeros, zeros]
            self.refractory = int(nrn.refractory)
            self.u = _f64(state.neuron.refrac[0], copy=True) if state.neuron.refrac is not None else np.zeros(n)
            self.v_peak, self.reset = 0.0, _RESETS[nrn.reset]
        rec = network.recurrent
        self.seg, self.n_delays = rec.segments, rec.max_delay + 1
        # weights change only under plasticity; then the kernel works on a copy
        self.weight = _f64(state.weight, copy=rule is not None)
        self.hist_idx, self.hist_cnt = _ring_to_lists(state.history)
        if network.inputs is not None:
            inp = network.inputs
            self.seg_in, self.n_delays_in = inp.segments, inp.max_delay + 1
            self.post_in, self.weight_in = inp.post_int32, _f64(inp.weight)
        else:
            self.seg_in, self.n_delays_in = np.zeros(2, np.int64), 1
            self.post_in, self.weight_in = np.zeros(1, np.int32), np.zeros(1)
        self.hist_in_idx, self.hist_in_cnt = _ring_to_lists(state.input_history)
        self.rate = np.ascontiguousarray([d.rate for d in drives], np.float64).reshape(len(drives), n)
        self.rate_weight = np.ascontiguousarray([d.weight for d in drives], np.float64).reshape(len(drives), n)
        if state.poisson_next is not None and tuple(state.poisson_next.shape) == (len(drives), 1, n):
            self.t_next = _f64(state.poisson_next[:, 0], copy=True)
        else:
            self.t_next = np.full_like(self.rate, np.inf)
            pos = self.rate > 0
            self.t_next[pos] = state.step * network.dt + rng.exponential(1000.0 / self.rate[pos])
        self.rule_id, self.rp = _rule_vector(rule)
        self.tr = np.zeros((4, n))
        if rule is not None:
            self.in_ptr, self.in_syn, self.in_pre = _incoming(rec, plastic)
            self.plastic = np.ascontiguousarray(plastic)
            for t, trace in enumerate(state.plasticity):
                self.tr[t] = _f64(trace[0])
        else:
            self.in_syn, self.in_pre, self.in_ptr = np.zeros(1, np.int64), np.zeros(1, np.int32), np.zeros(n + 1, np.int64)
            self.plastic = np.zeros(1, bool)
        self.traced = traced
        self.traces_in = state.plasticity
        # one stream per simulate() call, continued across chunks
        self.rng_state = kernel.seed_state(int(rng.integers(2**63)))

    def advance(self, k: int, current: Tensor | None, inputs: Tensor | None):
        from spikegate.reservoir.simulate import SpikeEvents

        cur = _f64(current[:, 0]) if current is not None else _EMPTY_F
        inp = np.ascontiguousarray(inputs[:, 0].numpy() != 0, dtype=np.uint8) if inputs is not None else _EMPTY_U8

        trace_out = np.zeros((k, self.traced.size))
        rec = self.network.recurrent
        t, i = kernel.run(
            k, self.step, self.rng_state,
            self.model, self.v, self.u, *self.p, float(self.network.dt), self.v_peak, self.reset, self.refractory,
            cur, current is not None,
            self.n_delays, self.seg, rec.post_int32, self.weight, rec.indptr, self.hist_idx, self.hist_cnt,
            self.n_delays_in, self.seg_in, self.post_in, self.weight_in, inp, inputs is not None,
            self.hist_in_idx, self.hist_in_cnt,
            self.rate, self.rate_weight, self.t_next,
            self.rule_id, self.rp, self.in_ptr, self.in_syn, self.in_pre, self.plastic, self.tr,
            self.traced, trace_out,
        )
        self.step += k
        return SpikeEvents(t, i, np.zeros_like(i)), torch.from_numpy(trace_out)[:, None]

    def final_state(self):
        from spikegate.reservoir.simulate import NetworkState

        v = torch.from_numpy(self.v)[None]
        u = torch.from_numpy(self.u)[None]
        if self.model == kernel.LIF:
            neuron = LIFState(v, u if self.refractory > 0 else None)
        else:
            neuron = IzhikevichState(v, u)
        if self.rule is None:
            traces = self.traces_in
        else:
            rows = [torch.from_numpy(self.tr[t])[None] for t in range(4)]
            traces = STDPState(*rows[:2]) if isinstance(self.rule, PairSTDP) else TripletState(*rows)
        return NetworkState(
            neuron, torch.from_numpy(self.weight), _lists_to_ring(self.hist_idx, self.hist_cnt),
            _lists_to_ring(self.hist_in_idx, self.hist_in_cnt), traces,
            torch.from_numpy(self.t_next)[:, None] if self.rate.shape[0] else None, self.step,
        )
