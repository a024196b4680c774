"""Numba kernels of :mod:`spikegate.plasticity.tempotron` (imported on first use; compiled
once and cached on disk). The equations are in that module's docstring."""

import math

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def scan(times, units, w, v0, tau, tau_s, v_thr, v_rest, dt, steps, trace, out):
    """Voltage of one pattern on the grid. Returns (fired, k_max, v_max); k_max is the
    first crossing when fired, else the argmax over the steps after the first input spike
    (0 for a pattern without input). With trace=True writes V (shunted) to out."""
    da, db = math.exp(-dt / tau), math.exp(-dt / tau_s)
    a = b = 0.0
    m, n_ev = 0, times.shape[0]
    v_max, k_max, fired, shunted = -np.inf, 0, False, False
    if n_ev == 0 or units[0] < 0:
        v_max = v_rest
    for k in range(steps + 1):
        t = k * dt
        a *= da
        b *= db
        if not shunted:
            while m < n_ev and times[m] <= t:
                u = units[m]
                if u >= 0:
                    a += w[u] * math.exp(-(t - times[m]) / tau)
                    b += w[u] * math.exp(-(t - times[m]) / tau_s)
                m += 1
        v = v0 * (a - b) + v_rest
        if trace:
            out[k] = v
        if not fired:
            if m > 0 and v > v_max:  # before the first input V = V_rest carries no gradient
                v_max, k_max = v, k
            if v >= v_thr:
                fired, shunted = True, True
                if not trace:
                    return fired, k_max, v_max
    return fired, k_max, v_max


@numba.njit(cache=True, nogil=True)
def decide(times, units, w, v0, tau, tau_s, v_thr, v_rest, dt, steps):
    p = times.shape[0]
    fired = np.zeros(p, dtype=np.bool_)
    k_max = np.zeros(p, dtype=np.int64)
    v_max = np.zeros(p)
    dummy = np.zeros(1)
    for i in range(p):
        f, k, v = scan(times[i], units[i], w, v0, tau, tau_s, v_thr, v_rest, dt, steps, False, dummy)
        fired[i], k_max[i], v_max[i] = f, k, v
    return fired, k_max, v_max


@numba.njit(cache=True, nogil=True)
def voltage(times, units, w, v0, tau, tau_s, v_thr, v_rest, dt, steps):
    out = np.zeros((times.shape[0], steps + 1))
    for i in range(times.shape[0]):
        scan(times[i], units[i], w, v0, tau, tau_s, v_thr, v_rest, dt, steps, True, out[i])
    return out


@numba.njit(cache=True, nogil=True)
def add_gradient(times, units, t_max, sign, v0, tau, tau_s, grad):
    for m in range(times.shape[0]):
        if times[m] >= t_max:
            break
        if units[m] >= 0:
            s = t_max - times[m]
            grad[units[m]] += sign * v0 * (math.exp(-s / tau) - math.exp(-s / tau_s))


@numba.njit(cache=True, nogil=True)
def epoch(times, units, labels, order, w, velocity, lr, momentum, batch, v0, tau, tau_s, v_thr, v_rest,
          dt, steps):
    """One pass in ``order``; after every ``batch`` patterns: velocity = momentum * velocity +
    lr * (summed error gradients), w += velocity. Returns the number of errors."""
    errors = 0
    grad = np.zeros_like(w)
    dummy = np.zeros(1)
    moving = False
    for i in range(w.shape[0]):
        if velocity[i] != 0.0:
            moving = True
    for start in range(0, order.shape[0], batch):
        wrong = 0
        for j in range(start, min(start + batch, order.shape[0])):
            p = order[j]
            fired, k, _ = scan(times[p], units[p], w, v0, tau, tau_s, v_thr, v_rest, dt, steps, False, dummy)
            if fired != labels[p]:
                if wrong == 0:
                    grad[:] = 0.0
                wrong += 1
                add_gradient(times[p], units[p], k * dt, 1.0 if labels[p] else -1.0, v0, tau, tau_s, grad)
        if wrong or moving:
            for i in range(w.shape[0]):
                velocity[i] = momentum * velocity[i] + (lr * grad[i] if wrong else 0.0)
                w[i] += velocity[i]
            moving = momentum > 0.0
        errors += wrong
    return errors
