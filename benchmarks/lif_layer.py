"""The Open Neuromorphic SNN library benchmark, on this machine, for spikegate and its peers.

A Linear(n, n) followed by one LIF layer, batch 16, T steps; one iteration is the forward over all
steps plus the backward of the summed spikes (input from ``randn``, as in the original; the
Linear runs once over all steps for every implementation). Also the LIF part alone: a
precomputed input current that requires grad, forward and backward of the summed spikes; its
peak memory; and the floor: a streaming copy of the bytes the fused LIF must move (20 per
neuron-step: current in, spikes out, current read again by the backward, spike gradient in,
current gradient out). Memory: the peak above the input current over forward and backward
(it includes the spikes and the current's gradient, which every implementation allocates), and
what the forward keeps for the backward beyond its output ("kept"). Spike rates must lie in
1-50 %.

    python benchmarks/lif_layer.py                    # CPU: (512, 500), (4096, 100); 1 and 2 threads
    python benchmarks/lif_layer.py --device cuda      # GPU: n = 16384, T = 500
"""

from __future__ import annotations

import argparse

import torch
from common import (
    IMPLEMENTATIONS,
    PEERS,
    available,
    copy_floor,
    lif_layer,
    machine,
    memory_in_subprocess,
    peak_memory,
    table,
    timed,
    versions,
)
from torch import nn

BATCH = 16
FLOOR_BYTES = 20  # per neuron-step, see the module docstring


def lif_only(model: nn.Module, current: torch.Tensor):
    """One iteration of the LIF part alone: forward, backward of the summed spikes."""
    cur = current.clone().requires_grad_()

    def run():
        cur.grad = None
        spikes = model(cur)
        spikes.sum().backward()
        return spikes
    return run


def inputs(n: int, steps: int, device: str) -> tuple[torch.Tensor, nn.Linear, torch.Tensor]:
    torch.manual_seed(0)
    x = torch.randn(steps, BATCH, n, device=device)
    linear = nn.Linear(n, n).to(device)
    return x, linear, linear(x).detach()


def memory_only(impl: str, n: int, steps: int, threads: int, device: str) -> None:
    torch.set_num_threads(threads)
    model = lif_layer(impl, n, device)
    lif_only(model, inputs(n, 3, device)[2][:, :1])()  # warm-up on a tiny problem
    cur = inputs(n, steps, device)[2].requires_grad_()
    peak, kept = peak_memory(lambda: model(cur), lambda spikes: spikes.sum().backward(), device)
    print(peak, kept)


def run_size(impls, n: int, steps: int, threads: int, device: str, repeats: int) -> None:
    torch.set_num_threads(threads)
    x, linear, current = inputs(n, steps, device)
    models = {impl: lif_layer(impl, n, device) for impl in impls}
    layers = {impl: nn.ModuleDict({"fc": nn.Linear(n, n), "lif": models[impl]}).to(device) for impl in impls}
    for layer in layers.values():
        layer["fc"].load_state_dict(linear.state_dict())

    def whole(impl):
        def run():
            layer = layers[impl]
            layer.zero_grad(set_to_none=True)
            spikes = layer["lif"](layer["fc"](x))
            spikes.sum().backward()
            return spikes
        return run

    rates = {impl: lif_only(models[impl], current)().mean().item() for impl in impls}
    t_whole = timed({impl: whole(impl) for impl in impls}, repeats, device)
    t_lif = timed({impl: lif_only(models[impl], current) for impl in impls}, repeats, device)
    memory = {
        impl: memory_in_subprocess(__file__, ["--memory", impl, "--sizes", f"{n}x{steps}", "--threads",
                                              str(threads), "--device", device])
        for impl in impls
    }
    floor = copy_floor(FLOOR_BYTES * steps * BATCH * n, device, repeats)

    peers = [p for p in PEERS if p in impls]
    best = lambda d: min(d[p] for p in peers)  # noqa: E731
    peak = {impl: m[0] for impl, m in memory.items()}
    rows = []
    for impl in impls:
        ok = "" if 0.01 <= rates[impl] <= 0.5 else "  OUT OF 1-50 %"
        rows.append([
            impl,
            f"{t_whole[impl] * 1e3:.1f}", f"{t_whole[impl] / best(t_whole):.2f}",
            f"{t_lif[impl] * 1e3:.1f}", f"{t_lif[impl] / best(t_lif):.3f}",
            f"{memory[impl][0] / 2**20:.1f}", f"{memory[impl][0] / best(peak):.2f}",
            f"{memory[impl][1] / 2**20:.1f}",
            f"{100 * rates[impl]:.1f}{ok}",
        ])
    rows.append(["copy floor", "", "", f"{floor * 1e3:.1f}", f"{floor / best(t_lif):.3f}", "", "", "", ""])
    print(f"\n### n = {n}, T = {steps}, batch {BATCH}, {threads} thread(s), {device}")
    print(table(rows, ["implementation", "Linear+LIF ms", "vs best peer", "LIF only ms", "vs best peer",
                       "LIF peak MiB", "vs best peer", "LIF kept MiB", "spike rate %"]))
    if "spikegate" in impls and peers:
        sg = "spikegate"
        print(f"goals: LIF fwd+bwd {t_lif[sg] / best(t_lif):.3f}x best peer (<= 0.1), "
              f"{t_lif[sg] / floor:.2f}x copy floor (<= 4); Linear+LIF {t_whole[sg] / best(t_whole):.2f}x "
              f"(<= 0.6 at 512/500); LIF peak memory {peak[sg] / best(peak):.2f}x (<= 0.3)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--repeats", type=int, default=11, help="timed rounds (median is reported)")
    parser.add_argument("--threads", type=int, nargs="*", default=None)
    parser.add_argument("--sizes", default=None, help="e.g. 512x500,4096x100")
    parser.add_argument("--memory", default=None, help=argparse.SUPPRESS)  # internal: one measurement
    args = parser.parse_args()
    if args.sizes:
        sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    else:
        sizes = [(16384, 500)] if args.device == "cuda" else [(512, 500), (4096, 100)]
    threads = args.threads or ([1, 2] if args.device == "cpu" else [torch.get_num_threads()])
    if args.memory:
        memory_only(args.memory, *sizes[0], threads[0], args.device)
        return
    impls = available(IMPLEMENTATIONS)
    print(f"# lif_layer: {machine(args.device)}\n# {versions()}", flush=True)
    for n, steps in sizes:
        for t in threads:
            run_size(impls, n, steps, t, args.device, args.repeats)


if __name__ == "__main__":
    main()
