r"""Top-k sparse softmax mixture of experts (Nguyen et al., ICLR 2024, arXiv 2309.13850; the
router of Shazeer et al. 2017 / Switch Transformer) with a load-balancing loss.

For a token :math:`x` and :math:`E` experts with router logits :math:`z = W_r x + b_r`:

.. math::

    \mathrm{TopK}(z)_i &= z_i \text{ if } z_i \text{ is among the } k \text{ largest, else } -\infty \\
    g &= \mathrm{softmax}(\mathrm{TopK}(z)), \qquad y = \sum_{i \in \mathrm{top}k} g_i\, E_i(x)

Each expert :math:`E_i` is a ReLU :class:`~spikegate.convert.ann.MLP`. Load-balancing loss
(Switch Transformer), with :math:`f_i` the fraction of the :math:`N k` assignments that go to
expert :math:`i` and :math:`P_i` the mean full-softmax probability of expert :math:`i`:

.. math:: \mathcal{L}_{aux} = E \sum_i f_i P_i \quad (= 1 \text{ for a uniform router})

It is recorded under ``"load_balance"`` inside :func:`~spikegate.convert.ann.aux_losses`.

After conversion the router logits accumulate from the input spikes over the window, the top-k
set is decided once at the window end on the accumulated logits and latched, the weights are a
softmax unit, and each expert output is combined by the cumulative product rule (CONVERSION.md
A4, design R1). A :class:`~spikegate.convert.ann.DenseToSparseGate` can replace the router.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from spikegate._validate import check_int
from spikegate.convert.ann.base import ANN, AnnOps, Convertible, TokenComponent, check_no_state
from spikegate.convert.ann.blocks import MLP
from spikegate.convert.ann.quant import ActQuant


def load_balancing_loss(logits: Tensor, idx: Tensor, n_experts: int) -> Tensor:
    """Switch-Transformer balance loss (module docstring); ``logits: [N, E]``, ``idx: [N, k]``."""
    f = torch.bincount(idx.flatten(), minlength=n_experts).to(logits.dtype) / idx.numel()
    p = torch.softmax(logits, dim=-1).mean(0)
    return n_experts * (f * p).sum()


class TopKRouter(Convertible):
    """Linear router: logits ``z = W_r x + b_r`` (``x: [..., d]`` -> ``[..., E]``). A router
    provides ``logits(ops, x)``; ``compute`` returns the same logits."""

    def __init__(self, d_model: int, n_experts: int) -> None:
        super().__init__()
        self.proj = nn.Linear(d_model, n_experts)

    def logits(self, ops: AnnOps, x: Tensor) -> Tensor:
        return self.proj(x)

    def compute(self, ops: AnnOps, x: Tensor, state: Any = None) -> tuple[Tensor, None]:
        check_no_state(state, "TopKRouter")
        return self.logits(ops, x), None


class TopKMoE(TokenComponent):
    """Top-k mixture of ReLU-MLP experts (module docstring).

    Args:
        d_model: token width; n_experts: :math:`E`; k: experts per token; d_hidden: expert width.
        router: a :class:`TopKRouter` (default) or a
            :class:`~spikegate.convert.ann.DenseToSparseGate` (its tempered, optionally
            activated scores are routed; ``k = n_experts`` keeps it dense).

    ``forward(x: [..., d_model]) -> [..., d_model]``; :meth:`routing` gives the decisions.
    """

    def __init__(self, d_model: int, n_experts: int, k: int, d_hidden: int, router: Convertible | None = None) -> None:
        super().__init__()
        if router is not None and not hasattr(router, "logits"):
            raise TypeError(f"router must provide logits(ops, x) (TopKRouter, DenseToSparseGate), got {type(router).__name__}")
        check_int(n_experts, "n_experts", minimum=1)
        check_int(k, "k", minimum=1)
        if k > n_experts:
            raise ValueError(f"k ({k}) must not exceed n_experts ({n_experts})")
        self.n_experts, self.k = n_experts, k
        self.router = TopKRouter(d_model, n_experts) if router is None else router
        self.experts = nn.ModuleList(MLP(d_model, d_hidden) for _ in range(n_experts))
        self.q_in = ActQuant()

    def compute(self, ops: AnnOps, x: Tensor, state: Any = None) -> tuple[Tensor, None]:
        check_no_state(state, "TopKMoE")
        h = ops.site(self.q_in, x)
        tokens = h.flatten(ops.lead, -2)  # [.., N, d]
        logits = self.router.logits(ops, tokens)
        idx, weights = ops.route(logits, self.k)
        ops.aux("load_balance", load_balancing_loss, logits, idx, self.n_experts)
        y = torch.zeros_like(tokens)
        for e, expert in enumerate(self.experts):
            chosen = idx == e  # [N, k]; decided once, the same for every step
            rows = chosen.any(-1).nonzero().squeeze(-1)
            if rows.numel() == 0:
                continue
            w = (weights * chosen).sum(-1, keepdim=True).index_select(-2, rows)
            out = expert.compute(ops, tokens.index_select(-2, rows))[0]
            y = y.index_add(-2, rows, ops.mul(out, w))
        return y.reshape(x.shape), None

    def routing(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """ANN routing of ``x: [..., d]``: ``(indices [N, k], weights [N, k])``."""
        with torch.no_grad():
            tokens = self.q_in(x).flatten(0, -2)
            return ANN.route(self.router.logits(ANN, tokens), self.k)
