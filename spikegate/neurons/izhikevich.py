r"""The Izhikevich (2003) model: presets and heterogeneous excitatory/inhibitory populations.

Membrane potential :math:`v` in mV, recovery :math:`u`, time in ms, input :math:`I` in the
model's current units (mV/ms):

.. math::

    \dot v = 0.04 v^2 + 5 v + 140 - u + I, \qquad \dot u = a (b v - u),
    \qquad v \ge v_{peak} = 30 \Rightarrow v \leftarrow c,\; u \leftarrow u + d.

Integration schemes (``scheme``), one step of ``dt`` ms:

* ``"euler"``: forward Euler on both variables from the same old values,
  :math:`v' = v + \Delta t\,(0.04 v^2 + 5v + 140 - u + I)`,
  :math:`u' = u + \Delta t\, a (b v - u)`; then fire if :math:`v' \ge v_{peak}` and reset.
  This is Brian2's ``method="euler"`` with threshold ``v >= 30`` and reset ``v = c; u += d``,
  in the same order and with the terms of :math:`\dot v` summed as Brian2's generated code
  sums them, so spikegate and Brian2 agree bit for bit in float64 (for a ``dt`` whose ratio to
  Brian2's ms is exact, e.g. 0.5 or 0.25 ms).
* ``"izhikevich2003"``: the scheme of the 2003 paper's MATLAB code (stable at 1 ms): two
  half steps for :math:`v`, then :math:`u` from the new :math:`v`.

The spike is :math:`S = H(v' - v_{peak})` with a surrogate derivative on :math:`v' - v_{peak}`
(in mV; the default atan width ``alpha = 0.5`` spreads the gradient over a few mV), so input
weights can be trained through the model. The reset is written
:math:`v = v'(1 - S) + c S`, which is exactly ``c`` on a spike.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
from torch import Tensor

from spikegate._validate import check_choice, check_int, check_positive
from spikegate.neurons.base import NeuronModule
from spikegate.surrogate import SurrogateSpec, spike
from spikegate.surrogate import surrogate as make_surrogate

#: (a, b, c, d) of the named cell classes of Izhikevich (2003, Fig. 2; 2004).
PRESETS: dict[str, tuple[float, float, float, float]] = {
    "RS": (0.02, 0.2, -65.0, 8.0),    # regular spiking (excitatory, adapting)
    "IB": (0.02, 0.2, -55.0, 4.0),    # intrinsically bursting (initial burst, then tonic)
    "CH": (0.02, 0.2, -50.0, 2.0),    # chattering (fast rhythmic bursts)
    "FS": (0.1, 0.2, -65.0, 2.0),     # fast spiking (inhibitory, no adaptation)
    "LTS": (0.02, 0.25, -65.0, 2.0),  # low-threshold spiking (inhibitory, rebound)
    "TC": (0.02, 0.25, -65.0, 0.05),  # thalamo-cortical (tonic, or rebound burst)
    "RZ": (0.1, 0.26, -65.0, 2.0),    # resonator (subthreshold oscillations)
}

SCHEMES: tuple[str, ...] = ("euler", "izhikevich2003")


class IzhikevichParams(NamedTuple):
    """a, b, c, d: scalars or ``[*features]``; dt in ms; v_peak in mV."""

    a: Tensor
    b: Tensor
    c: Tensor
    d: Tensor
    dt: float = 0.5
    v_peak: float = 30.0
    scheme: str = "euler"
    surrogate: SurrogateSpec = SurrogateSpec("atan", 0.5)


class IzhikevichState(NamedTuple):
    v: Tensor  # mV
    u: Tensor


def _dv(v: Tensor, u: Tensor, x: Tensor) -> Tensor:
    # Summed in the order of Brian2's generated code, ((((0.04 v^2) - u) + 5 v) + I) + 140,
    # so that float64 runs of both agree bit for bit.
    return 0.04 * (v * v) - u + 5 * v + x + 140


def izhikevich_step(x: Tensor, state: IzhikevichState, p: IzhikevichParams) -> tuple[Tensor, IzhikevichState]:
    """One step of ``p.dt`` ms. ``x``: input current ``[B, *features]``."""
    v, u = state
    if p.scheme == "euler":
        v_new = v + p.dt * _dv(v, u, x)
        u_new = u + p.dt * (p.a * (p.b * v - u))
    else:
        h = p.dt / 2
        v_new = v + h * _dv(v, u, x)
        v_new = v_new + h * _dv(v_new, u, x)
        u_new = u + p.dt * (p.a * (p.b * v_new - u))
    s = spike(v_new - p.v_peak, p.surrogate)
    return s, IzhikevichState(v_new * (1 - s) + p.c * s, u_new + p.d * s)


class IzhikevichPopulation(NamedTuple):
    """Per-neuron parameters ``[N]`` of a heterogeneous population; ``excitatory`` is a bool mask."""

    a: Tensor
    b: Tensor
    c: Tensor
    d: Tensor
    excitatory: Tensor


def izhikevich_population(
    n_exc: int,
    n_inh: int,
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
) -> IzhikevichPopulation:
    r"""Heterogeneous population of Izhikevich (2003): with :math:`r \sim U(0, 1)` per neuron,

    * excitatory: :math:`a = 0.02,\ b = 0.2,\ c = -65 + 15 r^2,\ d = 8 - 6 r^2`
      (RS at r = 0, towards CH at r = 1);
    * inhibitory: :math:`a = 0.02 + 0.08 r,\ b = 0.25 - 0.05 r,\ c = -65,\ d = 2`
      (between LTS and FS).

    Excitatory neurons come first (indices ``0..n_exc-1``).
    """
    check_int(n_exc, "n_exc")
    check_int(n_inh, "n_inh")
    re = torch.rand(n_exc, generator=generator, dtype=dtype)
    ri = torch.rand(n_inh, generator=generator, dtype=dtype)
    a = torch.cat([torch.full_like(re, 0.02), 0.02 + 0.08 * ri])
    b = torch.cat([torch.full_like(re, 0.2), 0.25 - 0.05 * ri])
    c = torch.cat([-65 + 15 * re**2, torch.full_like(ri, -65.0)])
    d = torch.cat([8 - 6 * re**2, torch.full_like(ri, 2.0)])
    exc = torch.cat([torch.ones(n_exc, dtype=torch.bool), torch.zeros(n_inh, dtype=torch.bool)])
    return IzhikevichPopulation(a, b, c, d, exc)


class Izhikevich(NeuronModule):
    """Multi-step Izhikevich layer.

    Args:
        preset: one of :data:`PRESETS` (``"RS"``, ``"IB"``, ``"CH"``, ``"FS"``, ``"LTS"``,
            ``"TC"``, ``"RZ"``), or ``None`` with explicit ``a, b, c, d``.
        a, b, c, d: model parameters, scalars or per neuron ``[*features]`` (e.g. from
            :func:`izhikevich_population`); given ones override the preset's.
        dt: step in ms (> 0).
        scheme: ``"euler"`` or ``"izhikevich2003"`` (see the module docstring).
        v_init: initial membrane potential in mV (``u`` starts at ``b * v_init``).
        surrogate: surrogate on ``v - v_peak`` (mV).

    ``forward(I: [T, B, *features], state=None) -> (spikes, IzhikevichState(v, u))``.
    """

    op = "izhikevich"
    step = staticmethod(izhikevich_step)
    state_type = IzhikevichState

    def __init__(
        self,
        preset: str | None = "RS",
        *,
        a: float | Tensor | None = None,
        b: float | Tensor | None = None,
        c: float | Tensor | None = None,
        d: float | Tensor | None = None,
        dt: float = 0.5,
        scheme: str = "euler",
        v_peak: float = 30.0,
        v_init: float = -65.0,
        shape: Sequence[int] | int | None = None,
        surrogate: str | SurrogateSpec = SurrogateSpec("atan", 0.5),
        backend: str = "auto",
    ) -> None:
        super().__init__(shape, backend)
        if preset is not None:
            check_choice(preset, "preset", tuple(PRESETS))
            defaults = PRESETS[preset]
        elif None in (a, b, c, d):
            raise ValueError("without a preset, all of a, b, c, d are required")
        else:
            defaults = (0.0, 0.0, 0.0, 0.0)
        given = (a, b, c, d)
        check_positive(dt, "dt")
        self.dt = float(dt)
        self.scheme = check_choice(scheme, "scheme", SCHEMES)
        self.v_peak = float(v_peak)
        self.v_init = float(v_init)
        self.surrogate = make_surrogate(surrogate)
        for name, value, default in zip("abcd", given, defaults):
            t = value.detach().clone() if isinstance(value, Tensor) else torch.tensor(
                default if value is None else value, dtype=torch.float64
            )
            if not bool(torch.isfinite(t).all()):
                raise ValueError(f"{name} contains NaN or inf")
            if self.shape is not None and t.dim() and tuple(t.shape) != self.shape:
                raise ValueError(f"{name} must be a scalar or have shape {self.shape}, got {tuple(t.shape)}")
            self.register_buffer(name, t.double() if not t.is_floating_point() else t)
        check_positive(self.a, "a", allow_zero=True)

    def params(self) -> IzhikevichParams:
        return IzhikevichParams(self.a, self.b, self.c, self.d, self.dt, self.v_peak, self.scheme, self.surrogate)

    def initial_state(self, like: Tensor) -> IzhikevichState:
        v = torch.full_like(like, self.v_init)
        return IzhikevichState(v, self.b.to(like) * v)

    def extra_repr(self) -> str:
        return f"shape={self.shape}, dt={self.dt}, scheme={self.scheme!r}"
