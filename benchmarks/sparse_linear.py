"""Where sparse spike propagation pays: a Linear layer on spike input, dense (oneDNN GEMM) against
spikegate's sparse kernels, over spike densities, for the shapes of the two other benchmarks;
then the same for a 3x3 convolution (oneDNN against spikegate's sparse conv2d) at the shapes of
the convolutional classifier's second stage.

One iteration is the forward and the backward with weight and input gradients (the input
gradient is a dense GEMM either way). The crossover (largest density at which sparse is still
faster) is what ``spikegate.kernels.sparse.CROSSOVER`` (``CONV_CROSSOVER``) should be below.

    python benchmarks/sparse_linear.py
"""

from __future__ import annotations

import argparse

import torch
from common import machine, table, timed, versions

from spikegate.kernels.sparse import CONV_CROSSOVER, CROSSOVER, conv2d, linear

SHAPES = ((25 * 64, 784, 1024), (25 * 64, 1024, 1024), (500 * 16, 512, 512))
DENSITIES = (0.01, 0.02, 0.05, 0.1, 0.2)
# (images, C_in, H = W, C_out): T x batch = 4 x 32 images, the conv stages of `spikegate train --model conv`
CONV_SHAPES = ((128, 32, 14, 64), (128, 64, 7, 64))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    args = parser.parse_args()
    print(f"# sparse_linear: {machine('cpu')}\n# {versions()}; CROSSOVER = {CROSSOVER}, "
          f"CONV_CROSSOVER = {CONV_CROSSOVER}", flush=True)
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
        conv_rows(args.repeats, threads)


def conv_rows(repeats: int, threads: int) -> None:
    rows = []
    for images, cin, side, cout in CONV_SHAPES:
        torch.manual_seed(0)
        w = torch.randn(cout, cin, 3, 3, requires_grad=True)
        b = torch.randn(cout, requires_grad=True)
        g = torch.randn(images, cout, side, side)
        crossover = 0.0
        for density in DENSITIES:
            x = (torch.rand(images, cin, side, side) < density).float().requires_grad_()

            def run(backend):
                def go():
                    torch.autograd.grad(conv2d(x, w, b, 1, 1, backend), [x, w, b], g)
                return go

            t = timed({"dense": run("reference"), "sparse": run("cpu")}, repeats, "cpu")
            ratio = t["sparse"] / t["dense"]
            if ratio < 1:
                crossover = max(crossover, density)
            name = f"{images}x{cin}x{side}x{side} -> {cout}"
            rows.append([name, f"{100 * density:.0f}", f"{t['dense'] * 1e3:.1f}", f"{t['sparse'] * 1e3:.1f}",
                         f"{ratio:.2f}"])
        rows.append([name, "sparse wins up to", f"{100 * crossover:.0f} %", "", ""])
    print(f"\n### {threads} thread(s): 3x3 convolution (padding 1) forward + backward (input and weight gradients)")
    print(table(rows, ["images x C_in x H x W -> C_out", "density %", "dense ms", "sparse ms", "sparse / dense"]),
          flush=True)


if __name__ == "__main__":
    main()
