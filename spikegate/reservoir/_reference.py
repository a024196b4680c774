"""The ``"reference"`` backend of :func:`spikegate.reservoir.simulate`: a PyTorch loop over the
neurons' own step functions (``izhikevich_step``, ``lif_step``) and the plasticity rules'
``update``, for ``B`` networks at once. It is the ground truth the numba kernel is tested
against. Synaptic events are added one by one (``index_add_``) in the kernel's (and Brian2's)
order, so the two backends agree bitwise in float64, even in chaotic regimes."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from spikegate.neurons import IzhikevichParams, izhikevich_step, lif_step


class _Projection:
    """Synapses as tensors: segment pointers by (source, delay), targets, weights."""

    def __init__(self, syn, weight: Tensor) -> None:
        self.seg = torch.from_numpy(syn.segments)
        self.n_delays = syn.max_delay + 1
        self.post = torch.from_numpy(syn.post.copy())
        self.pre = torch.from_numpy(syn.pre.copy())
        self.weight = weight.clone()

    def deliver(self, v: Tensor, history: Tensor, step: int) -> None:
        """``v[b, post[k]] += weight[k]`` for every event due at ``step``: largest delay first,
        then by source, then by synapse."""
        ring = history.shape[0]
        for b in range(v.shape[0]):
            parts = []
            for d in range(self.n_delays - 1, -1, -1):
                src = torch.nonzero(history[(step - d) % ring, b]).flatten()
                base = src * self.n_delays + d
                start, length = self.seg[base], self.seg[base + 1] - self.seg[base]
                total = int(length.sum())
                if total:
                    first = torch.cumsum(length, 0) - length
                    parts.append(torch.repeat_interleave(start - first, length) + torch.arange(total))
            if parts:
                ids = torch.cat(parts)
                v[b].index_add_(0, self.post[ids], self.weight[ids])


class Runner:
    def __init__(self, network, rule, plastic, drives, traced, state, rng: np.random.Generator) -> None:
        self.network, self.rule, self.state = network, rule, state
        self.traced = torch.from_numpy(traced)
        self.rec = _Projection(network.recurrent, state.weight)
        if network.inputs is not None:
            self.inp = _Projection(network.inputs, torch.from_numpy(network.inputs.weight.copy()))
        n = network.n
        self.plastic = None if plastic is None else network.recurrent.dense(plastic.astype(np.float64)) > 0
        self.rates = [torch.as_tensor(d.rate * network.dt / 1000.0).expand(n) for d in drives]
        self.rate_w = [torch.as_tensor(d.weight).expand(n) for d in drives]
        self.gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
        self.step_fn = izhikevich_step if isinstance(network.neuron, IzhikevichParams) else lif_step

    def _plasticity(self, s: Tensor, traces):
        rec, n = self.rec, self.network.n
        w = torch.zeros(n, n, dtype=torch.float64)
        w[rec.post, rec.pre] = rec.weight
        new, traces = self.rule.update(s, s, w, traces, mask=self.plastic)
        rec.weight = new[rec.post, rec.pre]
        return traces

    def advance(self, k: int, current: Tensor | None, inputs: Tensor | None):
        from spikegate.reservoir.simulate import SpikeEvents

        st = self.state
        neuron, hist, hist_in, traces = st.neuron, st.history.clone(), st.input_history.clone(), st.plasticity
        b, n = hist.shape[1], hist.shape[2]
        steps, units, batch, trace_out = [], [], [], []
        zero = torch.zeros(b, n, dtype=torch.float64)
        with torch.no_grad():
            for t in range(k):
                g = st.step + t
                x = current[t].to(torch.float64) if current is not None else zero
                s, neuron = self.step_fn(x, neuron, self.network.neuron)
                hist[g % hist.shape[0]] = s > 0
                v = neuron.v.clone()
                self.rec.deliver(v, hist, g)
                if inputs is not None:
                    hist_in[g % hist_in.shape[0]] = inputs[t] != 0
                    self.inp.deliver(v, hist_in, g)
                for p, w in zip(self.rates, self.rate_w):
                    v = v + torch.poisson(p.expand(b, n).contiguous(), generator=self.gen) * w
                neuron = neuron._replace(v=v)
                if self.rule is not None:
                    traces = self._plasticity(s, traces)
                bi, ui = torch.nonzero(s > 0, as_tuple=True)
                steps.append(torch.full_like(bi, g))
                units.append(ui)
                batch.append(bi)
                trace_out.append(v[:, self.traced])
        self.state = st._replace(neuron=neuron, weight=self.rec.weight.clone(), history=hist, input_history=hist_in,
                                 plasticity=traces, step=st.step + k)
        ev = SpikeEvents(*(torch.cat(a).numpy().astype(np.int64) for a in (steps, units, batch)))
        return ev, torch.stack(trace_out)

    def final_state(self):
        return self.state
