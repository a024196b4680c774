"""The ``"meta"`` op on the fused leaky engine: the current-based neuron whose spike is the
escape-noise draw ``1[noise < sigmoid((U - threshold) / kappa)]``, with the straight-through
backward through the probability (README.md). ``xs = (current, noise)`` as for
:func:`spikegate.neurons.meta.meta_step`.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

from torch import Tensor

from spikegate.kernels.leaky.op import run_neuron
from spikegate.kernels.leaky.spec import config_for, supports


def _run(xs: tuple[Tensor, Tensor], state: NamedTuple, params: NamedTuple, engine: str) -> tuple[Tensor, NamedTuple]:
    current, noise = xs
    p = params
    cfg = config_for(None, p.reset)
    spikes, i, v, _ = run_neuron(current, state.i, state.v, None, p.alpha, p.beta, p.threshold, p.kappa, noise, cfg, engine)
    return spikes, type(state)(i, v)


cpu = partial(_run, engine="numba")
cuda = partial(_run, engine="triton")


supports_cpu = partial(supports, backend="cpu", stochastic=True)
supports_cuda = partial(supports, backend="cuda", stochastic=True)
