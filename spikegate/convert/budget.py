r"""Error budgets of the three conversion designs of CONVERSION.md A4, training-free, on
held-out Gaussian activations (the setting in which their acceptance figures were measured).

* :class:`SigmoidGate` (design G1): :math:`y = o \odot \sigma(x W_g + b)` with :math:`o, x`
  signed spike trains, :math:`\sigma` an accumulate-then-compute unit and the product by the
  cumulative rule. Metric: relative L2 error of :math:`y` against the float ANN.
* :class:`RouterLogits` (design R1): router logits from a spike-encoded input; the top-k set
  is read once from their window sum. Metric: fraction of tokens whose top-k *set* equals the
  float ANN's.
* :class:`GLACore` (design L1): the GLA recurrence on spike-encoded :math:`q, k, v`, the decay
  from a :math:`\sigma` unit, the state an accumulator with the 12-bit decay. Metric: relative
  L2 error of :math:`o` over a sequence.

Each ``*_budget`` function draws calibration and held-out sets from a seeded generator, calls
:func:`~spikegate.convert.to_snn` (``mode="calibrate"``) and returns the metric.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from spikegate.convert.ann.base import AnnOps, TokenComponent, check_no_state
from spikegate.convert.ann.gla import DECAY_BITS, gla_recurrent, quantize_decay
from spikegate.convert.ann.quant import ActQuant
from spikegate.convert.convert import to_snn


class SigmoidGate(TokenComponent):
    """``x: [..., 2d]`` = ``[o, x]`` -> :math:`o \\odot \\sigma(x W_g + b)`, ``[..., d]``."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.wg = nn.Linear(d, d)
        self.q_o, self.q_x = ActQuant(), ActQuant()

    def compute(self, ops: AnnOps, ox: Tensor, state: Any = None) -> tuple[Tensor, None]:
        check_no_state(state, "SigmoidGate")
        o, x = ox.chunk(2, dim=-1)
        return ops.mul(ops.site(self.q_o, o), ops.unit(torch.sigmoid, self.wg(ops.site(self.q_x, x)))), None


class RouterLogits(TokenComponent):
    """``x: [..., d]`` -> router logits ``[..., E]`` of the spike-encoded input."""

    def __init__(self, d: int, n_experts: int) -> None:
        super().__init__()
        self.q_x, self.proj = ActQuant(), nn.Linear(d, n_experts)

    def compute(self, ops: AnnOps, x: Tensor, state: Any = None) -> tuple[Tensor, None]:
        check_no_state(state, "RouterLogits")
        return self.proj(ops.site(self.q_x, x)), None


class GLACore(TokenComponent):
    """``x: [L, B, 4d]`` = ``[q, k, v, z]`` -> GLA output ``[L, B, d]`` with
    :math:`\\log\\alpha = \\mathrm{logsigmoid}(z)/16`; the SNN decays by the 12-bit
    :math:`\\alpha`, the ANN by the float one."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.d = d
        self.q_q, self.q_k, self.q_v = ActQuant(), ActQuant(), ActQuant()

    def compute(self, ops: AnnOps, x: Tensor, state: Any = None) -> tuple[Tensor, None]:
        check_no_state(state, "GLACore")
        q, k, v, z = x.split(self.d, dim=-1)
        log_a = ops.unit(lambda z: F.logsigmoid(z) / 16, z)
        spiking = ops.lead > 0

        def core(q: Tensor, k: Tensor, v: Tensor, la: Tensor) -> Tensor:
            return gla_recurrent(q, k, v, quantize_decay(la, DECAY_BITS) if spiking else la)[0]

        return ops.unit(core, ops.site(self.q_q, q), ops.site(self.q_k, k), ops.site(self.q_v, v), log_a), None


def _rel(a: Tensor, b: Tensor) -> float:
    return float((a - b).norm() / b.norm())


def gate_budget(T: int, method: str = "mse", d: int = 32, n: int = 4000, seed: int = 0) -> float:
    """Relative L2 error of the converted :class:`SigmoidGate` on ``n`` held-out tokens."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    gate = SigmoidGate(d)
    cal, held_out = torch.randn(2000, 2 * d, generator=g), torch.randn(n, 2 * d, generator=g)
    with torch.no_grad():
        return _rel(to_snn(gate, cal, T, method=method).infer(held_out), gate(held_out))


def router_budget(
    T: int, method: str = "mse", d: int = 32, n_experts: int = 8, k: int = 2, n: int = 32000, seed: int = 1
) -> float:
    """Top-k set agreement of the converted :class:`RouterLogits` on ``n`` held-out tokens."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    router = RouterLogits(d, n_experts)
    cal, held_out = torch.randn(2000, d, generator=g), torch.randn(n, d, generator=g)
    snn = to_snn(router, cal, T, method=method)
    with torch.no_grad():
        decided = snn(*snn.encode(held_out))[0].sum(0).topk(k, dim=-1).indices.sort(-1).values
        reference = router(held_out).topk(k, dim=-1).indices.sort(-1).values
    return float((decided == reference).all(-1).double().mean())


def gla_budget(T: int, method: str = "mse", d: int = 8, length: int = 512, batch: int = 2, seed: int = 2) -> float:
    """Relative L2 error of the converted :class:`GLACore` on a held-out sequence of ``length``
    tokens (gate logits around +3: decays near 0.997, a long memory)."""
    g = torch.Generator().manual_seed(seed)

    def data() -> Tensor:
        x = torch.randn(length, batch, 4 * d, generator=g)
        x[..., 3 * d :] += 3.0
        return x

    core = GLACore(d)
    cal, held_out = data(), data()
    with torch.no_grad():
        return _rel(to_snn(core, cal, T, method=method).infer(held_out), core(held_out))
