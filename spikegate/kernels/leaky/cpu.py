r"""Numba engine of the leaky family: the forward over all steps, and the BPTT backward.

Every op of the family is the current-based neuron of ``README.md`` (LIF is the case
:math:`\alpha = 0`, :math:`I[0] = 0`). Tensors arrive flattened: inputs ``[T, B, N]``, state and
parameters ``[B, N]`` (parameters already broadcast, so per-layer, per-neuron and per-sample values
are all the same case). Work is cut into tiles of one batch row and up to ``tile`` neurons; the
tiles are split statically over ``workers`` threads (one worker runs the serial build of
:class:`spikegate.kernels._numba.ParallelKernel`). Inside a tile every time step is a handful of
short loops over the tile's neurons that LLVM vectorizes; each loop's variant (reset mode,
surrogate kind, refractory or not) is chosen outside it, so one compiled kernel per dtype serves
every configuration.

The backward keeps nothing from the forward but the input current ``x`` (which the caller owns)
and, for the stochastic meta-neuron, the spikes as bytes. Per tile it first recomputes the forward
with the very same step functions (so the state it sees is bit-identical), keeping the tile's
membrane trace in a scratch buffer that stays in cache, then runs the reverse recursion.
"""

from __future__ import annotations

import numpy as np
import torch
from numba import njit, prange
from torch import Tensor

from spikegate.kernels._numba import parallel_kernel, threads
from spikegate.kernels.leaky.spec import (
    ATAN,
    ESCAPE,
    FAST_SIGMOID,
    RECTANGULAR,
    SIGMOID,
    SUBTRACT,
    TRIANGLE,
    ZERO,
    Config,
    surrogate_constants,
)

# Scratch per worker in the backward: the membrane trace of one tile plus up to three more
# traces (refractory mask, previous v, previous i). Keep it inside a core's L2.
_SCRATCH_BYTES = 1024 * 1024
_MAX_TILE = 512


@njit(cache=True, error_model="numpy")
def surrogate_derivative(z, out, kind, c):  # pragma: no cover - compiled
    """``out[k] = g'(z[k])`` for surrogate ``kind`` (a code of :mod:`.spec`); ``c`` from
    :func:`~spikegate.kernels.leaky.spec.surrogate_constants`. Mirrors
    :func:`spikegate.surrogate.derivative`, the one definition it is tested against."""
    zero, one, a, half_a, atan_c = c[0], c[1], c[2], c[3], c[4]
    n = z.shape[0]
    if kind == ATAN:
        for k in range(n):
            w = atan_c * z[k]
            out[k] = half_a / (one + w * w)
    elif kind == FAST_SIGMOID:
        for k in range(n):
            d = one + a * abs(z[k])
            out[k] = one / (d * d)
    elif kind == SIGMOID:
        for k in range(n):
            s = one / (one + np.exp(-(a * z[k])))
            out[k] = a * s * (one - s)
    elif kind == TRIANGLE:
        for k in range(n):
            w = one - abs(z[k]) / a
            out[k] = (w if w > zero else zero) / a
    elif kind == RECTANGULAR:
        for k in range(n):
            out[k] = (one if abs(z[k]) < half_a else zero) / a
    else:
        for k in range(n):
            out[k] = one


@njit(cache=True, error_model="numpy")
def _charge(x, i, v, r, alpha, beta, zero):  # pragma: no cover - compiled
    """One neuron, one step up to the spike: ``i = alpha i + x``, ``u = beta v + i``, held at
    ``v`` while refractory (``r > 0``). Returns ``(i, u, active)``."""
    i = alpha * i + x
    u = beta * v + i
    active = r <= zero
    return i, (u if active else v), active


@njit(cache=True, error_model="numpy")
def _discharge(u, s, thr, r, c_sub, c_zero, period, one, zero):  # pragma: no cover - compiled
    """The membrane after the spike decision (``c_sub``/``c_zero`` select the reset; the
    arithmetic equals the step function's in every case) and the refractory countdown."""
    v = u - s * (thr * c_sub + u * c_zero)
    left = r - one
    return v, (period if s > zero else (left if left > zero else zero))


@njit(cache=True, error_model="numpy")
def _reverse(u, s, h, a, gs, gv, gi, thr, alpha, beta, c_sub, c_zero, one):  # pragma: no cover - compiled
    """One neuron, one step of the reverse recursion (README.md): from the spike ``s``, the
    surrogate ``h``, the refractory mask ``a`` and the incoming gradients, return
    ``(dL/dX, gi, gv)`` for the step before and ``sh = sigma h`` for the parameter gradients."""
    sh = (gs - gv * (thr * c_sub + u * c_zero)) * h * a
    gu = gv * (one - s * a * c_zero) + sh
    gc = gu * a
    gtot = gi + gc
    return gtot, alpha * gtot, gc * beta + gu * (one - a), sh, gc


@parallel_kernel(error_model="numpy")
def _forward(x, noise, i, v, r, alpha, beta, thr, kappa, spikes, record, c, reset, kind, keep, tile, workers):  # pragma: no cover - compiled
    """Run all steps; ``i, v, r`` hold the initial state and are overwritten with the final one.
    With ``keep`` the meta-neuron's spikes are also written to ``record`` as bytes."""
    steps, batch, n = x.shape
    per_row = (n + tile - 1) // tile
    jobs = batch * per_row
    zero, one, period = c[0], c[1], c[5]
    c_sub = one if reset == SUBTRACT else zero
    c_zero = one if reset == ZERO else zero
    for w in prange(workers):
        for job in range(w * jobs // workers, (w + 1) * jobs // workers):
            b = job // per_row
            n0 = (job % per_row) * tile
            n1 = min(n0 + tile, n)
            ib, vb, rb = i[b, n0:n1], v[b, n0:n1], r[b, n0:n1]
            al, be, th, ka = alpha[b, n0:n1], beta[b, n0:n1], thr[b, n0:n1], kappa[b, n0:n1]
            for t in range(steps):
                xt, st = x[t, b, n0:n1], spikes[t, b, n0:n1]
                if kind == ESCAPE:
                    nt = noise[t, b, n0:n1]
                    for k in range(n1 - n0):
                        ik, u, active = _charge(xt[k], ib[k], vb[k], rb[k], al[k], be[k], zero)
                        p = one / (one + np.exp(-((u - th[k]) / ka[k])))
                        sk = one if nt[k] < p else zero
                        st[k] = sk
                        if keep:
                            record[t, b, n0 + k] = 1 if sk > zero else 0
                        ib[k] = ik
                        vb[k], rb[k] = _discharge(u, sk, th[k], rb[k], c_sub, c_zero, period, one, zero)
                else:
                    for k in range(n1 - n0):
                        ik, u, active = _charge(xt[k], ib[k], vb[k], rb[k], al[k], be[k], zero)
                        sk = one if active and u - th[k] >= zero else zero
                        st[k] = sk
                        ib[k] = ik
                        vb[k], rb[k] = _discharge(u, sk, th[k], rb[k], c_sub, c_zero, period, one, zero)
    return 0


@parallel_kernel(error_model="numpy")
def _backward(grad_s, grad_x, gi, gv, x, record, i0, v0, r0, alpha, beta, thr, kappa,
              g_alpha, g_beta, g_thr, g_kappa, u_tr, act_tr, v_tr, i_tr, i_w, v_w, r_w, s_w, z_w, h_w, g_w,
              c, reset, kind, counting, keep_i, keep_v, params, broadcast, tile, workers):  # pragma: no cover - compiled
    """BPTT through all steps. ``gi, gv`` enter as the gradients of the final state and leave as
    those of the initial state; ``grad_x`` is written and the per-(sample, neuron) parameter
    gradients ``g_*`` (zero on entry) accumulated when ``params``. Scratch: the traces ``u_tr`` (and
    ``act_tr``/``v_tr``/``i_tr`` when ``counting``/``keep_v``/``keep_i``; otherwise one row,
    whose content is never used) ``[workers, T, tile]``, vectors ``*_w: [workers, tile]``. With
    ``broadcast``, ``grad_s`` is one value ``[1, 1, 1]`` standing for all steps and neurons (the
    gradient of ``spikes.sum()``), never materialized."""
    steps, batch, n = x.shape
    per_row = (n + tile - 1) // tile
    jobs = batch * per_row
    zero, one, period = c[0], c[1], c[5]
    c_sub = one if reset == SUBTRACT else zero
    c_zero = one if reset == ZERO else zero
    for w in prange(workers):
        for job in range(w * jobs // workers, (w + 1) * jobs // workers):
            b = job // per_row
            n0 = (job % per_row) * tile
            n1 = min(n0 + tile, n)
            m = n1 - n0
            al, be, th, ka = alpha[b, n0:n1], beta[b, n0:n1], thr[b, n0:n1], kappa[b, n0:n1]
            i, v, r = i_w[w, :m], v_w[w, :m], r_w[w, :m]
            s, z, h = s_w[w, :m], z_w[w, :m], h_w[w, :m]
            g_fill = g_w[w, :m]
            if broadcast:
                g_fill[:] = grad_s[0, 0, 0]
            i[:] = i0[b, n0:n1]
            v[:] = v0[b, n0:n1]
            r[:] = r0[b, n0:n1]
            # Recompute the forward of this tile: same step code, same rounding. Traces that are
            # not kept are written to (and read from) their single row.
            for t in range(steps):
                ut = u_tr[w, t, :m]
                at = act_tr[w, t if counting else 0, :m]
                vt = v_tr[w, t if keep_v else 0, :m]
                it = i_tr[w, t if keep_i else 0, :m]
                xt = x[t, b, n0:n1]
                if kind == ESCAPE:  # the spike is the recorded draw
                    for k in range(m):
                        s[k] = one if record[t, b, n0 + k] else zero
                for k in range(m):
                    vt[k] = v[k]
                    it[k] = i[k]
                    ik, u, active = _charge(xt[k], i[k], v[k], r[k], al[k], be[k], zero)
                    ut[k] = u
                    at[k] = one if active else zero
                    det = one if active and u - th[k] >= zero else zero
                    sk = s[k] if kind == ESCAPE else det
                    i[k] = ik
                    v[k], r[k] = _discharge(u, sk, th[k], r[k], c_sub, c_zero, period, one, zero)
            # Reverse recursion (README.md): gv, gi carry the gradients reaching V[t], I[t].
            gvb, gib = gv[b, n0:n1], gi[b, n0:n1]
            acc_a, acc_b = g_alpha[b, n0:n1], g_beta[b, n0:n1]
            acc_t, acc_k = g_thr[b, n0:n1], g_kappa[b, n0:n1]
            for t in range(steps - 1, -1, -1):
                ut = u_tr[w, t, :m]
                at = act_tr[w, t if counting else 0, :m]
                vt = v_tr[w, t if keep_v else 0, :m]
                it = i_tr[w, t if keep_i else 0, :m]
                if kind == ESCAPE:
                    for k in range(m):
                        s[k] = one if record[t, b, n0 + k] else zero
                        p = one / (one + np.exp(-((ut[k] - th[k]) / ka[k])))
                        h[k] = p * (one - p) / ka[k]
                else:
                    for k in range(m):
                        z[k] = ut[k] - th[k]
                    surrogate_derivative(z, h, kind, c)
                gs_t = g_fill if broadcast else grad_s[t, b, n0:n1]
                gx_t = grad_x[t, b, n0:n1]
                if params:
                    for k in range(m):
                        zk = ut[k] - th[k]
                        sk = s[k] if kind == ESCAPE else (one if zk >= zero else zero)
                        g = gvb[k]
                        gx_t[k], gib[k], gvb[k], sh, gc = _reverse(
                            ut[k], sk, h[k], at[k], gs_t[k], g, gib[k], th[k], al[k], be[k], c_sub, c_zero, one)
                        acc_t[k] += -sh - g * sk * at[k] * c_sub
                        acc_k[k] += -sh * zk / ka[k]
                        acc_a[k] += gx_t[k] * it[k]
                        acc_b[k] += gc * vt[k]
                else:
                    for k in range(m):
                        sk = s[k] if kind == ESCAPE else (one if ut[k] - th[k] >= zero else zero)
                        gx_t[k], gib[k], gvb[k], sh, gc = _reverse(
                            ut[k], sk, h[k], at[k], gs_t[k], gvb[k], gib[k], th[k], al[k], be[k], c_sub, c_zero, one)
    return 0


def _tile(n: int, steps: int, traces: int, itemsize: int, workers: int, batch: int) -> int:
    """Neurons per tile: few enough that the backward's ``traces`` stay in cache, a multiple of
    16 (one AVX-512 register of float32), and, with several workers, small enough that each gets
    ~4 tiles. One worker gets tiles as wide as the cache allows: a tile costs a few slices per
    step, so cutting a 64-neuron row in four makes a batch-1 forward ten times slower."""
    fit = _SCRATCH_BYTES // max(1, steps * traces * itemsize)
    tile = max(16, min(_MAX_TILE, fit) // 16 * 16)
    pieces = -(-4 * workers // batch) if workers > 1 else 1
    if pieces > 1:
        tile = min(tile, max(16, -(-n // pieces) // 16 * 16))
    return min(tile, n)


def _np(t: Tensor) -> np.ndarray:
    return t.detach().numpy()


def forward(
    x: Tensor, noise: Tensor | None, i0: Tensor, v0: Tensor, r0: Tensor,
    alpha: Tensor, beta: Tensor, thr: Tensor, kappa: Tensor, cfg: Config, keep_record: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Forward of ``x: [T, B, N]`` from state ``[B, N]`` with parameters ``[B, N]``.
    Returns ``(spikes [T, B, N], i_T, v_T, r_T, record)``; ``record`` is the uint8 spikes when
    ``keep_record`` else empty."""
    steps, batch, n = x.shape
    workers = threads()
    c = surrogate_constants(cfg.kind, cfg.sharpness, cfg.refractory, _np(x).dtype)
    spikes = torch.empty_like(x)
    i, v, r = i0.clone(), v0.clone(), r0.clone()
    record = torch.empty(x.shape if keep_record else (1, 1, 1), dtype=torch.uint8)
    tile = _tile(n, 1, 1, x.element_size(), workers, batch)
    _forward(
        _np(x), _np(x if noise is None else noise), _np(i), _np(v), _np(r), _np(alpha), _np(beta),
        _np(thr), _np(kappa), _np(spikes), _np(record), c, cfg.reset, cfg.kind, keep_record, tile, workers)
    return spikes, i, v, r, (record if keep_record else record[:0])


def backward(
    grad_s: Tensor, grad_iT: Tensor, grad_vT: Tensor, x: Tensor, record: Tensor,
    i0: Tensor, v0: Tensor, r0: Tensor, alpha: Tensor, beta: Tensor, thr: Tensor, kappa: Tensor,
    cfg: Config, keep_i: bool, keep_v: bool, params: bool = True,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Gradients ``(x, i0, v0, alpha, beta, thr, kappa)``; the parameter gradients are per
    (sample, neuron), ``[B, N]`` (autograd reduces them to the parameters' shapes), and zero
    unless ``params``."""
    steps, batch, n = x.shape
    workers = threads()
    c = surrogate_constants(cfg.kind, cfg.sharpness, cfg.refractory, _np(x).dtype)
    counting = cfg.refractory >= 0
    tile = _tile(n, steps, 1 + counting + keep_i + keep_v, x.element_size(), workers, batch)
    grad_x = torch.empty_like(x)
    gi, gv = grad_iT.clone(), grad_vT.clone()
    g = [torch.zeros_like(v0) for _ in range(4)]
    rec = record if record.numel() else torch.empty((1, 1, 1), dtype=torch.uint8)
    # Scratch comes from torch.empty, so tests that poison fresh memory with NaN cover it too.
    # A trace that is not kept is one row; the mask's row holds ones (never refractory).
    traces = [
        x.new_empty((workers, steps, tile)),
        x.new_empty((workers, steps, tile)) if counting else x.new_ones((workers, 1, tile)),
        x.new_empty((workers, steps if keep_v else 1, tile)),
        x.new_empty((workers, steps if keep_i else 1, tile)),
    ]
    vectors = [x.new_empty((workers, tile)) for _ in range(7)]
    broadcast = all(st == 0 for st in grad_s.stride())
    grad_s = grad_s[:1, :1, :1].contiguous() if broadcast else grad_s.contiguous()
    _backward(
        _np(grad_s), _np(grad_x), _np(gi), _np(gv), _np(x), _np(rec), _np(i0), _np(v0), _np(r0),
        _np(alpha), _np(beta), _np(thr), _np(kappa), *(_np(t) for t in g), *(_np(t) for t in traces),
        *(_np(t) for t in vectors), c, cfg.reset, cfg.kind, counting, keep_i, keep_v, params, broadcast,
        tile, workers)
    return grad_x, gi, gv, *g
