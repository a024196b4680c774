"""Where sparse spike propagation pays: a Linear layer on spike input, dense (oneDNN GEMM) against
spikegate's sparse kernels, over spike densities, for the shapes of the two other benchmarks.

One iteration is the forward and the backward with weight and input gradients (the input
gradient is a dense GEMM either way). The crossover (largest density at which sparse is still
faster) is what ``spikegate.kernels.sparse.CROSSOVER`` should be below.

    python benchmarks/sparse_linear.py
"""

from __future__ import annotations

import argparse

import torch
from common import machine, table, timed, versions

from spikegate.kernels.sparse import CROSSOVER, linear

SHAPES = ((25 * 64, 784, 1024), (25 * 64, 1024, 1024), (500 * 16, 512, 512))
DENSITIES = (0.01, 0.02, 0.05, 0.1, 0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    args = parser.parse_args()
    print(f"# sparse_linear: {machine('cpu')}\n# {versions()}; CROSSOVER = {CROSSOVER}", flush=True)
    for threads in args.threads:
        torch.set_num_threads(threads)
        rows = []
        for rows_, k, n in SHAPES:
            torch.manual_seed(0)
            w = torch.randn(n, k, requires_grad=True)
            b = torch.randn(n, requires_grad=True)
            g = torch.randn(rows_, n)
            crossover = 0.0
            for density in DENSITIES:
                x = (torch.rand(rows_, k) < density).float().requires_grad_()

                def run(backend):
                    def go():
                        torch.autograd.grad(linear(x, w, b, backend), [x, w, b], g)
                    return go

                t = timed({"dense": run("reference"), "sparse": run("cpu")}, args.repeats, "cpu")
                ratio = t["sparse"] / t["dense"]
                if ratio < 1:
                    crossover = max(crossover, density)
                rows.append([f"{rows_}x{k} -> {n}", f"{100 * density:.0f}", f"{t['dense'] * 1e3:.1f}",
                             f"{t['sparse'] * 1e3:.1f}", f"{ratio:.2f}"])
            rows.append([f"{rows_}x{k} -> {n}", "sparse wins up to", f"{100 * crossover:.0f} %", "", ""])
        print(f"\n### {threads} thread(s): Linear forward + backward (input and weight gradients)")
        print(table(rows, ["rows x in -> out", "density %", "dense ms", "sparse ms", "sparse / dense"]), flush=True)


if __name__ == "__main__":
    main()
