r"""The same network in Brian2: used by the agreement tests and the benchmark.

:func:`build` turns a :class:`~spikegate.reservoir.Network` (with its external current, input
spikes, Poisson drives and STDP rule) into Brian2 objects on Brian2's current device and
target, with the schedule of :func:`spikegate.reservoir.simulate`:

* ``NeuronGroup``: Izhikevich with ``method="euler"``, ``threshold="v >= v_peak"``,
  ``reset="v = c; u += d"``, current ``I = stim(t, i)`` from a ``TimedArray``; or the
  discrete LIF ``v = beta*v + I`` (``run_regularly`` in the ``groups`` slot),
  ``threshold="v >= vth"``, reset ``v -= vth`` / ``v = 0``;
* ``Synapses`` (one object, connected in spikegate's synapse order, so Brian2's synapse index
  ``k`` is spikegate's) whose pathways run in the ``after_resets`` slot: transmission
  ``v_post += w`` with the delays (order 0), input synapses from a ``SpikeGeneratorGroup``
  (order 1), trace decay (2), STDP ``on_pre`` without delay (3), trace bumps
  (``run_on_event("spike", ...)``, 4), STDP ``on_post`` (5); Poisson drives are
  ``PoissonInput`` s (order 6).

``exact=True`` makes the floating-point operations those of spikegate, so the comparison can
be bitwise even where the network is chaotic: the Izhikevich right-hand side is a Brian2
``Function`` with spikegate's operation order (Brian2 otherwise lets sympy reorder the sum;
the equations are the same), and the STDP traces are per neuron, decayed every step by the
rule's factor (Brian2's event-driven per-synapse traces equal them to ~1e-16). Non-plastic
synapses get clip bounds ``[w, w]``. This needs the numpy target. ``exact=False`` writes the
textbook Brian2 model (sympy-ordered Euler, event-driven traces), for the benchmark.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from spikegate.neurons import IzhikevichParams
from spikegate.plasticity import PairSTDP, TripletSTDP
from spikegate.plasticity.traces import decay_factor
from spikegate.reservoir.network import Network
from spikegate.reservoir.simulate import PoissonDrive, SpikeEvents, default_plastic


def _np(x) -> np.ndarray:
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def _izhikevich_rhs(b2):
    """``0.04 v^2 + 5 v + 140 - u + I`` evaluated exactly as ``izhikevich_step`` does."""

    def rhs(v, u, current):
        return 0.04 * (v * v) - u + 5 * v + current + 140

    return b2.Function(rhs, arg_units=[1, 1, 1], return_unit=1, arg_names=["v", "u", "I"])


class Brian2Network:
    """Brian2 objects of one network; :meth:`run`, then :meth:`spikes` and :meth:`weights`."""

    def __init__(self, b2, dt: float, objects: dict[str, Any]) -> None:
        self.b2, self.dt, self.objects = b2, dt, objects
        self.net = b2.Network(*objects.values())

    def run(self, steps: int, **kwargs) -> None:
        self.net.run(steps * self.dt * self.b2.ms, namespace={}, **kwargs)

    def spikes(self) -> SpikeEvents:
        mon = self.objects["spikes"]
        steps = np.rint(np.asarray(mon.t / self.b2.ms) / self.dt).astype(np.int64)
        units = np.asarray(mon.i[:], dtype=np.int64)
        order = np.lexsort((units, steps))
        return SpikeEvents(steps[order], units[order], np.zeros_like(units))

    def weights(self) -> np.ndarray:
        """Recurrent weights ``[nnz]`` in spikegate's synapse order."""
        return np.asarray(self.objects["recurrent"].w[:], dtype=np.float64)


def _stdp(rule: PairSTDP | TripletSTDP, exact: bool, ns: dict[str, Any], ms) -> dict[str, Any]:
    """Brian2 code of a rule: synaptic model lines, ``on_pre`` / ``on_post`` code, and (exact
    mode) the neuron trace variables with their decay and bump statements."""
    bump = (lambda v: f"{v} = 1") if rule.pairing == "nearest" else (lambda v: f"{v} += 1")
    ns.update(wmin=rule.w_min, wmax=rule.w_max, mu=rule.mu)
    mult = rule.weight_dependence == "multiplicative"
    if isinstance(rule, PairSTDP):
        taus = {"x": rule.tau_plus, "y": rule.tau_minus}
        ns.update(Ap=rule.a_plus, Am=rule.a_minus)
        x, y = ("x_pre", "y_post") if exact else ("x", "y")
        dep = f"Am * {y}" + (" * (w - wmin)**mu" if mult else "")
        pot = f"Ap * {x}" + (" * (wmax - w)**mu" if mult else "")
        pre, post = [f"w = clip(w - {dep}, wlo, whi)"], [f"w = clip(w + {pot}, wlo, whi)"]
        bumps_pre, bumps_post = ["x"], ["y"]
    else:
        taus = {"r1": rule.tau_plus, "r2": rule.tau_x, "o1": rule.tau_minus, "o2": rule.tau_y}
        ns.update(A2p=rule.a2_plus, A3p=rule.a3_plus, A2m=rule.a2_minus, A3m=rule.a3_minus)
        r1, r2, o1, o2 = ("r1_pre", "r2_pre", "o1_post", "o2_post") if exact else ("r1", "r2", "o1", "o2")
        dep = f"{o1} * (A2m + A3m * {r2})" + (" * (w - wmin)**mu" if mult else "")
        pot = f"(A2p + A3p * {o2}) * {r1}" + (" * (wmax - w)**mu" if mult else "")
        pre, post = [f"w = clip(w - {dep}, wlo, whi)"], [f"w = clip(w + {pot}, wlo, whi)"]
        bumps_pre, bumps_post = ["r1", "r2"], ["o1", "o2"]
    if exact:
        for name, tau in taus.items():
            ns[f"f_{name}"] = decay_factor(tau, rule.dt)
        return dict(model="", pre="\n".join(pre), post="\n".join(post), variables=list(taus),
                    decay="\n".join(f"{v} = {v} * f_{v}" for v in taus),
                    bump_pre="\n".join(bump(v) for v in bumps_pre), bump_post="\n".join(bump(v) for v in bumps_post))
    for name, tau in taus.items():
        ns[f"tau_{name}"] = tau * ms
    model = "\n".join(f"d{v}/dt = -{v} / tau_{v} : 1 (event-driven)" for v in taus)
    if isinstance(rule, PairSTDP):
        pre, post = [bump("x"), *pre], [bump("y"), *post]
    else:
        pre, post = [*pre, bump("r1"), bump("r2")], [*post, bump("o1"), bump("o2")]
    return dict(model=model, pre="\n".join(pre), post="\n".join(post), variables=[])


def build(
    network: Network,
    steps: int,
    *,
    current=None,
    input_spikes=None,
    poisson: Sequence[PoissonDrive] = (),
    poisson_afferents: int = 100,
    plasticity: PairSTDP | TripletSTDP | None = None,
    plastic: np.ndarray | None = None,
    exact: bool = True,
) -> Brian2Network:
    """Brian2 objects for ``steps`` steps of ``network`` (see the module docstring).
    ``current``: ``[T, N]``; ``input_spikes``: ``[T, n_in]``; each Poisson drive (scalar rate)
    becomes a ``PoissonInput`` of ``poisson_afferents`` afferents sharing its rate."""
    import brian2 as b2

    if exact and b2.get_device() is b2.devices.device.runtime_device and b2.prefs.codegen.target != "numpy":
        raise ValueError("exact=True needs Brian2's numpy target (compiled targets may reorder arithmetic)")
    ms, dt, n = b2.ms, float(network.dt), network.n
    nrn = network.neuron
    ns: dict[str, Any] = {}
    rule = _stdp(plasticity, exact, ns, ms) if plasticity is not None else None
    extra = [f"{v} : 1" for v in (rule["variables"] if rule else [])]
    extra += [f"wdrive{k} : 1 (constant)" for k in range(len(poisson))]
    extra_eqs = "\n".join(extra)
    stim_term = "I = stim(t, i) : 1" if current is not None else "I = 0 : 1"

    def events(condition: str) -> dict[str, str]:
        # events on the spike condition for the trace bumps (the spike event's code block is
        # the reset, and the post-synaptic bump of the triplet rule follows the potentiation)
        return {"bump_pre": condition, "bump_post": condition} if rule is not None and exact else {}

    if current is not None:
        ns["stim"] = b2.TimedArray(_np(current)[:steps].astype(np.float64), dt=dt * ms)
    if isinstance(nrn, IzhikevichParams):
        if nrn.scheme != "euler":
            raise ValueError("the Brian2 builder writes the 'euler' scheme only")
        rhs = "izh_rhs(v, u, I)" if exact else "(0.04*v**2 + 5*v + 140 - u + I)"
        if exact:
            ns["izh_rhs"] = _izhikevich_rhs(b2)
        eqs = f"""dv/dt = {rhs} / ms : 1
du/dt = a * (b * v - u) / ms : 1
{stim_term}
a : 1 (constant)
b : 1 (constant)
c : 1 (constant)
d : 1 (constant)
{extra_eqs}"""
        g = b2.NeuronGroup(n, eqs, threshold="v >= v_peak", reset="v = c; u += d", method="euler",
                           events=events("v >= v_peak"), namespace={**ns, "v_peak": float(nrn.v_peak)},
                           dt=dt * ms, name="neurons")
        g.a, g.b, g.c, g.d = (_np(x) for x in (nrn.a, nrn.b, nrn.c, nrn.d))
        g.v = network.v_init
        g.u = _np(nrn.b) * network.v_init
    else:
        if nrn.refractory:
            raise ValueError("the Brian2 builder does not write LIF refractory periods")
        eqs = f"""v : 1
{stim_term}
beta : 1 (constant)
vth : 1 (constant)
{extra_eqs}"""
        reset = {"subtract": "v -= vth", "zero": "v = 0", "none": None}[nrn.reset]
        g = b2.NeuronGroup(n, eqs, threshold="v >= vth", reset=reset, events=events("v >= vth"), namespace=ns,
                           dt=dt * ms, name="neurons")
        g.run_regularly("v = beta * v + I", when="groups", dt=dt * ms)
        g.beta, g.vth = _np(nrn.beta), _np(nrn.threshold)
        g.v = network.v_init
    objects: dict[str, Any] = {"neurons": g}

    rec = network.recurrent
    on_pre = {"transmission": "v_post += w"}
    if rule is not None:
        on_pre["stdp"] = rule["pre"]
    syn = b2.Synapses(g, g, "w : 1\nwlo : 1 (constant)\nwhi : 1 (constant)\n" + (rule["model"] if rule else ""),
                      on_pre=on_pre, on_post=rule["post"] if rule else None,
                      delay={"stdp": 0 * ms} if rule else None, namespace=ns, dt=dt * ms, name="recurrent")
    syn.connect(i=rec.pre, j=rec.post)
    syn.w = rec.weight
    syn.transmission.delay = rec.delay * dt * ms
    syn.transmission.when, syn.transmission.order = "after_resets", 0
    objects["recurrent"] = syn
    if rule is not None:
        mask = default_plastic(network) if plastic is None else np.asarray(plastic, bool)
        syn.wlo = np.where(mask, plasticity.w_min, rec.weight)
        syn.whi = np.where(mask, plasticity.w_max, rec.weight)
        syn.stdp.when, syn.stdp.order = "after_resets", 3
        syn.post.when, syn.post.order = "after_resets", 5
        if exact:
            # per-neuron traces: the group runs these; they are contained objects of the group
            g.run_regularly(rule["decay"], when="after_resets", order=2, dt=dt * ms)
            g.run_on_event("bump_pre", rule["bump_pre"], when="after_resets", order=4)
            g.run_on_event("bump_post", rule["bump_post"], when="after_resets",
                           order=4 if isinstance(plasticity, PairSTDP) else 6)
    if network.inputs is not None and input_spikes is not None:
        inp = network.inputs
        t_idx, j_idx = np.nonzero(_np(input_spikes)[:steps])
        sgg = b2.SpikeGeneratorGroup(inp.n_pre, j_idx, t_idx * dt * ms, dt=dt * ms, name="inputs")
        si = b2.Synapses(sgg, g, "w : 1", on_pre="v_post += w", dt=dt * ms, name="input_synapses")
        si.connect(i=inp.pre, j=inp.post)
        si.w = inp.weight
        si.delay = inp.delay * dt * ms
        si.pre.when, si.pre.order = "after_resets", 1
        objects.update(inputs=sgg, input_synapses=si)
    for k, drive in enumerate(poisson):
        rates = np.broadcast_to(np.asarray(drive.rate, np.float64), (n,))
        if np.unique(rates).size != 1:
            raise ValueError("the Brian2 builder needs one Poisson rate per drive")
        setattr(g, f"wdrive{k}", np.broadcast_to(np.asarray(drive.weight, np.float64), (n,)))
        objects[f"poisson{k}"] = b2.PoissonInput(g, "v", poisson_afferents, rates[0] / poisson_afferents * b2.Hz,
                                                 weight=f"wdrive{k}", when="after_resets", order=7)
    objects["spikes"] = b2.SpikeMonitor(g, name="spikes")
    return Brian2Network(b2, dt, objects)
