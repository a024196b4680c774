"""Deploy a trained float twin: integer network, run on a target emulator, compare, count.

:func:`deploy` converts the model (:meth:`Network.from_module`), runs the test spikes through
the PyTorch model, spikegate's integer reference and the chosen target (``"emulator"``:
spikegate's numba emulator; ``"lava"``: Intel Lava's bit-accurate models), and reports the
three accuracies, the number of spikes (over every layer, step and sample) in which the target
differs from the integer reference, and the operations and energy per inference.
"""

from __future__ import annotations

import time
from typing import Callable, NamedTuple

import torch
from torch import Tensor, nn

from spikegate.export.lava.emulator import emulate
from spikegate.export.lava.energy import OpsReport, operations
from spikegate.export.lava.network import Network

TARGETS = ("emulator", "lava")


class DeployResult(NamedTuple):
    network: Network
    samples: int
    float_accuracy: float
    integer_accuracy: float
    target: str
    target_accuracy: float
    spike_mismatches: int
    spikes_compared: int
    target_seconds: float
    ops: OpsReport

    def summary(self) -> str:
        rows = [("PyTorch (float twin) accuracy:", f"{self.float_accuracy:.2%}"),
                ("integer model accuracy:", f"{self.integer_accuracy:.2%}"),
                (f"{self.target} accuracy:", f"{self.target_accuracy:.2%}  ({self.target_seconds:.2f} s)")]
        width = max(len(label) for label, _ in rows)
        lines = [f"deployed {self.samples} test samples to the {self.target}"]
        lines += [f"  {label:<{width}} {value}" for label, value in rows]
        lines.append(f"  spikes differing between the integer model and the {self.target}: "
                     f"{self.spike_mismatches} of {self.spikes_compared}")
        return "\n".join(lines)


def _predict(out: Tensor) -> Tensor:
    return out.to(torch.int64).sum(0).flatten(1).argmax(-1)


def deploy(
    model: nn.Module,
    spikes: Tensor,
    labels: Tensor,
    *,
    target: str = "emulator",
    progress: Callable[[int], None] | None = None,
) -> DeployResult:
    """Deploy ``model`` (a Sequential float twin) on test ``spikes: [T, B, *input]`` 0/1 with
    ``labels: [B]``; the class is the output neuron with most spikes (lowest index on ties)."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(TARGETS)}; got {target!r}")
    if labels.dim() != 1 or labels.shape[0] != spikes.shape[1]:
        raise ValueError(f"labels must be [B] with B = {spikes.shape[1]} (spikes' batch), got {tuple(labels.shape)}")
    net = Network.from_module(model, tuple(spikes.shape[2:]))
    x = net.check_input(spikes)
    with torch.no_grad():
        out, _ = model(x.to(torch.float32))
    ref = net.run(x, record="spikes")
    t0 = time.perf_counter()
    if target == "emulator":
        run = emulate(net, x, record="spikes", chunk=64, progress=progress)
    else:
        from spikegate.export.lava.lava_run import run_lava

        run = run_lava(net, x, record="spikes", progress=progress)
    seconds = time.perf_counter() - t0
    mismatches = sum(int((a != b).sum()) for a, b in zip(ref.spikes, run.spikes, strict=True))
    acc = lambda o: float((_predict(o) == labels).double().mean())  # noqa: E731
    return DeployResult(
        net, int(x.shape[1]), acc(out), acc(ref.output), target, acc(run.output), mismatches,
        sum(s.numel() for s in ref.spikes), seconds, operations(net, x, run),
    )
