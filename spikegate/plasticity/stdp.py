r"""Spike-timing-dependent plasticity through traces: pair-based (additive or weight-dependent,
all-to-all or nearest-spike) and triplet (Pfister & Gerstner 2006).

Conventions shared by every rule here:

* weights are ``[N_post, N_pre]`` (as ``torch.nn.Linear`` and :class:`spikegate.Recurrent`:
  ``I_post = W @ S_pre``); spikes and traces are ``[B, N]`` (0/1 float or bool spikes);
* a rule is an immutable parameter object with ``initial_state`` and a pure
  ``step(pre, post, weight, state, mask=None) -> (dw, new_state)``. It **returns the weight
  change** (the caller adds it, ``weight + dw``); ``weight + dw`` lies in ``[w_min, w_max]``
  (up to the rounding of one subtraction, ~1e-16); entries where ``mask`` is False get no
  change (absent synapses of a sparse network);
* a batch contributes the *sum* of its samples' changes (one shared weight matrix); use
  ``B = 1`` for the classic single-network rule;
* times in ms.

One step of the pair rule (pre-synaptic trace :math:`x_j`, post-synaptic trace :math:`y_i`,
both with unit jumps, see :mod:`spikegate.plasticity.traces`), in this order:

.. math::

    &x_j \leftarrow x_j e^{-\Delta t/\tau_+}, \quad y_i \leftarrow y_i e^{-\Delta t/\tau_-}
        &\text{(decay)}\\
    &w_{ij} \leftarrow \mathrm{clip}\big(w_{ij} - A_- f_-(w_{ij}) \textstyle\sum_b y_{bi} S^{pre}_{bj}\big)
        &\text{(pre spikes: depression)}\\
    &x_j \leftarrow \mathrm{bump}(x_j, S^{pre}_j), \quad y_i \leftarrow \mathrm{bump}(y_i, S^{post}_i)
        &\\
    &w_{ij} \leftarrow \mathrm{clip}\big(w_{ij} + A_+ f_+(w_{ij}) \textstyle\sum_b S^{post}_{bi} x_{bj}\big)
        &\text{(post spikes: potentiation)}

with ``clip`` to :math:`[w_{min}, w_{max}]` and the weight dependence
:math:`f_\pm = 1` (``"additive"``, hard bounds; Song, Miller & Abbott 2000) or
:math:`f_+ = (w_{max} - w)^\mu,\ f_- = (w - w_{min})^\mu` (``"multiplicative"``, soft bounds;
:math:`\mu = 1` van Rossum et al. 2000, :math:`0 < \mu < 1` Gütig et al. 2003).
A single pair with :math:`\Delta = t_{post} - t_{pre}` changes the weight by
:math:`A_+ e^{-\Delta/\tau_+}` for :math:`\Delta \ge 0` and :math:`-A_- e^{\Delta/\tau_-}` for
:math:`\Delta < 0`: pre and post spikes in the same step count as causal (pre first). This is
the order of Brian2 (``on_pre`` runs before ``on_post``) with
``on_pre="apre += 1; w = clip(w - Am*apost, wmin, wmax)"`` and
``on_post="apost += 1; w = clip(w + Ap*apre, wmin, wmax)"``; the tests check it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from spikegate._validate import check_choice, check_int, check_positive
from spikegate.plasticity.traces import TRACE_MODES, bump, decay_factor

WEIGHT_DEPENDENCE: tuple[str, ...] = ("additive", "multiplicative")


class STDPState(NamedTuple):
    """Pair rule traces: ``pre`` (:math:`x`, ``[B, N_pre]``) and ``post`` (:math:`y`, ``[B, N_post]``)."""

    pre: Tensor
    post: Tensor


class TripletState(NamedTuple):
    """Triplet rule traces: ``r1`` (:math:`\\tau_+`), ``r2`` (:math:`\\tau_x`) of the pre-synaptic
    neurons ``[B, N_pre]``; ``o1`` (:math:`\\tau_-`), ``o2`` (:math:`\\tau_y`) of the
    post-synaptic ones ``[B, N_post]``."""

    r1: Tensor
    r2: Tensor
    o1: Tensor
    o2: Tensor


def _check_step(pre: Tensor, post: Tensor, weight: Tensor, n_pre: int, n_post: int, batch: int,
                mask: Tensor | None) -> None:
    for name, s, n in (("pre", pre, n_pre), ("post", post, n_post)):
        if not isinstance(s, Tensor):
            raise TypeError(f"{name} spikes must be a torch.Tensor, got {type(s).__name__}")
        if s.dim() != 2 or s.shape != (batch, n):
            raise ValueError(f"{name} spikes must be [B, N] = [{batch}, {n}] like the state, got {tuple(s.shape)}")
    if not isinstance(weight, Tensor) or weight.shape != (n_post, n_pre):
        shape = tuple(weight.shape) if isinstance(weight, Tensor) else type(weight).__name__
        raise ValueError(f"weight must be [N_post, N_pre] = [{n_post}, {n_pre}], got {shape}")
    if mask is not None and tuple(mask.shape) != (n_post, n_pre):
        raise ValueError(f"mask must be [N_post, N_pre] = [{n_post}, {n_pre}], got {tuple(mask.shape)}")


def _outer(post_side: Tensor, pre_side: Tensor) -> Tensor:
    """Sum over the batch of outer products: ``[B, N_post] x [B, N_pre] -> [N_post, N_pre]``."""
    return torch.einsum("bi,bj->ij", post_side, pre_side)


@dataclass(frozen=True)
class _Bounds:
    w_min: float = 0.0
    w_max: float = 1.0
    weight_dependence: str = "additive"
    mu: float = 1.0
    pairing: str = "all_to_all"
    dt: float = 1.0

    def _check_common(self) -> None:
        check_positive(self.dt, "dt")
        if not self.w_min < self.w_max:
            raise ValueError(f"w_min must be below w_max, got {self.w_min} and {self.w_max}")
        check_choice(self.weight_dependence, "weight_dependence", WEIGHT_DEPENDENCE)
        check_positive(self.mu, "mu", allow_zero=True)
        check_choice(self.pairing, "pairing", TRACE_MODES)

    def _depress(self, w: Tensor, amount: Tensor, mask: Tensor | None) -> Tensor:
        if self.weight_dependence == "multiplicative":
            amount = amount * (w - self.w_min).clamp(min=0) ** self.mu
        if mask is not None:
            amount = amount * mask
        return (w - amount).clamp(self.w_min, self.w_max)

    def _potentiate(self, w: Tensor, amount: Tensor, mask: Tensor | None) -> Tensor:
        if self.weight_dependence == "multiplicative":
            amount = amount * (self.w_max - w).clamp(min=0) ** self.mu
        if mask is not None:
            amount = amount * mask
        return (w + amount).clamp(self.w_min, self.w_max)


@dataclass(frozen=True)
class PairSTDP(_Bounds):
    r"""Pair-based STDP (equations in the module docstring).

    Args:
        a_plus: potentiation amplitude :math:`A_+ \ge 0` (weight units per pair).
        a_minus: depression amplitude :math:`A_- \ge 0` (a positive number).
        tau_plus: pre-synaptic trace time constant :math:`\tau_+` (ms).
        tau_minus: post-synaptic trace time constant :math:`\tau_-` (ms).
        w_min, w_max: weight bounds.
        weight_dependence: ``"additive"`` (hard bounds) or ``"multiplicative"`` (soft bounds
            with exponent ``mu``).
        mu: exponent of the weight dependence (ignored when additive).
        pairing: ``"all_to_all"`` or ``"nearest"`` (traces reset to 1 at a spike).
        dt: step in ms.

    Defaults are Song, Miller & Abbott (2000): :math:`A_- / A_+ = 1.05`, 20 ms windows.

    Example (one step of a network, weights ``[N_post, N_pre]``)::

        rule = PairSTDP(a_plus=0.01, a_minus=0.0105, dt=0.5)
        state = rule.initial_state(batch=1, n_pre=784, n_post=100)
        dw, state = rule.step(pre_spikes, post_spikes, w, state)
        w = w + dw
    """

    a_plus: float = 0.01
    a_minus: float = 0.0105
    tau_plus: float = 20.0
    tau_minus: float = 20.0

    def __post_init__(self) -> None:
        self._check_common()
        check_positive(self.a_plus, "a_plus", allow_zero=True)
        check_positive(self.a_minus, "a_minus", allow_zero=True)
        check_positive(self.tau_plus, "tau_plus")
        check_positive(self.tau_minus, "tau_minus")

    def initial_state(self, batch: int, n_pre: int, n_post: int, *, dtype: torch.dtype = torch.float64,
                      device: torch.device | str | None = None) -> STDPState:
        """Zero traces ``pre: [batch, n_pre]``, ``post: [batch, n_post]``."""
        for name, v in (("batch", batch), ("n_pre", n_pre), ("n_post", n_post)):
            check_int(v, name, minimum=1)
        z = dict(dtype=dtype, device=device)
        return STDPState(torch.zeros(batch, n_pre, **z), torch.zeros(batch, n_post, **z))

    def step(self, pre: Tensor, post: Tensor, weight: Tensor, state: STDPState,
             mask: Tensor | None = None) -> tuple[Tensor, STDPState]:
        """One step: spikes ``pre [B, N_pre]``, ``post [B, N_post]`` of this step, the weights
        ``[N_post, N_pre]`` before it -> ``(dw [N_post, N_pre], new state)``."""
        _check_step(pre, post, weight, state.pre.shape[1], state.post.shape[1], state.pre.shape[0], mask)
        x = state.pre * decay_factor(self.tau_plus, self.dt)
        y = state.post * decay_factor(self.tau_minus, self.dt)
        pre_f, post_f = pre.to(x.dtype), post.to(x.dtype)
        w = weight
        if bool(pre_f.any()):
            w = self._depress(w, self.a_minus * _outer(y, pre_f), mask)
        x = bump(x, pre_f, self.pairing)
        y = bump(y, post_f, self.pairing)
        if bool(post_f.any()):
            w = self._potentiate(w, self.a_plus * _outer(post_f, x), mask)
        return w - weight, STDPState(x, y)

    def run(self, pre: Tensor, post: Tensor, weight: Tensor, state: STDPState | None = None,
            mask: Tensor | None = None) -> tuple[Tensor, STDPState]:
        """Apply the rule to recorded spike trains ``pre [T, B, N_pre]``, ``post [T, B, N_post]``
        (the weights do not act on the spikes) -> ``(final weight, final state)``."""
        return _run(self, pre, post, weight, state, mask)


@dataclass(frozen=True)
class TripletSTDP(_Bounds):
    r"""Triplet STDP of Pfister & Gerstner (2006), in trace form.

    Pre-synaptic traces :math:`r_1` (:math:`\tau_+`) and :math:`r_2` (:math:`\tau_x`),
    post-synaptic traces :math:`o_1` (:math:`\tau_-`) and :math:`o_2` (:math:`\tau_y`), all with
    unit jumps (``"all_to_all"``) or reset to 1 (``"nearest"``). One step, after decaying all
    four traces:

    .. math::

        \text{pre spike: } & w \leftarrow \mathrm{clip}\big(w - f_-(w)\, o_1 [A_2^- + A_3^- r_2(t-\epsilon)]\big),
            \text{ then bump } r_1, r_2 \\
        \text{post spike: } & w \leftarrow \mathrm{clip}\big(w + f_+(w)\, r_1 [A_2^+ + A_3^+ o_2(t-\epsilon)]\big),
            \text{ then bump } o_1, o_2

    where :math:`(t-\epsilon)` means the value before this step's own bump. With
    :math:`A_3^\pm = 0` this is the pair rule. Defaults: the minimal all-to-all model fitted to
    visual cortex data (:data:`TRIPLET_PRESETS` ``"visual_all_to_all_minimal"``).
    """

    a2_plus: float = 7.5e-10
    a3_plus: float = 9.3e-3
    a2_minus: float = 7e-3
    a3_minus: float = 0.0
    tau_plus: float = 16.8
    tau_minus: float = 33.7
    tau_x: float = 101.0
    tau_y: float = 125.0

    def __post_init__(self) -> None:
        self._check_common()
        for name in ("a2_plus", "a3_plus", "a2_minus", "a3_minus"):
            check_positive(getattr(self, name), name, allow_zero=True)
        for name in ("tau_plus", "tau_minus", "tau_x", "tau_y"):
            check_positive(getattr(self, name), name)

    def initial_state(self, batch: int, n_pre: int, n_post: int, *, dtype: torch.dtype = torch.float64,
                      device: torch.device | str | None = None) -> TripletState:
        """Zero traces ``r1, r2: [batch, n_pre]``, ``o1, o2: [batch, n_post]``."""
        for name, v in (("batch", batch), ("n_pre", n_pre), ("n_post", n_post)):
            check_int(v, name, minimum=1)
        z = dict(dtype=dtype, device=device)
        pre, post = torch.zeros(batch, n_pre, **z), torch.zeros(batch, n_post, **z)
        return TripletState(pre, pre.clone(), post, post.clone())

    def step(self, pre: Tensor, post: Tensor, weight: Tensor, state: TripletState,
             mask: Tensor | None = None) -> tuple[Tensor, TripletState]:
        """One step, as :meth:`PairSTDP.step`."""
        _check_step(pre, post, weight, state.r1.shape[1], state.o1.shape[1], state.r1.shape[0], mask)
        r1 = state.r1 * decay_factor(self.tau_plus, self.dt)
        r2 = state.r2 * decay_factor(self.tau_x, self.dt)
        o1 = state.o1 * decay_factor(self.tau_minus, self.dt)
        o2 = state.o2 * decay_factor(self.tau_y, self.dt)
        pre_f, post_f = pre.to(r1.dtype), post.to(r1.dtype)
        w = weight
        if bool(pre_f.any()):
            w = self._depress(w, _outer(o1, (self.a2_minus + self.a3_minus * r2) * pre_f), mask)
        r1, r2 = bump(r1, pre_f, self.pairing), bump(r2, pre_f, self.pairing)
        if bool(post_f.any()):
            w = self._potentiate(w, _outer((self.a2_plus + self.a3_plus * o2) * post_f, r1), mask)
        o1, o2 = bump(o1, post_f, self.pairing), bump(o2, post_f, self.pairing)
        return w - weight, TripletState(r1, r2, o1, o2)

    def run(self, pre: Tensor, post: Tensor, weight: Tensor, state: TripletState | None = None,
            mask: Tensor | None = None) -> tuple[Tensor, TripletState]:
        """As :meth:`PairSTDP.run`."""
        return _run(self, pre, post, weight, state, mask)


#: Parameter sets of Pfister & Gerstner (2006, Table 4, fits to visual cortex data) for
#: :class:`TripletSTDP` (amplitudes for weights in [0, 1]; times in ms; "minimal" models have
#: :math:`A_3^- = 0`). Recalled from the paper; the all-to-all values are also the defaults of
#: NEST's and NESTML's triplet synapses.
TRIPLET_PRESETS: dict[str, dict[str, float | str]] = {
    "visual_all_to_all_minimal": dict(
        pairing="all_to_all", tau_plus=16.8, tau_minus=33.7, tau_x=101.0, tau_y=125.0,
        a2_plus=7.5e-10, a3_plus=9.3e-3, a2_minus=7e-3, a3_minus=0.0,
    ),
    "visual_all_to_all_full": dict(
        pairing="all_to_all", tau_plus=16.8, tau_minus=33.7, tau_x=101.0, tau_y=125.0,
        a2_plus=5e-10, a3_plus=6.2e-3, a2_minus=7e-3, a3_minus=2.3e-4,
    ),
    "visual_nearest_full": dict(
        pairing="nearest", tau_plus=16.8, tau_minus=33.7, tau_x=714.0, tau_y=40.0,
        a2_plus=8.8e-11, a3_plus=5.3e-2, a2_minus=6.6e-3, a3_minus=3.1e-3,
    ),
}


def _run(rule: PairSTDP | TripletSTDP, pre: Tensor, post: Tensor, weight: Tensor,
         state: NamedTuple | None, mask: Tensor | None) -> tuple[Tensor, NamedTuple]:
    for name, s in (("pre", pre), ("post", post)):
        if not isinstance(s, Tensor) or s.dim() != 3:
            raise ValueError(f"{name} must be a [T, B, N] tensor")
    if pre.shape[:2] != post.shape[:2]:
        raise ValueError(f"pre and post must share T and B, got {tuple(pre.shape)} and {tuple(post.shape)}")
    if state is None:
        state = rule.initial_state(pre.shape[1], pre.shape[2], post.shape[2], dtype=weight.dtype,
                                   device=weight.device)
    w = weight
    for t in range(pre.shape[0]):
        dw, state = rule.step(pre[t], post[t], w, state, mask)
        w = w + dw
    return w, state
