"""The ``"cuba_lif"`` op on the fused leaky engine, which is this neuron (README.md). ``cpu`` runs
the numba engine, ``cuda`` Triton; both take and return exactly what
:func:`spikegate.neurons.lif.cuba_lif_step` looped by the reference backend does.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

from torch import Tensor

from spikegate.kernels.leaky.op import run_neuron
from spikegate.kernels.leaky.spec import config_for, supports


def _run(x: Tensor, state: NamedTuple, params: NamedTuple, engine: str) -> tuple[Tensor, NamedTuple]:
    cfg = config_for(params.surrogate, params.reset)
    spikes, i, v, _ = run_neuron(
        x, state.i, state.v, None, params.alpha, params.beta, params.threshold, None, None, cfg, engine
    )
    return spikes, type(state)(i, v)


cpu = partial(_run, engine="numba")
cuda = partial(_run, engine="triton")


supports_cpu = partial(supports, backend="cpu")
supports_cuda = partial(supports, backend="cuda")
