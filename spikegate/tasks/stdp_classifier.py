r"""Unsupervised STDP classifier in the style of Diehl & Cook (Front. Comput. Neurosci. 2015).

One layer of ``n_exc`` excitatory neurons (LIF or meta-neurons, :mod:`spikegate.neurons`)
receives the input spike trains through plastic weights :math:`W \in [0, 1]^{n \times d}`;
lateral inhibition makes it a winner-take-all layer. Per step

.. math::

    I_i[t] = g\, \frac{\bar n}{\lVert W_i \rVert_2} \frac{\sum_j W_{ij} S^{in}_j[t]}{\sum_j W_{ij}}, \qquad
    \text{then the neuron's own step function with threshold } \vartheta + \theta_i,

and of the neurons whose membrane crossed threshold only the one furthest above it spikes (the
step function runs without reset and :func:`spikegate.neurons.lif.apply_reset` resets the
winner); its spike inhibits every other neuron, :math:`v_k \leftarrow \max(v_k - \iota, 0)` with
``inhibition`` :math:`\iota`. Without that inhibition the neurons just below the winner fire in
turn on the next steps and the spike counts stop telling which prototype matched best (on
MNIST-5000 the decision falls from 83 % to 70 %). Dividing by the weight sum makes ``gain``
independent of the input size: a neuron whose weights match the input receives about ``gain``
times the mean spike probability of the active inputs per step. With ``norm_gain`` (default) each
neuron's input is further scaled by :math:`\bar n / \lVert W_i \rVert_2` (:math:`\bar n` the
layer's mean norm, so the mean gain is unchanged): the competition then ranks neurons by the
cosine between input and weights rather than the dot product, which favours prototypes whose
weight is concentrated on pixels most inputs share (an intrinsic-excitability scaling; Diehl &
Cook's adaptive threshold plays the same part).

**Learning.** Every input is presented until the layer's first spike (at most ``steps``
steps): the winner's weights change by pair STDP (:class:`spikegate.plasticity.PairSTDP`,
multiplicative soft bounds; pre-synaptic spikes before the post spike potentiate), then each
neuron's weights are rescaled to sum to ``w_sum_per_input`` times the input size (Diehl & Cook's
normalization, which takes the role of depression for inputs that were silent). Ending the
presentation at the winner's spike is what lateral inhibition does in Diehl & Cook's network; it
keeps the later input spikes of the same image from depressing what was just potentiated.
With ``adaptive_threshold`` the intrinsic thresholds :math:`\theta_i` are learned by homeostasis
(Diehl & Cook's adaptive threshold in its equalizing form): after every batch
:math:`\theta_i \leftarrow \max(\theta_i + \theta_+ (\bar w_i - 1/n), -0.9)`, with
:math:`\bar w_i` the fraction of the batch's inputs that neuron :math:`i` won, so every neuron
comes to win its share and learns a feature. Without it :math:`\theta = 0` (the
fixed-intrinsic baseline).

**Read-out.** After learning, inputs are presented for the full ``steps`` (no plasticity; the
winner-take-all layer may spike at every step). Each neuron is assigned the class for which its
mean spike count on the training set is highest, and an input is classified as the class whose
assigned neurons fire most on average (Diehl & Cook). :meth:`STDPClassifier.spikes` also gives
the output trains for other decisions (e.g. the SNN-LZC rule). Inputs are rate-coded images (a
spike per step with probability ``max_prob`` times the intensity) or spike rasters
``[N, T, d]`` used as they are. One step is ``dt`` = 1 ms.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from spikegate._validate import check_choice, check_int, check_positive
from spikegate.neurons.lif import LIFParams, LIFState, apply_reset, lif_step
from spikegate.neurons.meta import MetaParams, MetaState, meta_step
from spikegate.plasticity import PairSTDP
from spikegate.surrogate import SurrogateSpec


@dataclass
class STDPConfig:
    """Network and learning constants (defaults chosen on digits; ``norm_gain`` and
    ``inhibition`` are described in the module docstring)."""

    n_exc: int = 100
    neuron: str = "lif"
    adaptive_threshold: bool = True
    steps: int = 100
    max_prob: float = 0.25
    tau_mem: float = 20.0
    gain: float = 0.75
    w_sum_per_input: float = 0.1
    theta_plus: float = 0.5
    a_plus: float = 0.01
    a_minus: float = 0.0005
    tau_stdp: float = 20.0
    batch: int = 10
    norm_gain: bool = True
    inhibition: float = 0.5

    def __post_init__(self) -> None:
        check_int(self.n_exc, "n_exc", minimum=2)
        check_choice(self.neuron, "neuron", ("lif", "meta"))
        check_int(self.steps, "steps", minimum=1)
        check_int(self.batch, "batch", minimum=1)
        for name in ("max_prob", "tau_mem", "gain", "w_sum_per_input", "tau_stdp"):
            check_positive(getattr(self, name), name)
        for name in ("theta_plus", "a_plus", "a_minus", "inhibition"):
            check_positive(getattr(self, name), name, allow_zero=True)


class STDPClassifier:
    """Diehl & Cook style network (module docstring). ``fit`` learns the weights (and
    thresholds) without labels, then assigns labels; ``predict`` classifies."""

    def __init__(self, n_inputs: int, n_classes: int, config: STDPConfig | None = None, *,
                 generator: torch.Generator | None = None) -> None:
        self.config = c = config or STDPConfig()
        self.n_inputs = check_int(n_inputs, "n_inputs", minimum=1)
        self.n_classes = check_int(n_classes, "n_classes", minimum=2)
        self.generator = generator
        w = torch.rand(c.n_exc, n_inputs, generator=generator, dtype=torch.float64) * 0.3
        self.w = self._normalize(w)
        self.theta = torch.zeros(c.n_exc, dtype=torch.float64)
        self.rule = PairSTDP(a_plus=c.a_plus, a_minus=c.a_minus, tau_plus=c.tau_stdp, tau_minus=c.tau_stdp,
                             weight_dependence="multiplicative", w_min=0.0, w_max=1.0)
        self.assignment = torch.zeros(c.n_exc, dtype=torch.int64)
        self._beta = torch.exp(torch.tensor(-1.0 / c.tau_mem, dtype=torch.float64))

    def _normalize(self, w: Tensor) -> Tensor:
        target = self.config.w_sum_per_input * self.n_inputs
        return (w * (target / w.sum(1, keepdim=True).clamp(min=1e-12))).clamp(0.0, 1.0)

    def _spikes(self, x: Tensor) -> Tensor:
        """Time-major input spikes ``[T, B, d]`` of a batch (images rate-coded)."""
        if x.dim() == 3:  # spike rasters [B, T, d]
            return x.transpose(0, 1).to(torch.float64)
        p = (x.reshape(x.shape[0], -1).to(torch.float64) * self.config.max_prob).clamp(0, 1)
        u = torch.rand((self.config.steps, *p.shape), generator=self.generator, dtype=torch.float64)
        return (u < p).to(torch.float64)

    def _params(self):
        c = self.config
        thr = 1.0 + self.theta
        if c.neuron == "lif":
            return LIFParams(self._beta, thr, "zero", 0, SurrogateSpec())
        alpha = torch.exp(torch.tensor(-1.0 / 2.0, dtype=torch.float64))
        return MetaParams(alpha, self._beta, thr, torch.tensor(0.05, dtype=torch.float64), "zero")

    def _run(self, x: Tensor, learn: bool) -> Tensor:
        """Present one batch; returns the layer's spikes ``[T, B, n_exc]`` (when learning, each
        input stops at its first output spike)."""
        c = self.config
        s_in = self._spikes(x)
        b = s_in.shape[1]
        zeros = torch.zeros(b, c.n_exc, dtype=torch.float64)
        state = LIFState(zeros) if c.neuron == "lif" else MetaState(zeros, zeros)
        stdp_state = self.rule.initial_state(b, self.n_inputs, c.n_exc)
        active = torch.ones(b, 1, dtype=torch.float64)
        wins = torch.zeros_like(zeros)
        scale = c.gain / (c.w_sum_per_input * self.n_inputs)
        if c.norm_gain:
            l2 = self.w.norm(dim=1)
            scale = scale * (l2.mean() / l2.clamp(min=1e-12))
        params = self._params()
        free = params._replace(reset="none")  # reset after the competition
        out = []
        for t in range(s_in.shape[0]):
            current = scale * (s_in[t] @ self.w.T)
            if c.neuron == "lif":
                s, state = lif_step(current, state, free)
            else:
                noise = torch.rand(current.shape, generator=self.generator, dtype=torch.float64)
                s, state = meta_step((current, noise), state, free)
            score = torch.where(s > 0, state.v - params.threshold, torch.full_like(s, float("-inf")))
            s = s * nn.functional.one_hot(score.argmax(1), c.n_exc).to(s.dtype)
            v = apply_reset(state.v, s, params.threshold, params.reset)
            if c.inhibition:
                fired = s.sum(1, keepdim=True)
                v = torch.where((s == 0) & (fired > 0), (v - c.inhibition).clamp(min=0.0), v)
            state = state._replace(v=v)
            if learn:
                s = s * active
                dw, stdp_state = self.rule.step(s_in[t] * active, s, self.w, stdp_state)
                self.w = self.w + dw
                wins += s
                active = active * (s.sum(1, keepdim=True) == 0)
            out.append(s)
            if learn and not bool(active.any()):
                break
        if learn:
            self.w = self._normalize(self.w)
            if c.adaptive_threshold:
                self.theta = (self.theta + c.theta_plus * (wins.mean(0) - 1.0 / c.n_exc)).clamp(min=-0.9)
        return torch.stack(out)

    def _batches(self, n: int, order: Tensor | None = None, size: int | None = None):
        idx = torch.arange(n) if order is None else order
        size = size or self.config.batch
        return [idx[i:i + size] for i in range(0, n, size)]

    def spikes(self, x: Tensor) -> Tensor:
        """Output spike trains ``[T, N, n_exc]`` of the layer, without learning (e.g. for the
        SNN-LZC decision of :mod:`spikegate.tasks.lzc_classifier`)."""
        return torch.cat([self._run(x[i], learn=False) for i in self._batches(len(x), size=500)], dim=1)

    def responses(self, x: Tensor) -> Tensor:
        """Spike counts ``[N, n_exc]`` without learning."""
        return self.spikes(x).sum(0)

    def fit(self, x: Tensor, y: Tensor, *, epochs: int = 1, progress: bool = False) -> "STDPClassifier":
        """Learn from ``x`` (images ``[N, d]`` or ``[N, C, H, W]`` in [0, 1], or rasters
        ``[N, T, d]``) for ``epochs`` passes in random order, then assign labels from ``y``."""
        from tqdm import tqdm

        check_int(epochs, "epochs", minimum=1)
        for _ in range(epochs):
            order = torch.randperm(len(x), generator=self.generator)
            for idx in tqdm(self._batches(len(x), order), disable=not progress, leave=False, desc="stdp"):
                self._run(x[idx], learn=True)
        counts = self.responses(x)
        mean = torch.stack([counts[y == k].mean(0) if bool((y == k).any()) else torch.zeros(self.config.n_exc)
                            for k in range(self.n_classes)])
        self.assignment = mean.argmax(0)
        return self

    def predict(self, x: Tensor) -> Tensor:
        """Class of every input: the class whose assigned neurons fire most on average."""
        counts = self.responses(x)
        scores = torch.full((len(x), self.n_classes), -1.0, dtype=torch.float64)
        for k in range(self.n_classes):
            members = self.assignment == k
            if bool(members.any()):
                scores[:, k] = counts[:, members].mean(1)
        return scores.argmax(1)
