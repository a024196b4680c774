r"""Gated attention (Qiu et al. 2025, arXiv 2505.06708; position G1): a head-specific,
query-dependent sigmoid gate on the output of scaled dot-product attention, before
:math:`W_O`.

For input :math:`X \in \mathbb{R}^{L \times d}` (the pre-normalised hidden state that also
feeds Q, K, V) and head :math:`h` of width :math:`d_h = d / H`:

.. math::

    O_h &= \mathrm{softmax}\!\left(\frac{Q_h K_h^\top}{\sqrt{d_h}} + M\right) V_h,
        \qquad Q_h = X W_{Q,h},\ K_h = X W_{K,h},\ V_h = X W_{V,h} \\
    G_h &= \sigma(X W_{\theta,h} + b_{\theta,h}) \\
    Y &= \mathrm{Concat}_h(O_h \odot G_h)\, W_O

with the causal mask :math:`M_{ij} = -\infty` for :math:`j > i` (``causal=True``). The gate is
``"elementwise"`` (:math:`W_{\theta,h} \in \mathbb{R}^{d \times d_h}`), ``"headwise"``
(:math:`\mathbb{R}^{d \times 1}`, one scalar per head and token) or ``"none"`` (plain
attention, the baseline).

Spike boundaries (signed :class:`ActQuant` sites): the input :math:`X`, then Q, K, V (so the
products :math:`QK^\top` and :math:`AV` are driven by spikes), the attention output
:math:`O` before the gate, and the gated product before :math:`W_O` (design G1 of
CONVERSION.md A4). Softmax and :math:`\sigma` are accumulate-then-compute units.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from spikegate._validate import check_choice, check_int
from spikegate.convert.ann.base import AnnOps, SequenceComponent, check_no_state
from spikegate.convert.ann.quant import ActQuant

GATES: tuple[str, ...] = ("elementwise", "headwise", "none")


def causal_softmax(scores: Tensor) -> Tensor:
    """Softmax over the last axis of ``scores: [..., L, L]`` with keys after the query masked."""
    n = scores.shape[-1]
    mask = torch.ones(n, n, dtype=torch.bool, device=scores.device).triu(1)
    return torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1)


class GatedAttention(SequenceComponent):
    """Multi-head attention with a sigmoid output gate (module docstring).

    Args:
        d_model: width :math:`d`; n_heads: :math:`H` (must divide ``d_model``).
        gate: ``"elementwise"`` | ``"headwise"`` | ``"none"``.
        causal: mask future positions.
        bias: biases on the Q/K/V/O projections (the gate always has one).

    ``forward(x: [L, B, d], state=None) -> (y: [L, B, d], None)``; no cache is kept.
    """

    def __init__(self, d_model: int, n_heads: int, gate: str = "elementwise", causal: bool = True, bias: bool = False) -> None:
        super().__init__()
        check_int(d_model, "d_model", minimum=1)
        check_int(n_heads, "n_heads", minimum=1)
        if d_model % n_heads:
            raise ValueError(f"n_heads ({n_heads}) must divide d_model ({d_model})")
        self.gate = check_choice(gate, "gate", GATES)
        self.n_heads, self.d_head, self.causal = n_heads, d_model // n_heads, causal
        self.wq = nn.Linear(d_model, d_model, bias=bias)
        self.wk = nn.Linear(d_model, d_model, bias=bias)
        self.wv = nn.Linear(d_model, d_model, bias=bias)
        self.wo = nn.Linear(d_model, d_model, bias=bias)
        if gate != "none":
            self.wg = nn.Linear(d_model, d_model if gate == "elementwise" else n_heads)
        self.q_in, self.q_q, self.q_k, self.q_v = (ActQuant() for _ in range(4))
        self.q_o = ActQuant() if gate != "none" else None
        self.q_out = ActQuant()

    def _heads(self, x: Tensor) -> Tensor:
        # [.., L, B, d] -> [.., B, H, L, d_h]
        return x.unflatten(-1, (self.n_heads, self.d_head)).movedim(-4, -2)

    def compute(self, ops: AnnOps, x: Tensor, state: Any = None) -> tuple[Tensor, None]:
        check_no_state(state, "GatedAttention")
        h = ops.site(self.q_in, x)
        q = self._heads(ops.site(self.q_q, self.wq(h))) * (1.0 / math.sqrt(self.d_head))
        k = self._heads(ops.site(self.q_k, self.wk(h)))
        v = self._heads(ops.site(self.q_v, self.wv(h)))
        scores = ops.matmul(q, k.transpose(-1, -2))
        attn = ops.unit(causal_softmax if self.causal else (lambda s: torch.softmax(s, dim=-1)), scores)
        o = ops.matmul(attn, v).movedim(-2, -4)  # [.., L, B, H, d_h]
        if self.gate != "none":
            o = ops.site(self.q_o, o)
            g = ops.unit(torch.sigmoid, self.wg(h))
            g = g.unflatten(-1, (self.n_heads, self.d_head if self.gate == "elementwise" else 1))
            o = ops.mul(o, g)
        return self.wo(ops.site(self.q_out, o.flatten(-2))), None

    def gate_values(self, x: Tensor) -> Tensor:
        """The gate :math:`G = \\sigma(X W_\\theta + b_\\theta)` for ``x: [L, B, d]`` (float ANN),
        ``[L, B, H, d_h]`` or ``[L, B, H, 1]``; for sparsity statistics."""
        if self.gate == "none":
            raise ValueError("this GatedAttention has gate='none'")
        g = torch.sigmoid(self.wg(self.q_in(x)))
        return g.unflatten(-1, (self.n_heads, self.d_head if self.gate == "elementwise" else 1))
