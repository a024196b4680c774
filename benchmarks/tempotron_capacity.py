"""Tempotron capacity (Gütig & Sompolinsky 2006; TARGETS.md §4): the fraction of random
classification tasks learned without error vs the load alpha = P/N.

Task: N afferents, each spiking once at a uniform time in [0, T); P = alpha * N patterns with
random labels (p = 0.5). A run succeeds when one pass of the online rule (with momentum) makes
no error within the epoch budget. Prints success rate, epochs used and remaining errors per
alpha, and the 50 % point of the success curve (linear interpolation).

    python benchmarks/tempotron_capacity.py                      # N = 500, T = 500 ms, 5 seeds

Defaults: online rule, momentum 0.99, learning rate 1e-4 annealed as 1e-4 / (1 + epoch / 200),
a budget of 2000 epochs (a constant rate stalls at a few tens of errors from alpha = 2.5 on).
    python benchmarks/tempotron_capacity.py --n 200 --alphas 1,2,3 --seeds 2 --epochs 200
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from spikegate.plasticity.tempotron import Tempotron, random_patterns


def run_one(n: int, alpha: float, seed: int, args: argparse.Namespace) -> dict:
    rng = np.random.default_rng([seed, int(round(alpha * 1000)), n])
    p = int(round(alpha * n))
    patterns = random_patterns(p, n, args.duration, rng=rng)
    labels = rng.random(p) < 0.5
    tp = Tempotron(n, duration=args.duration, dt=args.dt, lr=args.lr, momentum=args.momentum, rng=rng)
    t0 = time.perf_counter()
    history = tp.fit(patterns, labels, epochs=args.epochs, lr_decay=args.lr_decay)
    return {"n": n, "alpha": alpha, "seed": seed, "epochs": len(history), "errors": history[-1],
            "success": history[-1] == 0, "seconds": time.perf_counter() - t0}


def half_point(alphas: list[float], success: list[float]) -> float | None:
    for (a0, s0), (a1, s1) in zip(zip(alphas, success), zip(alphas[1:], success[1:])):
        if s0 >= 0.5 > s1:
            return a0 + (s0 - 0.5) / (s0 - s1) * (a1 - a0)
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=500, help="afferents N (default: 500)")
    ap.add_argument("--alphas", default="2,2.5,3,3.5,4", help="loads P/N")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=2000, help="epoch budget per run")
    ap.add_argument("--duration", type=float, default=500.0, help="pattern length T (ms)")
    ap.add_argument("--dt", type=float, default=0.5, help="voltage grid step (ms)")
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--momentum", type=float, default=0.99)
    ap.add_argument("--lr-decay", type=float, default=200.0, help="lr / (1 + epoch / LR_DECAY) (default: 200)")
    ap.add_argument("--log", default=None, help="JSON-lines file: finished runs are kept and skipped on restart")
    args = ap.parse_args()
    alphas = [float(a) for a in args.alphas.split(",")]
    done: dict[tuple, dict] = {}
    if args.log and os.path.exists(args.log):
        for line in open(args.log):
            r = json.loads(line)
            done[(r["n"], r["alpha"], r["seed"])] = r
    t0 = time.perf_counter()
    for alpha in alphas:
        for seed in range(args.seeds):
            key = (args.n, alpha, seed)
            if key not in done:
                done[key] = run_one(args.n, alpha, seed, args)
                if args.log:
                    with open(args.log, "a") as fh:
                        fh.write(json.dumps(done[key]) + "\n")
                print(json.dumps(done[key]), flush=True)
    print(f"\nTempotron capacity: N = {args.n}, T = {args.duration:g} ms, tau = 15 ms, tau_s = 3.75 ms, "
          f"dt = {args.dt:g} ms, lr = {args.lr:g}"
          f"{'' if args.lr_decay is None else f' / (1 + epoch/{args.lr_decay:g})'}, momentum = {args.momentum:g}, "
          f"budget {args.epochs} epochs, "
          f"{args.seeds} seeds")
    print(f"{'alpha':>6} {'P':>6} {'success':>8} {'epochs (mean)':>14} {'errors left (mean)':>19}")
    success = []
    for alpha in alphas:
        rs = [done[(args.n, alpha, s)] for s in range(args.seeds)]
        frac = float(np.mean([r["success"] for r in rs]))
        success.append(frac)
        epochs = np.mean([r["epochs"] for r in rs])
        print(f"{alpha:>6.2f} {int(round(alpha * args.n)):>6d} {frac:>8.2f} {epochs:>14.1f} "
              f"{np.mean([r['errors'] for r in rs]):>19.1f}")
    a50 = half_point(alphas, success)
    print(f"50 % point of the capacity curve: alpha_c = {a50:.2f}" if a50 is not None
          else "50 % point of the capacity curve: not bracketed by the alphas given")
    print(f"wall time {time.perf_counter() - t0:.0f} s (runs already in the log not counted)")


if __name__ == "__main__":
    main()
