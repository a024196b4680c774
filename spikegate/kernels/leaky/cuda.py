r"""Triton engine of the leaky family: the same forward and recomputing backward as :mod:`.cpu`,
one program per block of ``BLOCK`` neurons (of the flattened ``B * N``), looping over time.

Layout as in :mod:`.cpu`: inputs ``[T, B, N]``, state and parameters ``[B, N]``, all contiguous,
so neuron ``m`` of step ``t`` sits at ``t * M + m`` with ``M = B * N``. The configuration (reset,
surrogate kind, refractory or not, what to keep) is ``tl.constexpr``, so every variant compiles
to straight-line code. Kernels launch with ``enable_fp_fusion=False``: ``beta * v + i`` rounds
twice, as in PyTorch's eager step function, and the backward's recomputation reproduces the
forward's state bit for bit.

The backward recomputes the forward once, writing the membrane trace (and the refractory mask,
previous ``v`` and ``i`` when needed) to a scratch buffer that lives only during the backward,
then runs the reverse recursion of ``README.md``. Between forward and backward only ``x`` (the
caller's tensor) and, for the meta-neuron, one byte of spike per neuron-step are kept.

Runs on CUDA tensors, or on the CPU under ``TRITON_INTERPRET=1`` (how CI tests it).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

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

BLOCK = 128


@triton.jit
def surrogate_derivative(z, c_ptr, KIND: tl.constexpr):
    """``g'(z)`` of surrogate ``KIND`` (a code of :mod:`.spec`); ``c_ptr`` points at
    :func:`~spikegate.kernels.leaky.spec.surrogate_constants` in the data dtype. Mirrors
    :func:`spikegate.surrogate.derivative`, the one definition it is tested against."""
    a = tl.load(c_ptr + 2)
    if KIND == ATAN:
        w = tl.load(c_ptr + 4) * z
        d = tl.load(c_ptr + 3) / (1.0 + w * w)
    elif KIND == FAST_SIGMOID:
        q = 1.0 + a * tl.abs(z)
        d = 1.0 / (q * q)
    elif KIND == SIGMOID:
        s = 1.0 / (1.0 + tl.exp(-(a * z)))
        d = a * s * (1.0 - s)
    elif KIND == TRIANGLE:
        d = tl.maximum(1.0 - tl.abs(z) / a, 0.0) / a
    elif KIND == RECTANGULAR:
        d = tl.where(tl.abs(z) < tl.load(c_ptr + 3), 1.0, 0.0) / a
    else:
        d = tl.full(z.shape, 1.0, z.dtype)
    return d


@triton.jit
def _integrate(x, i, v, r, alpha, beta, COUNTING: tl.constexpr):
    """``i = alpha i + x``; ``u = beta v + i`` (``u = v`` while refractory). Returns ``(i, u, active)``."""
    i = alpha * i + x
    u = beta * v + i
    active = r <= 0.0
    if COUNTING:
        u = tl.where(active, u, v)
    return i, u, active


@triton.jit
def _fire(u, thr, active, COUNTING: tl.constexpr):
    """``s = H(u - thr)``, zero while refractory."""
    s = tl.where(u - thr >= 0.0, 1.0, 0.0).to(u.dtype)
    if COUNTING:
        s = s * tl.where(active, 1.0, 0.0).to(u.dtype)
    return s


@triton.jit
def _reset(u, s, thr, r, period, RESET: tl.constexpr, COUNTING: tl.constexpr):
    if RESET == SUBTRACT:
        v = u - thr * s
    elif RESET == ZERO:
        v = u * (1.0 - s)
    else:
        v = u
    if COUNTING:
        r = tl.where(s > 0.0, period, tl.maximum(r - 1.0, 0.0))
    return v, r


@triton.jit
def _forward_kernel(x_ptr, noise_ptr, i_ptr, v_ptr, r_ptr, alpha_ptr, beta_ptr, thr_ptr, kappa_ptr,
                    s_ptr, rec_ptr, c_ptr, steps, M,
                    RESET: tl.constexpr, COUNTING: tl.constexpr, KIND: tl.constexpr, KEEP: tl.constexpr,
                    BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < M
    i = tl.load(i_ptr + offs, mask=mask, other=0.0)
    v = tl.load(v_ptr + offs, mask=mask, other=0.0)
    r = tl.load(r_ptr + offs, mask=mask, other=0.0)
    alpha = tl.load(alpha_ptr + offs, mask=mask, other=0.0)
    beta = tl.load(beta_ptr + offs, mask=mask, other=0.0)
    thr = tl.load(thr_ptr + offs, mask=mask, other=1.0)
    kappa = tl.load(kappa_ptr + offs, mask=mask, other=1.0)
    period = tl.load(c_ptr + 5)
    xp = x_ptr + offs
    sp = s_ptr + offs
    for t in range(steps):
        x = tl.load(xp, mask=mask, other=0.0)
        i, u, active = _integrate(x, i, v, r, alpha, beta, COUNTING)
        if KIND == ESCAPE:
            p = 1.0 / (1.0 + tl.exp(-((u - thr) / kappa)))
            noise = tl.load(noise_ptr + t * M + offs, mask=mask, other=1.0)
            s = tl.where(noise < p, 1.0, 0.0).to(u.dtype)
        else:
            s = _fire(u, thr, active, COUNTING)
        tl.store(sp, s, mask=mask)
        if KEEP:
            tl.store(rec_ptr + t * M + offs, s.to(tl.uint8), mask=mask)
        v, r = _reset(u, s, thr, r, period, RESET, COUNTING)
        xp += M
        sp += M
    tl.store(i_ptr + offs, i, mask=mask)
    tl.store(v_ptr + offs, v, mask=mask)
    tl.store(r_ptr + offs, r, mask=mask)


@triton.jit
def _backward_kernel(gs_ptr, gx_ptr, gi_ptr, gv_ptr, x_ptr, rec_ptr, i0_ptr, v0_ptr, r0_ptr,
                     alpha_ptr, beta_ptr, thr_ptr, kappa_ptr, ga_ptr, gb_ptr, gt_ptr, gk_ptr,
                     u_tr, a_tr, v_tr, i_tr, c_ptr, steps, M,
                     RESET: tl.constexpr, COUNTING: tl.constexpr, KIND: tl.constexpr,
                     KEEP_I: tl.constexpr, KEEP_V: tl.constexpr, PARAMS: tl.constexpr, BROADCAST: tl.constexpr,
                     BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < M
    alpha = tl.load(alpha_ptr + offs, mask=mask, other=0.0)
    beta = tl.load(beta_ptr + offs, mask=mask, other=0.0)
    thr = tl.load(thr_ptr + offs, mask=mask, other=1.0)
    kappa = tl.load(kappa_ptr + offs, mask=mask, other=1.0)
    period = tl.load(c_ptr + 5)
    i = tl.load(i0_ptr + offs, mask=mask, other=0.0)
    v = tl.load(v0_ptr + offs, mask=mask, other=0.0)
    r = tl.load(r0_ptr + offs, mask=mask, other=0.0)
    # Recompute the forward (same step code, same rounding), keeping the traces.
    for t in range(steps):
        at = t * M + offs
        if KEEP_V:
            tl.store(v_tr + at, v, mask=mask)
        if KEEP_I:
            tl.store(i_tr + at, i, mask=mask)
        x = tl.load(x_ptr + at, mask=mask, other=0.0)
        i, u, active = _integrate(x, i, v, r, alpha, beta, COUNTING)
        if KIND == ESCAPE:
            s = tl.load(rec_ptr + at, mask=mask, other=0).to(u.dtype)
        else:
            s = _fire(u, thr, active, COUNTING)
        tl.store(u_tr + at, u, mask=mask)
        if COUNTING:
            tl.store(a_tr + at, active.to(tl.int8), mask=mask)
        v, r = _reset(u, s, thr, r, period, RESET, COUNTING)
    # Reverse recursion (README.md): gv, gi carry dL/dv[t], dL/di[t].
    gv = tl.load(gv_ptr + offs, mask=mask, other=0.0)
    gi = tl.load(gi_ptr + offs, mask=mask, other=0.0)
    acc_a = tl.zeros_like(gv)
    acc_b = tl.zeros_like(gv)
    acc_t = tl.zeros_like(gv)
    acc_k = tl.zeros_like(gv)
    if BROADCAST:
        g_all = tl.load(gs_ptr)
    for step in range(steps):
        at = (steps - 1 - step) * M + offs
        u = tl.load(u_tr + at, mask=mask, other=0.0)
        z = u - thr
        if COUNTING:
            act = tl.load(a_tr + at, mask=mask, other=0).to(u.dtype)
        else:
            act = tl.full(u.shape, 1.0, u.dtype)
        if KIND == ESCAPE:
            s = tl.load(rec_ptr + at, mask=mask, other=0).to(u.dtype)
            p = 1.0 / (1.0 + tl.exp(-(z / kappa)))
            h = p * (1.0 - p) / kappa
        else:
            s = _fire(u, thr, act > 0.0, COUNTING)
            h = surrogate_derivative(z, c_ptr, KIND) * act
        if BROADCAST:
            gs = g_all
        else:
            gs = tl.load(gs_ptr + at, mask=mask, other=0.0)
        if RESET == SUBTRACT:
            gs = gs - gv * thr
            gu = gv + gs * h
            if PARAMS:
                acc_t += -(gs * h) - gv * s
        elif RESET == ZERO:
            gs = gs - gv * u
            gu = gv * (1.0 - s) + gs * h
            if PARAMS:
                acc_t += -(gs * h)
        else:
            gu = gv + gs * h
            if PARAMS:
                acc_t += -(gs * h)
        if KIND == ESCAPE and PARAMS:
            acc_k += -(gs * h) * z / kappa
        gc = gu * act
        gtot = gi + gc
        if KEEP_I:
            acc_a += gtot * tl.load(i_tr + at, mask=mask, other=0.0)
        if KEEP_V:
            acc_b += gc * tl.load(v_tr + at, mask=mask, other=0.0)
        tl.store(gx_ptr + at, gtot, mask=mask)
        gi = alpha * gtot
        gv = gc * beta + gu * (1.0 - act)
    tl.store(gi_ptr + offs, gi, mask=mask)
    tl.store(gv_ptr + offs, gv, mask=mask)
    tl.store(ga_ptr + offs, acc_a, mask=mask)
    tl.store(gb_ptr + offs, acc_b, mask=mask)
    tl.store(gt_ptr + offs, acc_t, mask=mask)
    tl.store(gk_ptr + offs, acc_k, mask=mask)


def _check_device(x: Tensor) -> None:
    if x.device.type != "cuda" and not triton.knobs.runtime.interpret:
        raise RuntimeError(
            "the Triton engine runs on CUDA tensors (or on the CPU with TRITON_INTERPRET=1 set "
            f"before spikegate.kernels.leaky.cuda is imported); got a {x.device.type} tensor"
        )


def _constants(cfg: Config, x: Tensor) -> Tensor:
    c = surrogate_constants(cfg.kind, cfg.sharpness, cfg.refractory, torch.empty((), dtype=x.dtype).numpy().dtype)
    return torch.from_numpy(c).to(x.device)


def forward(
    x: Tensor, noise: Tensor | None, i0: Tensor, v0: Tensor, r0: Tensor,
    alpha: Tensor, beta: Tensor, thr: Tensor, kappa: Tensor, cfg: Config, keep_record: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """As :func:`spikegate.kernels.leaky.cpu.forward`."""
    _check_device(x)
    steps, batch, n = x.shape
    m = batch * n
    spikes = torch.empty_like(x)
    i, v, r = i0.clone(), v0.clone(), r0.clone()
    record = torch.empty(x.shape if keep_record else (0, 1, 1), dtype=torch.uint8, device=x.device)
    grid = (triton.cdiv(m, BLOCK),)
    _forward_kernel[grid](
        x, x if noise is None else noise, i, v, r, alpha, beta, thr, kappa, spikes,
        record if keep_record else spikes, _constants(cfg, x), steps, m,
        RESET=cfg.reset, COUNTING=cfg.refractory >= 0, KIND=cfg.kind, KEEP=keep_record, BLOCK=BLOCK,
        enable_fp_fusion=False,
    )
    return spikes, i, v, r, record


def backward(
    grad_s: Tensor, grad_iT: Tensor, grad_vT: Tensor, x: Tensor, record: Tensor,
    i0: Tensor, v0: Tensor, r0: Tensor, alpha: Tensor, beta: Tensor, thr: Tensor, kappa: Tensor,
    cfg: Config, keep_i: bool, keep_v: bool, params: bool = True,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """As :func:`spikegate.kernels.leaky.cpu.backward`."""
    _check_device(x)
    steps, batch, n = x.shape
    m = batch * n
    counting = cfg.refractory >= 0
    broadcast = all(st == 0 for st in grad_s.stride())
    grad_s = grad_s[:1, :1, :1].contiguous() if broadcast else grad_s.contiguous()
    grad_x = torch.empty_like(x)
    gi, gv = grad_iT.clone(), grad_vT.clone()
    g = [torch.empty_like(v0) for _ in range(4)]
    u_tr = torch.empty_like(x)
    a_tr = torch.empty(x.shape if counting else (1,), dtype=torch.int8, device=x.device)
    v_tr = torch.empty_like(x) if keep_v else u_tr
    i_tr = torch.empty_like(x) if keep_i else u_tr
    grid = (triton.cdiv(m, BLOCK),)
    _backward_kernel[grid](
        grad_s, grad_x, gi, gv, x, record if record.numel() else x, i0, v0, r0, alpha, beta, thr, kappa,
        *g, u_tr, a_tr, v_tr, i_tr, _constants(cfg, x), steps, m,
        RESET=cfg.reset, COUNTING=counting, KIND=cfg.kind, KEEP_I=keep_i, KEEP_V=keep_v, PARAMS=params,
        BROADCAST=broadcast, BLOCK=BLOCK, enable_fp_fusion=False,
    )
    return grad_x, gi, gv, *g
