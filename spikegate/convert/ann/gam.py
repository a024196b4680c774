r"""Gated associative memory (GAM; Acharya 2025, arXiv 2509.00605): a causal depthwise
convolution (local context) and a learned memory bank (global retrieval), fused by sigmoid gates.

For the pre-normalised input :math:`\tilde x \in \mathbb{R}^{L \times C}`:

.. math::

    \mathrm{local} &= \mathrm{CausalDepthwiseConv1d}_k(\tilde x) \quad (k = 3) \\
    \mathrm{global} &= \mathrm{softmax}(\tilde x M^\top)\, M \quad (M \in \mathbb{R}^{S \times C}) \\
    [g_l, g_g] &= \tilde x W_g + b_g \\
    \Delta &= \sigma(g_l) \odot \mathrm{local} + \sigma(g_g) \odot \mathrm{global}

The block of the paper is ``PreNormResidual(LayerNorm, GAM)`` followed by
``PreNormResidual(LayerNorm, MLP)``; this module computes :math:`\Delta`. Retrieval mixes no
positions (the bank is a parameter), so all token mixing comes from the convolution.

Spike boundaries: the input, and the local and global paths before their gates. The softmax
and the two sigmoids are accumulate-then-compute units, the gated products use the cumulative
rule, and the retrieval :math:`P M` is a linear map of the (graded) softmax output.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from spikegate._validate import check_int
from spikegate.convert.ann.base import AnnOps, SequenceComponent
from spikegate.convert.ann.quant import ActQuant


class GAMState(NamedTuple):
    """context: the last ``kernel_size - 1`` inputs ``[k - 1, B, C]`` (the convolution's memory)."""

    context: Tensor


class GatedAssociativeMemory(SequenceComponent):
    """GAM mixing layer (module docstring).

    Args:
        d_model: channels :math:`C`; memory_size: bank rows :math:`S` (paper: 512);
        kernel_size: causal convolution width :math:`k` (paper: 3).

    ``forward(x: [L, B, C], state: GAMState | None) -> (delta: [L, B, C], GAMState)``.
    """

    def __init__(self, d_model: int, memory_size: int = 512, kernel_size: int = 3) -> None:
        super().__init__()
        check_int(memory_size, "memory_size", minimum=1)
        self.kernel_size = check_int(kernel_size, "kernel_size", minimum=1)
        self.conv = nn.Conv1d(d_model, d_model, kernel_size, groups=d_model)
        self.memory = nn.Linear(d_model, memory_size, bias=False)
        nn.init.xavier_uniform_(self.memory.weight)
        self.gate = nn.Linear(d_model, 2 * d_model)
        self.q_in, self.q_local, self.q_global = ActQuant(), ActQuant(), ActQuant()

    def _local(self, h: Tensor, state: GAMState | None) -> tuple[Tensor, Tensor]:
        k = self.kernel_size
        if state is None:
            ctx = h.new_zeros(*h.shape[:-3], k - 1, *h.shape[-2:])
        else:
            ctx = state.context
        full = torch.cat([ctx, h], dim=-3)  # [.., k-1+L, B, C]
        seq = full.movedim(-3, -1)  # [.., B, C, k-1+L]
        y = self.conv(seq.reshape(-1, *seq.shape[-2:])).reshape(*seq.shape[:-1], -1)
        return y.movedim(-1, -3), full[..., full.shape[-3] - (k - 1) :, :, :]

    def compute(self, ops: AnnOps, x: Tensor, state: GAMState | None = None) -> tuple[Tensor, GAMState]:
        h = ops.site(self.q_in, x)
        local, context = self._local(h, state)
        p = ops.unit(lambda s: torch.softmax(s, dim=-1), self.memory(h))
        glob = ops.linear(p, self.memory.weight.t())
        g_local, g_global = ops.unit(torch.sigmoid, self.gate(h)).chunk(2, dim=-1)
        delta = ops.mul(g_local, ops.site(self.q_local, local)) + ops.mul(g_global, ops.site(self.q_global, glob))
        return delta, GAMState(context)

    def retrieval_weights(self, x: Tensor) -> Tensor:
        """:math:`\\mathrm{softmax}(\\tilde x M^\\top)` for ``x: [L, B, C]`` (rows sum to 1)."""
        return torch.softmax(self.memory(self.q_in(x)), dim=-1)
