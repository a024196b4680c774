r"""MoVE, mixture of value embeddings (Li 2026, arXiv 2601.22887): one global bank of
token-indexed value embeddings, shared by all attention layers and mixed into each layer's
values by a soft gate.

Bank :math:`E \in \mathbb{R}^{|V| \times M \times d}` (:math:`M` slots per token). For token
:math:`x_t`, slot :math:`i`, head :math:`h` (head width :math:`d_h = d/H`) and the layer's
hidden state :math:`h_t`:

.. math::

    m_{t,i} &= E[x_t, i] \\
    z_t &= W_G h_t + b_G \in \mathbb{R}^{H (M+1)}, \qquad g = 2 \sigma(z) \in (0, 2) \\
    \tilde V_t^{(h)} &= g_{t,0}^{(h)} V_t^{(h)} + \sum_{i=1}^{M} g_{t,i}^{(h)} m_{t,i}^{(h)}

The router starts at zero, so :math:`g = 1` and :math:`\tilde V = V + \sum_i m_i` (neutral
start). :math:`\tilde V` replaces the values of the layer.

After conversion :math:`V` and :math:`h` arrive as spike trains (signed sites), :math:`2\sigma`
is an accumulate-then-compute unit, :math:`g_0 V` uses the cumulative product rule, and the bank
rows (a parameter looked up by token) are held for the whole window.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from spikegate._validate import check_int
from spikegate.convert.ann.base import ANN, AnnOps, Convertible, check_no_state
from spikegate.convert.ann.quant import ActQuant


class ValueEmbeddingBank(nn.Module):
    """The shared bank :math:`E`: ``forward(tokens: [...] int) -> [..., M, d]``."""

    def __init__(self, vocab_size: int, n_slots: int, d_model: int) -> None:
        super().__init__()
        self.n_slots = check_int(n_slots, "n_slots", minimum=1)
        self.d_model = check_int(d_model, "d_model", minimum=1)
        self.table = nn.Embedding(vocab_size, n_slots * d_model)

    def forward(self, tokens: Tensor) -> Tensor:
        if tokens.dtype not in (torch.int32, torch.int64):
            raise TypeError(f"tokens must be an integer tensor, got {tokens.dtype}")
        return self.table(tokens).unflatten(-1, (self.n_slots, self.d_model))


class MoVE(Convertible):
    """One layer's value mixer over a shared :class:`ValueEmbeddingBank` (module docstring).

    ``forward(v: [L, B, d], h: [L, B, d], tokens: [L, B]) -> [L, B, d]``.
    """

    def __init__(self, bank: ValueEmbeddingBank, n_heads: int) -> None:
        super().__init__()
        check_int(n_heads, "n_heads", minimum=1)
        if bank.d_model % n_heads:
            raise ValueError(f"n_heads ({n_heads}) must divide the bank width ({bank.d_model})")
        self.bank, self.n_heads = bank, n_heads
        self.router = nn.Linear(bank.d_model, n_heads * (bank.n_slots + 1))
        nn.init.zeros_(self.router.weight)
        nn.init.zeros_(self.router.bias)
        self.q_v, self.q_h = ActQuant(), ActQuant()

    def forward(self, v: Tensor, h: Tensor, tokens: Tensor) -> Tensor:
        return self.compute(ANN, v, h, tokens)[0]

    def compute(self, ops: AnnOps, v: Tensor, h: Tensor, tokens: Tensor, state: Any = None) -> tuple[Tensor, None]:
        check_no_state(state, "MoVE")
        heads = self.n_heads
        vs = ops.site(self.q_v, v).unflatten(-1, (heads, -1))  # [.., L, B, H, d_h]
        g = ops.unit(lambda z: 2.0 * torch.sigmoid(z), self.router(ops.site(self.q_h, h)))
        g = g.unflatten(-1, (heads, -1))  # [.., L, B, H, M+1]
        m = self.bank(tokens).unflatten(-1, (heads, -1)).movedim(-2, -3)  # [L, B, H, M, d_h]
        mixed = ops.mul(g[..., :1], vs) + ops.matmul(g[..., None, 1:], ops.const(m, like=g)).squeeze(-2)
        return mixed.flatten(-2), None
