r"""The SNN-LZC classifier (``../shared/papers/SPEC.md`` §2.6): a spiking network whose output
spike trains are summarized by their normalized Lempel-Ziv complexity
:math:`C_k = c(n)\log_2(n)/n` (:func:`spikegate.encoding.lzc.lzc`, one value per output neuron
:math:`k`), followed by a decision rule on the vector :math:`C`:

* ``"prototype"`` (default): nearest class mean, :math:`\hat y = \arg\min_c \lVert C - \mu_c \rVert`
  with :math:`\mu_c` the mean of :math:`C` over the training samples of class :math:`c`
  (for one output neuron and two classes: a threshold half-way between the two means);
* ``"extreme"``: the class whose output neuron has the largest complexity,
  :math:`\hat y = \arg\max_k C_k` (needs one output neuron per class);
* ``"logistic"``: multinomial logistic regression on the standardized :math:`C` (L-BFGS).

The network is any :class:`spikegate.tasks.snn.SNN` with ``readout="spikes"`` (trained, e.g.,
by :func:`spikegate.tasks.training.train`); its output spikes are binarized per 1 ms bin.
"""

from __future__ import annotations

import time

import torch
from torch import Tensor

from spikegate._validate import check_choice, check_int
from spikegate.encoding.lzc import lzc
from spikegate.tasks.snn import SNN

DECISIONS: tuple[str, ...] = ("prototype", "extreme", "logistic")


class LZCDecision:
    """A decision rule on complexity vectors ``C: [N, K]`` (see the module docstring)."""

    def __init__(self, rule: str = "prototype") -> None:
        self.rule = check_choice(rule, "rule", DECISIONS)
        self.prototypes: Tensor | None = None
        self.linear: torch.nn.Linear | None = None
        self.mean: Tensor | None = None
        self.std: Tensor | None = None

    def fit(self, c: Tensor, y: Tensor, n_classes: int) -> "LZCDecision":
        c, y = c.to(torch.float64), y.to(torch.int64)
        check_int(n_classes, "n_classes", minimum=2)
        if c.dim() != 2 or y.shape != (c.shape[0],):
            raise ValueError(f"c must be [N, K] and y [N], got {tuple(c.shape)} and {tuple(y.shape)}")
        if self.rule == "extreme":
            if c.shape[1] != n_classes:
                raise ValueError(
                    f"the 'extreme' rule needs one output neuron per class ({n_classes}), got {c.shape[1]}"
                )
            return self
        if self.rule == "prototype":
            missing = torch.full_like(c[0], float("inf"))
            self.prototypes = torch.stack([c[y == k].mean(0) if bool((y == k).any()) else missing
                                           for k in range(n_classes)])
            return self
        self.mean, self.std = c.mean(0), c.std(0).clamp(min=1e-6)
        z = (c - self.mean) / self.std
        self.linear = torch.nn.Linear(c.shape[1], n_classes, dtype=torch.float64)
        opt = torch.optim.LBFGS(self.linear.parameters(), max_iter=200, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(self.linear(z), y) + 1e-4 * self.linear.weight.pow(2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        return self

    def predict(self, c: Tensor) -> Tensor:
        c = c.to(torch.float64)
        if self.rule == "extreme":
            return c.argmax(1)
        if self.rule == "prototype":
            if self.prototypes is None:
                raise RuntimeError("call fit() before predict()")
            return torch.cdist(c, self.prototypes.nan_to_num(posinf=1e12)).argmin(1)
        if self.linear is None:
            raise RuntimeError("call fit() before predict()")
        with torch.no_grad():
            return self.linear((c - self.mean) / self.std).argmax(1)


@torch.no_grad()
def output_complexity(model: SNN, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
    """Normalized LZ76 complexity ``[B, K]`` of the output trains of ``model`` on ``x: [T, B, ...]``."""
    if model.readout != "spikes":
        raise ValueError("the SNN-LZC classifier needs a network with readout='spikes' (spiking outputs)")
    out, _ = model(x, generator=generator)
    return lzc(out.permute(1, 2, 0))


class SNNLZC:
    """A trained spiking network plus an :class:`LZCDecision` on its output complexity."""

    def __init__(self, model: SNN, rule: str = "prototype") -> None:
        self.model = model.eval()
        self.decision = LZCDecision(rule)

    def complexity(self, x: Tensor, *, batch: int = 256, generator: torch.Generator | None = None) -> Tensor:
        """``x: [T, N, ...]`` -> ``C: [N, K]``, in batches along N."""
        return torch.cat([output_complexity(self.model, x[:, i:i + batch], generator=generator)
                          for i in range(0, x.shape[1], batch)])

    def fit(self, x: Tensor, y: Tensor, n_classes: int, *, generator: torch.Generator | None = None) -> "SNNLZC":
        """Fit the decision rule on training inputs ``x: [T, N, ...]`` and labels ``y: [N]``."""
        self.decision.fit(self.complexity(x, generator=generator), y, n_classes)
        return self

    def predict(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        return self.decision.predict(self.complexity(x, generator=generator))

    def latency(self, sample: Tensor, *, repeats: int = 200, warmup: int = 20) -> float:
        """Median seconds for one complete inference (forward pass, LZC, decision) of one
        sample ``[T, 1, ...]`` (batch 1)."""
        check_int(repeats, "repeats", minimum=1)
        times = []
        for i in range(warmup + repeats):
            t0 = time.perf_counter()
            self.decision.predict(output_complexity(self.model, sample))
            if i >= warmup:
                times.append(time.perf_counter() - t0)
        return float(torch.tensor(times).median())
