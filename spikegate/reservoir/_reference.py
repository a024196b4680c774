"""The ``"reference"`` backend of :func:`spikegate.reservoir.simulate`: a PyTorch loop over the
neurons' own step functions (``izhikevich_step``, ``lif_step``) and the plasticity rules'
``step``, with dense weight matrices, for ``B`` networks at once. It is the ground truth the
numba kernel is tested against, and the faster choice for many trials of a small network."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from spikegate.neurons import IzhikevichParams, izhikevich_step, lif_step


def _by_delay(syn) -> list[tuple[int, Tensor]]:
    """``[(d, mask [n_post, n_pre])]`` for every delay ``d`` in use."""
    return [(int(d), syn.dense((syn.delay == d).astype(np.float64)) > 0) for d in np.unique(syn.delay)]


class Runner:
    def __init__(self, network, rule, plastic, drives, traced, state, rng: np.random.Generator) -> None:
        self.network, self.rule, self.state = network, rule, state
        self.traced = torch.from_numpy(traced)
        rec = network.recurrent
        self.w = rec.dense(state.weight.numpy())
        self.rec_masks = _by_delay(rec)
        self.rec_w = [(d, self.w * m) for d, m in self.rec_masks]
        if network.inputs is not None:
            self.in_w = [(d, network.inputs.dense() * m) for d, m in _by_delay(network.inputs)]
        self.plastic = None if plastic is None else rec.dense(plastic.astype(np.float64)) > 0
        n = network.n
        self.rates = [torch.as_tensor(d.rate * network.dt / 1000.0).expand(n) for d in drives]
        self.rate_w = [torch.as_tensor(d.weight).expand(n) for d in drives]
        self.gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
        self.step_fn = izhikevich_step if isinstance(network.neuron, IzhikevichParams) else lif_step

    def _arrivals(self, history: Tensor, step: int, weights) -> Tensor:
        ring = history.shape[0]
        return sum(history[(step - d) % ring].to(torch.float64) @ w.T for d, w in weights)

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
                v = neuron.v + self._arrivals(hist, g, self.rec_w)
                if inputs is not None:
                    hist_in[g % hist_in.shape[0]] = inputs[t] != 0
                    v = v + self._arrivals(hist_in, g, self.in_w)
                for p, w in zip(self.rates, self.rate_w):
                    v = v + torch.poisson(p.expand(b, n).contiguous(), generator=self.gen) * w
                neuron = neuron._replace(v=v)
                if self.rule is not None:
                    dw, traces = self.rule.step(s, s, self.w, traces, mask=self.plastic)
                    self.w = self.w + dw
                    self.rec_w = [(d, self.w * m) for d, m in self.rec_masks]
                bi, ui = torch.nonzero(s > 0, as_tuple=True)
                steps.append(torch.full_like(bi, g))
                units.append(ui)
                batch.append(bi)
                trace_out.append(v[:, self.traced])
        rec = self.network.recurrent
        weight = self.w[torch.from_numpy(rec.post), torch.from_numpy(rec.pre)]
        self.state = st._replace(neuron=neuron, weight=weight, history=hist, input_history=hist_in,
                                 plasticity=traces, step=st.step + k)
        ev = SpikeEvents(*(torch.cat(a).numpy().astype(np.int64) for a in (steps, units, batch)))
        return ev, torch.stack(trace_out)

    def final_state(self):
        return self.state
