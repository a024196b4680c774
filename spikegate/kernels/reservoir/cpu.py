"""Event-driven simulation of a sparse spiking network on the CPU (numba).

Plain arrays in, arrays out; the step order and the equations are in ``README.md`` next to
this file, and :mod:`spikegate.reservoir.simulate` is the only caller. Each neuron update
repeats the operations of ``spikegate.neurons.izhikevich_step`` / ``lif_step`` in the same
order, so float64 results are bitwise those of the step functions (the tests check it).

Synapses are stored by presynaptic neuron and, within a neuron, by delay: the synapses of
neuron ``j`` with delay ``d`` steps are ``seg[j * (D + 1) + d] : seg[j * (D + 1) + d + 1]``.
A spike is delivered by walking the spike history ring (spikes of the last ``D`` steps): cost
proportional to the number of synaptic events, never to the number of synapses.
"""

from __future__ import annotations

import numba
import numpy as np

# neuron models
IZH_EULER, IZH_2003, LIF = 0, 1, 2
# LIF resets
RESET_SUBTRACT, RESET_ZERO, RESET_NONE = 0, 1, 2
# plasticity rules
NO_RULE, PAIR, TRIPLET = 0, 1, 2
# layout of the rule parameter vector
(P_A_PLUS, P_A_MINUS, P_A2_PLUS, P_A3_PLUS, P_A2_MINUS, P_A3_MINUS, P_W_MIN, P_W_MAX, P_MU,
 P_MULTIPLICATIVE, P_NEAREST, P_F0, P_F1, P_F2, P_F3) = range(15)
RULE_PARAMS = 15
# Poisson inversion: the cumulative probabilities P(count <= m), m = 0..3, tabulated per drive
# and neuron (``_poisson`` is written for exactly these four)
POISSON_TABLE = 4


@numba.njit(cache=True, inline="always")
def _bump(trace, i, nearest):
    if nearest:
        trace[i] = 1.0
    else:
        trace[i] = trace[i] + 1.0


@numba.njit(cache=True)
def _neurons(model, step, v, u, p0, p1, p2, p3, dt, v_peak, reset, refractory,
             current, has_current, fired_out, spikes_out):
    """Update every neuron; write the indices of the spiking ones to ``spikes_out`` (``[N]``;
    entries past the count are scratch); return their count. ``p0..p3`` are (a, b, c, d) for
    Izhikevich, (beta, threshold, -, -) for LIF. ``fired_out`` (bool ``[N]``) is scratch: the
    update loop stores a spike flag per neuron instead of branching on it, so the compiler
    vectorizes it; the indices are collected from the flags afterwards, in increasing order."""
    n = v.shape[0]
    for i in range(n):
        x = current[step, i] if has_current else 0.0
        vi = v[i]
        ui = u[i]
        if model == LIF:
            un = p0[i] * vi + x
            active = True
            if refractory > 0:
                active = ui <= 0.0
                if not active:
                    un = vi
            fired = active and (un - p1[i] >= 0.0)
            s = 1.0 if fired else 0.0
            if reset == RESET_SUBTRACT:
                v[i] = un - p1[i] * s
            elif reset == RESET_ZERO:
                v[i] = un * (1.0 - s)
            else:
                v[i] = un
            if refractory > 0:
                u[i] = float(refractory) if fired else max(ui - 1.0, 0.0)
        else:
            if model == IZH_EULER:
                vn = vi + dt * (0.04 * (vi * vi) - ui + 5 * vi + x + 140)
                un = ui + dt * (p0[i] * (p1[i] * vi - ui))
            else:
                h = dt / 2
                vn = vi + h * (0.04 * (vi * vi) - ui + 5 * vi + x + 140)
                vn = vn + h * (0.04 * (vn * vn) - ui + 5 * vn + x + 140)
                un = ui + dt * (p0[i] * (p1[i] * vn - ui))
            fired = vn - v_peak >= 0.0
            s = 1.0 if fired else 0.0
            v[i] = vn * (1 - s) + p2[i] * s
            u[i] = un + p3[i] * s
        fired_out[i] = fired
    count = 0
    for i in range(n):
        spikes_out[count] = i
        count += fired_out[i]
    return count


@numba.njit(cache=True)
def _deliver(step, n_delays, hist_idx, hist_cnt, seg, post, weight, v):
    """Add the weights of every synapse whose spike arrives at ``step`` to the targets' ``v``,
    oldest emission first (largest delay first), then by source, then by synapse: the order
    in which Brian2's spike queue hands out the same events."""
    ring = hist_cnt.shape[0]
    for d in range(n_delays - 1, -1, -1):
        slot = (step - d) % ring
        for q in range(hist_cnt[slot]):
            j = hist_idx[slot, q]
            base = j * n_delays + d
            for k in range(seg[base], seg[base + 1]):
                v[post[k]] += weight[k]


@numba.njit(cache=True, inline="always")
def _uniform(rng):
    """xorshift64* (Vigna 2016): a uniform double in [0, 1) from the state ``rng[0]`` (uint64)."""
    x = rng[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    rng[0] = x
    return float((x * np.uint64(2685821657736338717)) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@numba.njit(cache=True)
def seed_state(seed):
    """A non-zero xorshift state from an integer seed (splitmix64 scrambling)."""
    z = np.uint64(seed) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    out = np.empty(1, np.uint64)
    out[0] = z if z != np.uint64(0) else np.uint64(1)
    return out


@numba.njit(cache=True)
def poisson_table(rate, dt):
    """The per-step constants of the inversion in :func:`_poisson`, for drive ``k`` and neuron
    ``i``: ``lam[k, i] = r dt / 1000`` (``[K, N]``); the cumulative probabilities
    ``cdf[k, i, m] = P(count <= m)`` for ``m < POISSON_TABLE`` (``[K, N, POISSON_TABLE]``);
    ``p_last[k, i] = P(count = POISSON_TABLE - 1)`` (``[K, N]``), where the inversion loop goes
    on. They are computed by the same floating-point operations, in the same order, as that
    loop, so comparing a uniform with them gives the counts the loop gives."""
    lam = rate * dt / 1000.0
    p_zero = np.exp(-lam)  # the same bits as exp(-rate dt / 1000): negation is exact
    cdf = np.empty((rate.shape[0], rate.shape[1], POISSON_TABLE))
    p_last = np.empty(rate.shape)
    for k in range(rate.shape[0]):
        for i in range(rate.shape[1]):
            p = p_zero[k, i]
            cum = p
            cdf[k, i, 0] = cum
            for count in range(1, POISSON_TABLE):
                p *= lam[k, i] / count
                cum += p
                cdf[k, i, count] = cum
            p_last[k, i] = p
    return lam, cdf, p_last


@numba.njit(cache=True)
def _poisson(step, dt, rate, lam, cdf, p_last, weight, t_next, v, rng):
    """Poisson afferents: drive ``k`` adds ``weight[k, i]`` to neuron ``i`` once per event in
    ``[step dt, (step+1) dt)``. With lambda = r dt >= 0.1 events per step the
    count is drawn by inversion (one uniform per neuron and step); sparser drives keep the
    time of the next event and draw exponential intervals (one draw per event).

    The inversion's count is the number of cumulative probabilities ``P(count <= m)`` (sums
    of non-negative terms, so they never decrease) that the uniform exceeds, at most 1000.
    ``lam``, ``cdf``, ``p_last``: :func:`poisson_table`. The first ``POISSON_TABLE`` come from
    the table and are compared without branches (the count is random: a branch on it would
    be mispredicted at every other neuron); only a uniform above them continues the loop."""
    t_end = (step + 1) * dt
    for k in range(rate.shape[0]):
        for i in range(rate.shape[1]):
            if lam[k, i] >= 0.1:
                u = _uniform(rng)
                c = cdf[k, i]
                w = weight[k, i]
                # v plus 0, 1, 2, 3 events, added one by one
                x0 = v[i]
                x1 = x0 + w
                x2 = x1 + w
                x3 = x2 + w
                if u > c[3]:  # 4 or more events: go on from P(count <= 3)
                    p = p_last[k, i]
                    cum = c[3]
                    count = 3
                    while u > cum and count < 1000:
                        count += 1
                        p *= lam[k, i] / count
                        cum += p
                    for _ in range(count - 3):
                        x3 += w
                    v[i] = x3
                else:  # 0 to 3 events: selects, not branches
                    low = x1 if u > c[0] else x0
                    high = x3 if u > c[2] else x2
                    v[i] = high if u > c[1] else low
                continue
            if t_next[k, i] >= t_end:
                continue
            mean_isi = 1000.0 / rate[k, i]
            while t_next[k, i] < t_end:
                v[i] += weight[k, i]
                t_next[k, i] -= np.log(1.0 - _uniform(rng)) * mean_isi


@numba.njit(cache=True)
def _plasticity(rule, rp, spk, ns, out_ptr, post, in_pre, in_ptr, in_syn, plastic, weight, tr):
    """One step of the pair or triplet rule on the plastic synapses (pre- and post-synaptic
    neurons are the same population). Same order as ``PairSTDP.step`` / ``TripletSTDP.step``."""
    n = tr.shape[1]
    nearest = rp[P_NEAREST] != 0.0
    mult = rp[P_MULTIPLICATIVE] != 0.0
    w_min, w_max, mu = rp[P_W_MIN], rp[P_W_MAX], rp[P_MU]
    n_traces = 2 if rule == PAIR else 4
    for t in range(n_traces):
        f = rp[P_F0 + t]
        for i in range(n):
            tr[t, i] = tr[t, i] * f
    # pre-synaptic spikes: depression, reading the post-synaptic trace before its bump
    for q in range(ns):
        j = spk[q]
        for k in range(out_ptr[j], out_ptr[j + 1]):
            if not plastic[k]:
                continue
            i = post[k]
            if rule == PAIR:
                amount = rp[P_A_MINUS] * tr[1, i]
            else:
                amount = tr[2, i] * (rp[P_A2_MINUS] + rp[P_A3_MINUS] * tr[1, j])
            w = weight[k]
            if mult:
                amount = amount * max(w - w_min, 0.0) ** mu
            weight[k] = min(max(w - amount, w_min), w_max)
    for q in range(ns):
        j = spk[q]
        _bump(tr[0], j, nearest)
        if rule == TRIPLET:
            _bump(tr[1], j, nearest)
    # post-synaptic spikes: potentiation, reading the (bumped) pre-synaptic trace
    post_trace = 1 if rule == PAIR else 2
    for q in range(ns):
        i = spk[q]
        if rule == PAIR:
            _bump(tr[post_trace], i, nearest)
        for m in range(in_ptr[i], in_ptr[i + 1]):
            k = in_syn[m]
            j = in_pre[m]
            if rule == PAIR:
                amount = rp[P_A_PLUS] * tr[0, j]
            else:
                amount = (rp[P_A2_PLUS] + rp[P_A3_PLUS] * tr[3, i]) * tr[0, j]
            w = weight[k]
            if mult:
                amount = amount * max(w_max - w, 0.0) ** mu
            weight[k] = min(max(w + amount, w_min), w_max)
    if rule == TRIPLET:
        for q in range(ns):
            i = spk[q]
            _bump(tr[2], i, nearest)
            _bump(tr[3], i, nearest)


@numba.njit(cache=True)
def run(n_steps, first_step, rng,
        model, v, u, p0, p1, p2, p3, dt, v_peak, reset, refractory,
        current, has_current,
        n_delays, seg, post, weight, out_ptr, hist_idx, hist_cnt,
        n_delays_in, seg_in, post_in, weight_in, in_spikes, has_inputs, hist_in_idx, hist_in_cnt,
        rate, rate_weight, t_next,
        rule, rp, in_ptr, in_syn, in_pre, plastic, tr,
        traced, trace_out):
    """Simulate ``n_steps`` steps (global step numbers ``first_step ...``), mutating the state
    arrays in place (``rng``: the uint64 state of the Poisson afferents' generator). Returns
    ``(spike_steps, spike_units)`` of this call (global steps)."""
    ring = hist_cnt.shape[0]
    ring_in = hist_in_cnt.shape[0]
    lam, cdf, p_last = poisson_table(rate, dt)
    cap = max(1024, n_steps * 4)
    ev_t = np.empty(cap, np.int64)
    ev_i = np.empty(cap, np.int64)
    n_ev = 0
    fired = np.empty(v.shape[0], np.bool_)
    for step in range(n_steps):
        g = first_step + step
        slot = g % ring
        ns = _neurons(model, step, v, u, p0, p1, p2, p3, dt, v_peak, reset, refractory,
                      current, has_current, fired, hist_idx[slot])
        hist_cnt[slot] = ns
        spk = hist_idx[slot]
        _deliver(g, n_delays, hist_idx, hist_cnt, seg, post, weight, v)
        if has_inputs:
            slot_in = g % ring_in
            c = 0
            for j in range(in_spikes.shape[1]):
                if in_spikes[step, j]:
                    hist_in_idx[slot_in, c] = j
                    c += 1
            hist_in_cnt[slot_in] = c
            _deliver(g, n_delays_in, hist_in_idx, hist_in_cnt, seg_in, post_in, weight_in, v)
        if rate.shape[0] > 0:
            _poisson(g, dt, rate, lam, cdf, p_last, rate_weight, t_next, v, rng)
        if rule != NO_RULE:
            _plasticity(rule, rp, spk, ns, out_ptr, post, in_pre, in_ptr, in_syn, plastic, weight, tr)
        if n_ev + ns > cap:
            cap = 2 * (n_ev + ns)
            new_t = np.empty(cap, np.int64)
            new_i = np.empty(cap, np.int64)
            new_t[:n_ev] = ev_t[:n_ev]
            new_i[:n_ev] = ev_i[:n_ev]
            ev_t, ev_i = new_t, new_i
        for q in range(ns):
            ev_t[n_ev] = g
            ev_i[n_ev] = spk[q]
            n_ev += 1
        for q in range(traced.shape[0]):
            trace_out[step, q] = v[traced[q]]
    return ev_t[:n_ev], ev_i[:n_ev]
