"""Shared by the benchmarks: the peers' LIF layers written the same way, timing by medians of
interleaved repeats, peak memory, a streaming-copy floor, and the table printer.

Every implementation runs the same neuron where its library allows: a discrete LIF with decay
0.9, threshold 1, reset by subtraction and an arctan-style surrogate (Norse has no arctan
surrogate and keeps its SuperSpike default; its continuous-time LIF with dt * tau_mem_inv = 0.1
is the same recursion with the input scaled by 0.1, so its threshold is 0.1).
"""

from __future__ import annotations

import gc
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BETA, THRESHOLD = 0.9, 1.0


def percent_mean_sd(values: list[float]) -> str:
    """Fractions over seeds as ``mean ± sd`` in percent (``-`` for none)."""
    if not values:
        return "-"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.mean(values):5.1f} ± {100 * sd:4.1f}"
PEERS = ("snntorch", "norse", "spikingjelly")
IMPLEMENTATIONS = ("spikegate", *PEERS, "torch loop")


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _allocated(device: str) -> int:
    if device == "cuda":
        torch.cuda.synchronize()
        return torch.cuda.memory_allocated()
    return _status("VmRSS")


def peak_memory(forward: Callable[[], Tensor], backward: Callable[[Tensor], object], device: str) -> tuple[float, float]:
    """``(peak, kept)`` in bytes above what is allocated at the start: the peak over forward and
    backward, and what the forward keeps for the backward (allocated after the forward, less
    its output)."""
    gc.collect()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    else:
        Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark to the current RSS
    base = _allocated(device)
    out = forward()
    kept = _allocated(device) - base - out.numel() * out.element_size()
    backward(out)
    peak = torch.cuda.max_memory_allocated() if device == "cuda" else _status("VmHWM")
    # on the CPU, resident memory is the measure: pages the forward freed and its output reused
    # can leave the growth a little below the output's size; nothing kept reads as 0, not < 0
    return peak - base, max(kept, 0)


def memory_in_subprocess(script: str, args: list[str]) -> tuple[float, float]:
    """Run ``script --memory ...`` in a fresh process and read the ``peak kept`` it prints last.

    The process warms up on a tiny problem (code, caches), then measures the first full-size
    iteration: no block of that size was ever freed, so resident memory grows with every live
    byte (glibc maps large blocks afresh and unmaps them on free)."""
    out = subprocess.run([sys.executable, script, *args], check=True, capture_output=True, text=True).stdout
    peak, kept = out.strip().splitlines()[-1].split()
    return float(peak), float(kept)


def timed(fns: dict[str, Callable[[], object]], repeats: int, device: str) -> dict[str, float]:
    """Median seconds per call of each function; calls are interleaved round by round so that
    load from other processes hits every implementation alike."""
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    for fn in fns.values():  # warm-up (JIT, caches, allocator)
        fn()
        fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            sync()
            start = time.perf_counter()
            fn()
            sync()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(s) for name, s in samples.items()}


def copy_floor(nbytes: int, device: str, repeats: int) -> float:
    """Median seconds to stream ``nbytes`` through memory: a copy reading ``nbytes/2`` and
    writing ``nbytes/2``."""
    n = max(1, nbytes // 8)
    src = torch.ones(n, device=device)
    dst = torch.empty_like(src)
    return timed({"copy": lambda: dst.copy_(src)}, repeats, device)["copy"]


def machine(device: str) -> str:
    load = os.getloadavg()
    cpu = platform.processor() or platform.machine()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    text = f"{os.cpu_count()} cores ({cpu}), load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; torch {torch.__version__}"
    if device == "cuda":
        text += f"; GPU {torch.cuda.get_device_name()}"
    return text


# ------------------------------------------------------------------------------------------
# One LIF layer per implementation: run(current [T, B, N]) -> spikes [T, B, N]


class _ATanSpike(torch.autograd.Function):
    """Heaviside forward, arctan surrogate backward (alpha = 2), for the plain PyTorch loop."""

    @staticmethod
    def forward(ctx, x):  # type: ignore[override]
        ctx.save_for_backward(x)
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad / (1 + (math.pi * x) ** 2)


def lif_layer(impl: str, n: int, device: str) -> nn.Module:
    """A module ``current [T, B, n] -> spikes [T, B, n]`` of the given implementation."""
    if impl == "spikegate":
        import spikegate

        inner = spikegate.LIF(beta=BETA, threshold=THRESHOLD, reset="subtract", surrogate="atan")
        return _First(inner).to(device)
    if impl == "snntorch":
        import snntorch

        return _Loop(snntorch.Leaky(beta=BETA, threshold=THRESHOLD, reset_mechanism="subtract", reset_delay=False),
                     lambda cell, x, s: cell(x, s if s is not None else torch.zeros_like(x))).to(device)
    if impl == "norse":
        from norse.torch import LIFBoxCell, LIFBoxParameters
        from norse.torch.functional.reset import reset_subtract

        p = LIFBoxParameters(v_th=torch.tensor(THRESHOLD * (1 - BETA)), reset_method=reset_subtract)
        return _Loop(LIFBoxCell(p, dt=0.001), lambda cell, x, s: cell(x, s)).to(device)
    if impl == "spikingjelly":
        from spikingjelly.activation_based import neuron, surrogate

        node = neuron.LIFNode(tau=1 / (1 - BETA), decay_input=False, v_threshold=THRESHOLD, v_reset=None,
                              surrogate_function=surrogate.ATan(), step_mode="m")
        return _Reset(node).to(device)
    if impl == "torch loop":
        return _TorchLoop()
    raise ValueError(f"unknown implementation {impl!r}")


class _First(nn.Module):
    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: Tensor) -> Tensor:
        return self.inner(x)[0]


class _Loop(nn.Module):
    """A one-step cell looped over time (snnTorch, Norse)."""

    def __init__(self, cell: nn.Module, step: Callable) -> None:
        super().__init__()
        self.cell, self.step = cell, step

    def forward(self, x: Tensor) -> Tensor:
        # unbind, not x[t]: the backward of T selects would zero-fill T full-size gradients.
        state, out = None, []
        for x_t in x.unbind(0):
            spikes, state = self.step(self.cell, x_t, state)
            out.append(spikes)
        return torch.stack(out)


class _Reset(nn.Module):
    """SpikingJelly keeps its state inside the node: reset it before every sequence."""

    def __init__(self, node: nn.Module) -> None:
        super().__init__()
        self.node = node

    def forward(self, x: Tensor) -> Tensor:
        from spikingjelly.activation_based import functional

        functional.reset_net(self.node)
        return self.node(x)


class _TorchLoop(nn.Module):
    """What one writes without a library: the same LIF as a loop of PyTorch ops."""

    def forward(self, x: Tensor) -> Tensor:
        v = torch.zeros_like(x[0])
        out = []
        for x_t in x.unbind(0):
            u = BETA * v + x_t
            s = _ATanSpike.apply(u - THRESHOLD)
            v = u - THRESHOLD * s
            out.append(s)
        return torch.stack(out)


def available(impls: tuple[str, ...]) -> tuple[str, ...]:
    """The implementations whose library imports here (a missing peer is reported, not fatal)."""
    ok = []
    for impl in impls:
        try:
            lif_layer(impl, 4, "cpu")
            ok.append(impl)
        except ImportError as exc:
            print(f"# {impl} skipped: {exc}")
    return tuple(ok)


def versions() -> str:
    import importlib.metadata as md

    parts = []
    for dist in ("spikegate", "snntorch", "norse", "spikingjelly", "numba", "triton"):
        try:
            parts.append(f"{dist} {md.version(dist)}")
        except md.PackageNotFoundError:
            pass
    return ", ".join(parts)


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])
