r"""Gated linear attention (Yang et al., ICML 2024, arXiv 2312.06635), recurrent and chunked.

Per head, row-vector convention, :math:`q_t, k_t \in \mathbb{R}^{d_k}`,
:math:`v_t \in \mathbb{R}^{d_v}`, state :math:`S_t \in \mathbb{R}^{d_k \times d_v}`:

.. math::

    S_t &= \mathrm{Diag}(\alpha_t)\, S_{t-1} + k_t^\top v_t, \qquad o_t = q_t S_t \\
    \log \alpha_t &= \mathrm{logsigmoid}(x_t W_{\alpha 1} W_{\alpha 2} + b_\alpha) / 16
        \quad (W_{\alpha 1} \in \mathbb{R}^{d \times 16}) \\
    r_t &= \mathrm{Swish}(x_t W_r + b_r), \qquad
    y_t = \big(\mathrm{RMSNorm}(o_t) \odot r_t\big) W_O

(:math:`q_t` is scaled by :math:`d_k^{-1/2}`; fla defaults ``expand_k = 0.5``,
``expand_v = 1``). Chunked form, chunk :math:`[s, s+C)`, with
:math:`b_i = \sum_{s \le j \le i} \log\alpha_j` (cumulative inside the chunk):

.. math::

    o_i &= (q_i \odot e^{b_i})\, S_{s-1}
           + \sum_{s \le j \le i} \Big(\sum_c q_{ic} k_{jc} e^{b_{ic} - b_{jc}}\Big) v_j \\
    S_{s+C-1} &= \mathrm{Diag}(e^{b_{s+C-1}}) S_{s-1}
           + \sum_j (k_j \odot e^{b_{s+C-1} - b_j})^\top v_j

Every exponent is :math:`\le 0`, so the form is stable for gates down to :math:`\alpha \to 0`
(the pairwise-decay tensor replaces the paper's secondary chunking). A chunk as long as the
sequence is the fully parallel form.

After conversion the state is an accumulator updated once per token (window end) with the
decay quantized to 12 bits, :math:`\alpha \leftarrow \mathrm{round}(4096\alpha)/4096`
(Loihi's decay resolution); ``decay_bits`` applies the same rounding in the ANN so that the
quantized ANN matches the SNN.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from spikegate._validate import check_choice, check_int, check_positive
from spikegate.convert.ann.base import AnnOps, SequenceComponent
from spikegate.convert.ann.quant import ActQuant

DECAY_BITS = 12


def gla_recurrent(q: Tensor, k: Tensor, v: Tensor, log_alpha: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Recurrent GLA. ``q, k, log_alpha: [L, *batch, d_k]``, ``v: [L, *batch, d_v]``,
    ``state: [*batch, d_k, d_v]`` (zeros if ``None``) -> ``(o: [L, *batch, d_v], S_L)``."""
    s = q.new_zeros(*q.shape[1:], v.shape[-1]) if state is None else state
    alpha = log_alpha.exp()
    out = []
    for t in range(q.shape[0]):
        s = alpha[t].unsqueeze(-1) * s + k[t].unsqueeze(-1) * v[t].unsqueeze(-2)
        out.append((q[t].unsqueeze(-2) @ s).squeeze(-2))
    return torch.stack(out), s


def gla_chunked(
    q: Tensor, k: Tensor, v: Tensor, log_alpha: Tensor, chunk_size: int = 64, state: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """Chunkwise-parallel GLA (module docstring); same arguments and result as
    :func:`gla_recurrent`. ``chunk_size >= L`` is the fully parallel form."""
    check_int(chunk_size, "chunk_size", minimum=1)
    s = q.new_zeros(*q.shape[1:], v.shape[-1]) if state is None else state
    out = []
    for start in range(0, q.shape[0], chunk_size):
        qc, kc, vc = q[start : start + chunk_size], k[start : start + chunk_size], v[start : start + chunk_size]
        # Cumulative log-decays in float64: their differences b_i - b_j lose no precision.
        b = log_alpha[start : start + chunk_size].double().cumsum(0)
        n = qc.shape[0]
        inter = ((qc * b.exp().to(q.dtype)).unsqueeze(-2) @ s).squeeze(-2)
        diff = b.unsqueeze(1) - b.unsqueeze(0)  # [i, j, *batch, d_k]: b_i - b_j
        future = torch.ones(n, n, dtype=torch.bool, device=q.device).triu(1)
        decay = diff.masked_fill(future.view(n, n, *([1] * (diff.dim() - 2))), float("-inf")).exp().to(q.dtype)
        scores = torch.einsum("i...c,j...c,ij...c->ij...", qc, kc, decay)
        out.append(inter + torch.einsum("ij...,j...v->i...v", scores, vc))
        last = b[-1]
        carry = (last - b).exp().to(q.dtype)
        s = last.exp().to(q.dtype).unsqueeze(-1) * s + torch.einsum("j...c,j...v->...cv", kc * carry, vc)
    return torch.cat(out), s


def quantize_decay(log_alpha: Tensor, bits: int) -> Tensor:
    """:math:`\\log` of :math:`\\alpha` rounded to multiples of :math:`2^{-bits}`, kept in
    :math:`[2^{-bits}, 1]` (straight-through gradient)."""
    a = log_alpha.exp()
    scale = float(2**bits)
    aq = (torch.round(a * scale) / scale).clamp(1.0 / scale, 1.0)
    return log_alpha + (aq.log() - log_alpha).detach()


def rms_norm(x: Tensor, eps: float = 1e-6) -> Tensor:
    """:math:`x / \\sqrt{\\mathrm{mean}(x^2) + \\epsilon}` over the last axis (no weight)."""
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)


class GLAState(NamedTuple):
    """s: the recurrent state ``[B, H, d_k, d_v]``."""

    s: Tensor


class GatedLinearAttention(SequenceComponent):
    """GLA layer (module docstring).

    Args:
        d_model, n_heads: width and heads; ``expand_k * d_model`` and ``expand_v * d_model``
            must split evenly over the heads.
        gate_low_rank: rank of :math:`W_{\\alpha 1} W_{\\alpha 2}` (16).
        gate_logit_normalizer: :math:`\\tau` in :math:`\\log\\alpha = \\mathrm{logsigmoid}(\\cdot)/\\tau` (16).
        mode: ``"chunked"`` | ``"recurrent"`` (same result); chunk_size: chunk length.
        decay_bits: ``None`` (float decay) or the bits of the quantized decay.

    ``forward(x: [L, B, d], state: GLAState | None) -> (y: [L, B, d], GLAState)``.
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int = 4,
        expand_k: float = 0.5,
        expand_v: float = 1.0,
        gate_low_rank: int = 16,
        gate_logit_normalizer: float = 16.0,
        mode: str = "chunked",
        chunk_size: int = 64,
        decay_bits: int | None = None,
    ) -> None:
        super().__init__()
        check_int(n_heads, "n_heads", minimum=1)
        check_positive(gate_logit_normalizer, "gate_logit_normalizer")
        d_k, d_v = int(d_model * expand_k), int(d_model * expand_v)
        if d_k % n_heads or d_v % n_heads or d_k == 0 or d_v == 0:
            raise ValueError(f"expand_k * d_model ({d_k}) and expand_v * d_model ({d_v}) must be positive multiples of n_heads ({n_heads})")
        self.mode = check_choice(mode, "mode", ("chunked", "recurrent"))
        self.chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
        self.n_heads, self.d_k, self.d_v = n_heads, d_k // n_heads, d_v // n_heads
        self.normalizer = float(gate_logit_normalizer)
        self.decay_bits = None if decay_bits is None else check_int(decay_bits, "decay_bits", minimum=1)
        self.wq = nn.Linear(d_model, d_k, bias=False)
        self.wk = nn.Linear(d_model, d_k, bias=False)
        self.wv = nn.Linear(d_model, d_v, bias=False)
        self.wa1 = nn.Linear(d_model, gate_low_rank, bias=False)
        self.wa2 = nn.Linear(gate_low_rank, d_k)
        self.wr = nn.Linear(d_model, d_v)
        self.wo = nn.Linear(d_v, d_model, bias=False)
        self.q_in, self.q_q, self.q_k, self.q_v, self.q_out = (ActQuant() for _ in range(5))

    def _heads(self, x: Tensor) -> Tensor:
        return x.unflatten(-1, (self.n_heads, x.shape[-1] // self.n_heads))

    def core(self, q: Tensor, k: Tensor, v: Tensor, log_alpha: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """The recurrence on head-split tensors ``[L, B, H, d]`` (decay quantized if set)."""
        if self.decay_bits is not None:
            log_alpha = quantize_decay(log_alpha, self.decay_bits)
        if self.mode == "recurrent":
            return gla_recurrent(q, k, v, log_alpha, state)
        return gla_chunked(q, k, v, log_alpha, self.chunk_size, state)

    def compute(self, ops: AnnOps, x: Tensor, state: GLAState | None = None) -> tuple[Tensor, GLAState]:
        h = ops.site(self.q_in, x)
        q = self._heads(ops.site(self.q_q, self.wq(h))) * (1.0 / math.sqrt(self.d_k))
        k = self._heads(ops.site(self.q_k, self.wk(h)))
        v = self._heads(ops.site(self.q_v, self.wv(h)))
        log_alpha = ops.unit(lambda z: F.logsigmoid(z) / self.normalizer, self._heads(self.wa2(self.wa1(h))))
        s0 = None if state is None else state.s
        macs = 3.0 * math.prod(q.shape[-4:-1]) * self.d_k * self.d_v  # decay, k^T v, q S per token and head
        o, s = ops.unit(lambda *a: self.core(*a, state=s0), q, k, v, log_alpha, macs=macs)
        o = ops.unit(rms_norm, o).flatten(-2)
        r = ops.unit(F.silu, self.wr(h))
        return self.wo(ops.site(self.q_out, ops.mul(o, r))), GLAState(s)

    def prepare_conversion(self, require_prepared: bool) -> None:
        if self.decay_bits is None:
            if require_prepared:
                raise ValueError(
                    "mode='qat' needs the GLA decay quantized like the SNN's (decay_bits=12); "
                    "prepare the model with spikegate.convert.prepare_qat"
                )
            self.decay_bits = DECAY_BITS
