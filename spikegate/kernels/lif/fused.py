"""The ``"lif"`` op on the fused leaky engine: LIF is the current-based neuron with
``alpha = 0`` and ``I[0] = 0`` (README.md). ``cpu`` runs the numba engine, ``cuda`` Triton; both
take and return exactly what :func:`spikegate.neurons.lif.lif_step` looped by the reference
backend does (a ``state.refrac`` tensor switches the refractory counter on, as there).
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

from torch import Tensor

from spikegate.kernels.leaky.op import run_neuron
from spikegate.kernels.leaky.spec import config_for, supports


def _run(x: Tensor, state: NamedTuple, params: NamedTuple, engine: str) -> tuple[Tensor, NamedTuple]:
    period = -1 if state.refrac is None else params.refractory
    cfg = config_for(params.surrogate, params.reset, period)
    spikes, _, v, refrac = run_neuron(
        x, None, state.v, state.refrac, None, params.beta, params.threshold, None, None, cfg, engine
    )
    return spikes, type(state)(v, refrac)


cpu = partial(_run, engine="numba")
cuda = partial(_run, engine="triton")


supports_cpu = partial(supports, backend="cpu")
supports_cuda = partial(supports, backend="cuda")
