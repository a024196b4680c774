r"""The fused leaky engine as PyTorch custom operators, with autograd and fake (meta) kernels.

``spikegate::leaky_forward`` and ``spikegate::leaky_backward`` are registered with
:mod:`torch.library`, so autograd, ``torch.compile`` and ``torch.export`` see one opaque node per
layer instead of a Python loop. The ``engine`` argument picks the implementation: ``"numba"``
(:mod:`.cpu`) or ``"triton"`` (:mod:`.cuda`); each is imported on first use, so importing
spikegate never loads numba or Triton.

Shapes: ``x``, ``noise: [T, B, N]``; state ``i0, v0, r0: [B, N]``; parameters
``alpha, beta, thr, kappa: [B, N]`` (already broadcast by :func:`.spec.per_neuron`).
"""

from __future__ import annotations

from types import ModuleType
from typing import Optional

import torch
from torch import Tensor

from spikegate.kernels.leaky.spec import ESCAPE, Config, flat_state, per_neuron

ENGINES: tuple[str, ...] = ("numba", "triton")


def _engine(name: str) -> ModuleType:
    if name == "numba":
        from spikegate.kernels.leaky import cpu

        return cpu
    if name == "triton":
        from spikegate.kernels.leaky import cuda

        return cuda
    raise ValueError(f"engine must be one of {', '.join(ENGINES)}; got {name!r}")


@torch.library.custom_op("spikegate::leaky_forward", mutates_args=())
def leaky_forward(
    x: Tensor,
    noise: Optional[Tensor],
    i0: Tensor,
    v0: Tensor,
    r0: Tensor,
    alpha: Tensor,
    beta: Tensor,
    thr: Tensor,
    kappa: Tensor,
    reset: int,
    refractory: int,
    kind: int,
    sharpness: float,
    keep_record: bool,
    engine: str,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Returns ``(spikes, i_T, v_T, r_T, record)``; ``record`` holds the spikes as uint8 when
    ``keep_record`` (the stochastic neuron's backward needs them), else it is empty."""
    cfg = Config(reset, refractory, kind, sharpness)
    return _engine(engine).forward(x, noise, i0, v0, r0, alpha, beta, thr, kappa, cfg, keep_record)


@leaky_forward.register_fake
def _forward_fake(x, noise, i0, v0, r0, alpha, beta, thr, kappa, reset, refractory, kind, sharpness, keep_record, engine):
    record = x.new_empty(x.shape if keep_record else (0, 1, 1), dtype=torch.uint8)
    return torch.empty_like(x), torch.empty_like(i0), torch.empty_like(v0), torch.empty_like(r0), record


@torch.library.custom_op("spikegate::leaky_backward", mutates_args=())
def leaky_backward(
    grad_s: Tensor,
    grad_iT: Tensor,
    grad_vT: Tensor,
    x: Tensor,
    record: Tensor,
    i0: Tensor,
    v0: Tensor,
    r0: Tensor,
    alpha: Tensor,
    beta: Tensor,
    thr: Tensor,
    kappa: Tensor,
    reset: int,
    refractory: int,
    kind: int,
    sharpness: float,
    keep_i: bool,
    keep_v: bool,
    params: bool,
    engine: str,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Gradients ``(x, i0, v0, alpha, beta, thr, kappa)``, parameters per (sample, neuron);
    ``keep_i``/``keep_v``: alpha/beta need them; ``params``: any parameter needs a gradient."""
    cfg = Config(reset, refractory, kind, sharpness)
    return _engine(engine).backward(
        grad_s, grad_iT, grad_vT, x, record, i0, v0, r0, alpha, beta, thr, kappa, cfg, keep_i, keep_v, params
    )


@leaky_backward.register_fake
def _backward_fake(grad_s, grad_iT, grad_vT, x, record, i0, v0, r0, alpha, beta, thr, kappa, *config):
    return (torch.empty_like(x), *(torch.empty_like(v0) for _ in range(6)))


# Input positions in leaky_forward, for ctx.needs_input_grad.
_X, _NOISE, _I0, _V0, _R0, _ALPHA, _BETA, _THR, _KAPPA = range(9)


def _setup_context(ctx, inputs, output) -> None:
    x, _noise, i0, v0, r0, alpha, beta, thr, kappa, reset, refractory, kind, sharpness, _keep, engine = inputs
    record = output[4]
    ctx.save_for_backward(x, record, i0, v0, r0, alpha, beta, thr, kappa)
    ctx.config = (reset, refractory, kind, sharpness)
    ctx.engine = engine
    ctx.mark_non_differentiable(output[3], record)
    ctx.set_materialize_grads(False)


def _backward(ctx, grad_s, grad_i, grad_v, _grad_r, _grad_record):
    x, record, i0, v0, r0, alpha, beta, thr, kappa = ctx.saved_tensors
    need = ctx.needs_input_grad
    # Missing gradients are zeros; a broadcast zero costs no memory.
    if grad_s is None:
        grad_s = x.new_zeros(()).expand(x.shape)
    if grad_i is None:
        grad_i = torch.zeros_like(i0)
    if grad_v is None:
        grad_v = torch.zeros_like(v0)
    gx, gi, gv, ga, gb, gt, gk = torch.ops.spikegate.leaky_backward(
        grad_s, grad_i, grad_v, x, record, i0, v0, r0, alpha, beta, thr, kappa,
        *ctx.config, bool(need[_ALPHA]), bool(need[_BETA]),
        any(need[k] for k in (_ALPHA, _BETA, _THR, _KAPPA)), ctx.engine,
    )
    return (
        gx if need[_X] else None, None,
        gi if need[_I0] else None, gv if need[_V0] else None, None,
        ga if need[_ALPHA] else None, gb if need[_BETA] else None,
        gt if need[_THR] else None, gk if need[_KAPPA] else None,
        None, None, None, None, None, None,
    )


leaky_forward.register_autograd(_backward, setup_context=_setup_context)


def leaky(
    x: Tensor,
    noise: Tensor | None,
    i0: Tensor,
    v0: Tensor,
    r0: Tensor,
    alpha: Tensor,
    beta: Tensor,
    thr: Tensor,
    kappa: Tensor,
    cfg: Config,
    engine: str,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Run the fused neuron over ``x: [T, B, N]``; returns ``(spikes, i_T, v_T, r_T)``.

    Differentiable with respect to ``x``, ``i0``, ``v0`` and the four parameters; the
    refractory counter and the noise are not differentiable.
    """
    tensors = (x, i0, v0, alpha, beta, thr, kappa)
    grad = torch.is_grad_enabled() and any(t.requires_grad for t in tensors)
    if not grad and not torch.compiler.is_compiling():
        # inference: the engine itself; the registered op's dispatch (autograd, fake-tensor and
        # dynamo wrappers) costs more than the whole run of a small layer
        spikes, i, v, r, _ = _engine(engine).forward(x, noise, i0, v0, r0, alpha, beta, thr, kappa, cfg, False)
        return spikes, i, v, r
    keep_record = grad and cfg.kind == ESCAPE
    spikes, i, v, r, _ = leaky_forward(
        x, noise, i0, v0, r0, alpha, beta, thr, kappa, cfg.reset, cfg.refractory, cfg.kind,
        cfg.sharpness, keep_record, engine,
    )
    return spikes, i, v, r


def run_neuron(
    x: Tensor,
    i0: Tensor | None,
    v0: Tensor,
    refrac: Tensor | None,
    alpha: Tensor | float | None,
    beta: Tensor | float,
    thr: Tensor | float,
    kappa: Tensor | float | None,
    noise: Tensor | None,
    cfg: Config,
    engine: str,
) -> tuple[Tensor, Tensor | None, Tensor, Tensor | None]:
    """Run one neuron op of the family on its own shapes: ``x: [T, B, *features]``, state
    ``[B, *features]`` (``i0 = None``: no synaptic current, i.e. LIF; ``refrac = None``: no
    refractory counter), parameters that broadcast to the state. Returns
    ``(spikes [T, B, *features], i_T | None, v_T, refrac_T | None)``.
    """
    steps, batch = x.shape[:2]
    shape = tuple(x.shape[1:])
    flat = x.reshape(steps, batch, -1).contiguous()
    zeros = flat.new_zeros(flat.shape[1:])
    spikes, i, v, r = leaky(
        flat,
        None if noise is None else noise.to(flat.dtype).reshape(flat.shape).contiguous(),
        zeros if i0 is None else flat_state(i0, batch, flat),
        flat_state(v0, batch, flat),
        zeros if refrac is None else flat_state(refrac, batch, flat),
        zeros if alpha is None else per_neuron(alpha, shape, flat, "alpha"),
        per_neuron(beta, shape, flat, "beta"),
        per_neuron(thr, shape, flat, "threshold"),
        torch.ones_like(zeros) if kappa is None else per_neuron(kappa, shape, flat, "kappa"),
        cfg,
        engine,
    )
    return (
        spikes.reshape(x.shape),
        None if i0 is None else i.reshape(shape),
        v.reshape(shape),
        None if refrac is None else r.reshape(shape).to(refrac.dtype),
    )
