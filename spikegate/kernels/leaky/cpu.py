r"""Numba engine of the leaky family: the forward over all steps, and the BPTT backward.

Every op of the family is the current-based neuron of ``README.md`` (LIF is the case
:math:`\alpha = 0`, :math:`I[0] = 0`). Tensors arrive flattened: inputs ``[T, B, N]``, state and
parameters ``[B, N]`` (parameters already broadcast, so per-layer, per-neuron and per-sample values
are all the same case). Work is cut into tiles of one batch row and up to ``tile`` neurons; the
tiles are split statically over ``workers`` threads. Inside a tile every time step is a handful of
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

from spikegate.kernels._numba import threads
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
_SCRATCH_BYTES = 512 * 1024
_MAX_TILE = 256


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
def _integrate(x, i, v, r, alpha, beta, u, act, refractory, c):  # pragma: no cover - compiled
    """``i = alpha i + x``; ``u = beta v + i``; during a refractory period ``u = v``."""
    zero, one = c[0], c[1]
    for k in range(x.shape[0]):
        i[k] = alpha[k] * i[k] + x[k]
        u[k] = beta[k] * v[k] + i[k]
    if refractory >= 0:
        for k in range(x.shape[0]):
            active = r[k] <= zero
            act[k] = one if active else zero
            if not active:
                u[k] = v[k]


@njit(cache=True, error_model="numpy")
def _fire(u, thr, kappa, noise, act, s, kind, refractory, c):  # pragma: no cover - compiled
    """``s = H(u - thr)`` (zero while refractory), or for the meta-neuron
    ``s = 1[noise < sigmoid((u - thr) / kappa)]``."""
    zero, one = c[0], c[1]
    if kind == ESCAPE:
        for k in range(u.shape[0]):
            p = one / (one + np.exp(-((u[k] - thr[k]) / kappa[k])))
            s[k] = one if noise[k] < p else zero
    else:
        for k in range(u.shape[0]):
            s[k] = one if u[k] - thr[k] >= zero else zero
        if refractory >= 0:
            for k in range(u.shape[0]):
                s[k] = s[k] * act[k]


@njit(cache=True, error_model="numpy")
def _reset(u, s, thr, v, r, reset, refractory, c):  # pragma: no cover - compiled
    """The membrane after the spike decision, and the refractory countdown."""
    zero, one, period = c[0], c[1], c[5]
    if reset == SUBTRACT:
        for k in range(u.shape[0]):
            v[k] = u[k] - thr[k] * s[k]
    elif reset == ZERO:
        for k in range(u.shape[0]):
            v[k] = u[k] * (one - s[k])
    else:
        for k in range(u.shape[0]):
            v[k] = u[k]
    if refractory >= 0:
        for k in range(u.shape[0]):
            left = r[k] - one
            r[k] = period if s[k] > zero else (left if left > zero else zero)


@njit(parallel=True, cache=True, error_model="numpy")
def _forward(x, noise, i, v, r, alpha, beta, thr, kappa, spikes, record, u_w, act_w, c, reset, refractory,
             kind, keep, tile):  # pragma: no cover - compiled
    """Run all steps; ``i, v, r`` hold the initial state and are overwritten with the final one.
    With ``keep`` the spikes are also written to ``record`` as bytes (for the backward).
    ``u_w, act_w: [workers, tile]`` are scratch."""
    steps, batch, n = x.shape
    workers = u_w.shape[0]
    per_row = (n + tile - 1) // tile
    jobs = batch * per_row
    for w in prange(workers):
        for job in range(w * jobs // workers, (w + 1) * jobs // workers):
            b = job // per_row
            n0 = (job % per_row) * tile
            n1 = min(n0 + tile, n)
            m = n1 - n0
            u = u_w[w, :m]
            act = act_w[w, :m]
            ib = i[b, n0:n1]
            vb = v[b, n0:n1]
            rb = r[b, n0:n1]
            al = alpha[b, n0:n1]
            be = beta[b, n0:n1]
            th = thr[b, n0:n1]
            ka = kappa[b, n0:n1]
            for t in range(steps):
                s = spikes[t, b, n0:n1]
                _integrate(x[t, b, n0:n1], ib, vb, rb, al, be, u, act, refractory, c)
                if kind == ESCAPE:
                    _fire(u, th, ka, noise[t, b, n0:n1], act, s, kind, refractory, c)
                else:
                    _fire(u, th, ka, u, act, s, kind, refractory, c)
                if keep:
                    for k in range(m):
                        record[t, b, n0 + k] = 1 if s[k] > 0 else 0
                _reset(u, s, th, vb, rb, reset, refractory, c)
    return 0


@njit(parallel=True, cache=True, error_model="numpy")
def _backward(grad_s, grad_x, gi, gv, x, record, i0, v0, r0, alpha, beta, thr, kappa,
              g_alpha, g_beta, g_thr, g_kappa, u_tr, act_tr, v_tr, i_tr, i_w, v_w, r_w, s_w, z_w, h_w, g_w,
              c, reset, refractory, kind, keep_i, keep_v, broadcast, tile):  # pragma: no cover - compiled
    """BPTT through all steps. ``gi, gv`` enter as the gradients of the final state and leave as
    those of the initial state; ``grad_x`` is written and the per-(sample, neuron) parameter
    gradients ``g_*`` (zero on entry) accumulated. Scratch: the traces ``u_tr`` (and
    ``act_tr``/``v_tr``/``i_tr`` when refractory/``keep_v``/``keep_i``) ``[workers, T, tile]``,
    vectors ``*_w: [workers, tile]``. With ``broadcast``, ``grad_s`` is one value ``[1, 1, 1]``
    standing for all steps and neurons (the gradient of ``spikes.sum()``), never materialized."""
    steps, batch, n = x.shape
    workers = u_tr.shape[0]
    per_row = (n + tile - 1) // tile
    jobs = batch * per_row
    zero, one = c[0], c[1]
    c_sub = one if reset == SUBTRACT else zero
    c_zero = one if reset == ZERO else zero
    for w in prange(workers):
        for job in range(w * jobs // workers, (w + 1) * jobs // workers):
            b = job // per_row
            n0 = (job % per_row) * tile
            n1 = min(n0 + tile, n)
            m = n1 - n0
            al = alpha[b, n0:n1]
            be = beta[b, n0:n1]
            th = thr[b, n0:n1]
            ka = kappa[b, n0:n1]
            i = i_w[w, :m]
            v = v_w[w, :m]
            r = r_w[w, :m]
            s = s_w[w, :m]
            z = z_w[w, :m]
            h = h_w[w, :m]
            g_fill = g_w[w, :m]
            if broadcast:
                g_fill[:] = grad_s[0, 0, 0]
            # Recompute the forward of this tile (same step functions, same rounding).
            i[:] = i0[b, n0:n1]
            v[:] = v0[b, n0:n1]
            r[:] = r0[b, n0:n1]
            for t in range(steps):
                if keep_v:
                    v_tr[w, t, :m] = v
                if keep_i:
                    i_tr[w, t, :m] = i
                u = u_tr[w, t, :m]
                a_t = act_tr[w, t if refractory >= 0 else 0, :m]
                _integrate(x[t, b, n0:n1], i, v, r, al, be, u, a_t, refractory, c)
                if kind == ESCAPE:
                    for k in range(m):
                        s[k] = one if record[t, b, n0 + k] else zero
                else:
                    _fire(u, th, ka, u, a_t, s, kind, refractory, c)
                _reset(u, s, th, v, r, reset, refractory, c)
            # Reverse recursion (README.md): gv, gi carry dL/dv[t], dL/di[t].
            gvb = gv[b, n0:n1]
            gib = gi[b, n0:n1]
            acc_a = g_alpha[b, n0:n1]
            acc_b = g_beta[b, n0:n1]
            acc_t = g_thr[b, n0:n1]
            acc_k = g_kappa[b, n0:n1]
            for t in range(steps - 1, -1, -1):
                u = u_tr[w, t, :m]
                a_t = act_tr[w, t if refractory >= 0 else 0, :m]
                v_p = v_tr[w, t if keep_v else 0, :m]
                i_p = i_tr[w, t if keep_i else 0, :m]
                for k in range(m):
                    z[k] = u[k] - th[k]
                if kind == ESCAPE:
                    for k in range(m):
                        s[k] = one if record[t, b, n0 + k] else zero
                        p = one / (one + np.exp(-(z[k] / ka[k])))
                        h[k] = p * (one - p) / ka[k]
                else:
                    _fire(u, th, ka, u, a_t, s, kind, refractory, c)
                    surrogate_derivative(z, h, kind, c)
                gs_t = g_fill if broadcast else grad_s[t, b, n0:n1]
                gx_t = grad_x[t, b, n0:n1]
                for k in range(m):
                    hk = h[k] * a_t[k]
                    gsk = gs_t[k] - gvb[k] * (th[k] * c_sub + u[k] * c_zero)
                    gu = gvb[k] * (one - s[k] * c_zero) + gsk * hk
                    acc_t[k] += -(gsk * hk) - gvb[k] * s[k] * c_sub
                    acc_k[k] += -(gsk * hk) * z[k] / ka[k]
                    gc = gu * a_t[k]
                    gtot = gib[k] + gc
                    acc_a[k] += gtot * i_p[k]
                    acc_b[k] += gc * v_p[k]
                    gx_t[k] = gtot
                    gib[k] = al[k] * gtot
                    gvb[k] = gc * be[k] + gu * (one - a_t[k])
    return 0


def _tile(n: int, steps: int, traces: int, itemsize: int, workers: int, batch: int) -> int:
    """Neurons per tile: few enough that the backward's ``traces`` stay in cache, a multiple of
    16 (one AVX-512 register of float32), and small enough that every worker gets ~4 tiles."""
    fit = _SCRATCH_BYTES // max(1, steps * traces * itemsize)
    tile = max(16, min(_MAX_TILE, fit) // 16 * 16)
    pieces = -(-4 * workers // batch)
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
    scratch = [_np(x.new_empty((workers, tile))) for _ in range(2)]
    _forward(_np(x), _np(x if noise is None else noise), _np(i), _np(v), _np(r), _np(alpha), _np(beta),
             _np(thr), _np(kappa), _np(spikes), _np(record), *scratch, c, cfg.reset, cfg.refractory, cfg.kind,
             keep_record, tile)
    return spikes, i, v, r, (record if keep_record else record[:0])


def backward(
    grad_s: Tensor, grad_iT: Tensor, grad_vT: Tensor, x: Tensor, record: Tensor,
    i0: Tensor, v0: Tensor, r0: Tensor, alpha: Tensor, beta: Tensor, thr: Tensor, kappa: Tensor,
    cfg: Config, keep_i: bool, keep_v: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Gradients ``(x, i0, v0, alpha, beta, thr, kappa)``; the parameter gradients are per
    (sample, neuron), ``[B, N]`` (autograd reduces them to the parameters' shapes)."""
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
    # Traces that are not needed are one row of the neutral value (1 for the mask, else 0).
    u_tr = x.new_empty((workers, steps, tile))
    act_tr = x.new_empty((workers, steps, tile)) if counting else x.new_ones((workers, 1, tile))
    v_tr = x.new_empty((workers, steps, tile)) if keep_v else x.new_zeros((workers, 1, tile))
    i_tr = x.new_empty((workers, steps, tile)) if keep_i else x.new_zeros((workers, 1, tile))
    vectors = [_np(x.new_empty((workers, tile))) for _ in range(7)]
    broadcast = all(st == 0 for st in grad_s.stride())
    grad_s = grad_s[:1, :1, :1].contiguous() if broadcast else grad_s.contiguous()
    _backward(_np(grad_s), _np(grad_x), _np(gi), _np(gv), _np(x), _np(rec), _np(i0), _np(v0), _np(r0),
              _np(alpha), _np(beta), _np(thr), _np(kappa), *(_np(t) for t in g),
              *(_np(t) for t in (u_tr, act_tr, v_tr, i_tr)),
              *vectors, c, cfg.reset, cfg.refractory, cfg.kind, keep_i, keep_v, broadcast, tile)
    return grad_x, gi, gv, *g
