"""LIF vs meta-neuron x {BPTT, STDP, Tempotron} x {fixed, learnable intrinsic parameters} on the
synthetic LZC tasks and on digits, mean +- std over seeds (TARGETS.md §1; issue 4 item 7).

Every cell trains from scratch on the task's 90/10 (digits: 80/20) split and reports test accuracy:

* BPTT: 50 -> 64 -> classes network (``spikegate.tasks.snn``, spiking outputs), Adam on the
  squared error of the output firing rates to targets 0.3 (true class) / 0.03 (others);
  decision = the SNN-LZC rule (nearest class mean of the output trains' normalized LZ76
  complexity, ``spikegate.tasks.lzc_classifier``). Learnable:
  per-neuron beta and threshold (LIF), tau_mem, tau_syn, threshold, kappa (meta).
* STDP: Diehl & Cook style layer of 64 neurons (``spikegate.tasks.stdp_classifier``), one
  unsupervised pass; decision = the SNN-LZC rule on the layer's output trains (Diehl & Cook's
  label assignment is reported too). Learnable: homeostatic adaptive thresholds.
* Tempotron: the Tempotron rule on one output neuron per class (one for two classes) with the
  neuron's own PSP kernel (``spikegate.tasks.tempotron_classifier``); decision = fires or not
  (largest margin for digits). Learnable: the same cost also trains beta/threshold (LIF) or
  tau_mem/tau_syn/threshold (meta).

Digits are rate coded once per seed (30 steps, spike probability = pixel intensity). The synthetic
sets are drawn from the seed. Results go to a JSON-lines log (finished cells are skipped on a
restart); the tables are printed at the end, with the gap learnable - fixed per seed and the SNN-LZC
inference latency (forward pass + LZC + decision, batch 1, one thread).

    python benchmarks/classifiers.py --log runs/classifiers/results.jsonl
    python benchmarks/classifiers.py --latency-only
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import tempfile
import time

import torch
from common import percent_mean_sd

from spikegate.encoding import bernoulli
from spikegate.encoding.lzc import lzc
from spikegate.io import load_checkpoint
from spikegate.tasks.data import TaskData, load_task
from spikegate.tasks.lzc_classifier import SNNLZC, LZCDecision
from spikegate.tasks.stdp_classifier import STDPClassifier, STDPConfig
from spikegate.tasks.tempotron_classifier import TempotronClassifier
from spikegate.tasks.training import TrainConfig, model_for, seeded, train

TASKS = ("lzc-rate", "lzc-hard-rate", "lzc-markov", "digits")
RULES = ("bptt", "stdp", "tempotron")
NEURONS = ("lif", "meta")


def task_data(task: str, seed: int) -> TaskData:
    data = load_task(task, seed=seed)
    if data.kind == "spikes":
        return data
    g = seeded(seed, 77)
    to_spikes = lambda x: bernoulli(x.flatten(1), 30, generator=g).transpose(0, 1).to(torch.uint8)  # noqa: E731
    return data._replace(x_train=to_spikes(data.x_train), x_test=to_spikes(data.x_test), kind="spikes")


def time_major(x: torch.Tensor) -> torch.Tensor:
    return x.transpose(0, 1).to(torch.get_default_dtype())


def bptt(data: TaskData, neuron: str, learnable: bool, seed: int, args: argparse.Namespace) -> dict:
    cfg = TrainConfig(data="digits", model="mlp", neuron=neuron, learnable=learnable, hidden=(64,), readout="spikes",
                      loss="rate", epochs=args.bptt_epochs, lr=5e-3, batch=128, seed=seed)
    with tempfile.TemporaryDirectory() as out:
        metrics = train(cfg, out, progress=False, data=data)
        model = model_for(cfg, data)
        model.load_state_dict(load_checkpoint(os.path.join(out, "checkpoint.pt"))["model"])
    clf = SNNLZC(model.eval()).fit(time_major(data.x_train), data.y_train, data.n_classes, generator=seeded(seed, 5))
    pred = clf.predict(time_major(data.x_test), generator=seeded(seed, 6))
    result = {"acc": (pred == data.y_test).double().mean().item(), "acc_counts": metrics["test_acc"]}
    if args.latency and not learnable and neuron == "lif":
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        result["latency_ms"] = 1e3 * clf.latency(time_major(data.x_test[:1]))
        torch.set_num_threads(threads)
    return result


def stdp(data: TaskData, neuron: str, learnable: bool, seed: int, args: argparse.Namespace) -> dict:
    cfg = STDPConfig(n_exc=64, neuron=neuron, adaptive_threshold=learnable, batch=10)
    clf = STDPClassifier(data.x_train.shape[2], data.n_classes, cfg, generator=seeded(seed, 8))
    clf.fit(data.x_train, data.y_train, epochs=1)
    decision = LZCDecision().fit(lzc(clf.spikes(data.x_train).permute(1, 2, 0)), data.y_train, data.n_classes)
    pred = decision.predict(lzc(clf.spikes(data.x_test).permute(1, 2, 0)))
    return {"acc": (pred == data.y_test).double().mean().item(),
            "acc_assignment": (clf.predict(data.x_test) == data.y_test).double().mean().item()}


def tempotron(data: TaskData, neuron: str, learnable: bool, seed: int, args: argparse.Namespace) -> dict:
    g = seeded(seed, 9)
    clf = TempotronClassifier(data.x_train.shape[2], data.n_classes, neuron=neuron, learnable=learnable, generator=g)
    clf.fit(time_major(data.x_train), data.y_train, epochs=args.tempotron_epochs, lr=1e-2, batch=64, generator=g)
    return {"acc": (clf.predict(time_major(data.x_test)) == data.y_test).double().mean().item()}


CELLS = {"bptt": bptt, "stdp": stdp, "tempotron": tempotron}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--rules", default=",".join(RULES))
    ap.add_argument("--neurons", default=",".join(NEURONS))
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--bptt-epochs", type=int, default=6)
    ap.add_argument("--tempotron-epochs", type=int, default=10)
    ap.add_argument("--latency", action=argparse.BooleanOptionalAction, default=True,
                    help="measure the SNN-LZC latency (BPTT, LIF, fixed)")
    ap.add_argument("--latency-only", action="store_true",
                    help="only train the BPTT LIF network on lzc-rate (seed 0) and time its SNN-LZC inference")
    ap.add_argument("--log", default=None, help="JSON-lines results; finished cells are skipped on restart")
    args = ap.parse_args()
    if args.latency_only:
        args.latency = True
        r = bptt(task_data("lzc-rate", 0), "lif", False, 0, args)
        print(f"SNN-LZC on lzc-rate (BPTT, LIF 50 -> 64 -> 2, 200 steps): test accuracy {100 * r['acc']:.1f} %, "
              f"inference latency (forward + LZC + decision, batch 1, one thread, median of 200) "
              f"{r['latency_ms']:.3f} ms")
        return
    tasks, rules, neurons = args.tasks.split(","), args.rules.split(","), args.neurons.split(",")
    results: dict[tuple, dict] = {}
    if args.log and os.path.exists(args.log):
        for line in open(args.log):
            r = json.loads(line)
            results[(r["task"], r["rule"], r["neuron"], r["learnable"], r["seed"])] = r
    t_start = time.perf_counter()
    for task, seed in itertools.product(tasks, range(args.seeds)):
        todo = [(rule, n, lrn) for rule in rules for n in neurons for lrn in (False, True)
                if (task, rule, n, lrn, seed) not in results]
        if not todo:
            continue
        data = task_data(task, seed)
        for rule, neuron, learnable in todo:
            t0 = time.perf_counter()
            r = CELLS[rule](data, neuron, learnable, seed, args)
            r.update(task=task, rule=rule, neuron=neuron, learnable=learnable, seed=seed,
                     seconds=time.perf_counter() - t0)
            results[(task, rule, neuron, learnable, seed)] = r
            if args.log:
                os.makedirs(os.path.dirname(os.path.abspath(args.log)), exist_ok=True)
                with open(args.log, "a") as fh:
                    fh.write(json.dumps(r) + "\n")
            print(json.dumps(r), flush=True)

    def accs(task, rule, neuron, learnable, key="acc"):
        return [results[(task, rule, neuron, learnable, s)][key] for s in range(args.seeds)
                if (task, rule, neuron, learnable, s) in results and key in results[(task, rule, neuron, learnable, s)]]

    print(f"\nTest accuracy (%), mean ± std over {args.seeds} seeds (BPTT, STDP: SNN-LZC decision)")
    head = f"{'rule':<10}{'neuron':<7}{'intrinsic':<11}" + "".join(f"{t:>16}" for t in tasks)
    print(head)
    for rule, neuron, learnable in itertools.product(rules, neurons, (False, True)):
        print(f"{rule:<10}{neuron:<7}{'learnable' if learnable else 'fixed':<11}"
              + "".join(f"{percent_mean_sd(accs(t, rule, neuron, learnable)):>16}" for t in tasks))
    if "bptt" in rules:
        print("\nBPTT, decision by output spike counts instead of LZC (%)")
        print(head)
        for neuron, learnable in itertools.product(neurons, (False, True)):
            print(f"{'bptt':<10}{neuron:<7}{'learnable' if learnable else 'fixed':<11}"
                  + "".join(f"{percent_mean_sd(accs(t, 'bptt', neuron, learnable, 'acc_counts')):>16}" for t in tasks))
    if "stdp" in rules:
        print("\nSTDP, decision by Diehl & Cook label assignment instead of LZC (%)")
        print(head)
        for neuron, learnable in itertools.product(neurons, (False, True)):
            print(f"{'stdp':<10}{neuron:<7}{'learnable' if learnable else 'fixed':<11}"
                  + "".join(f"{percent_mean_sd(accs(t, 'stdp', neuron, learnable, 'acc_assignment')):>16}" for t in tasks))
    print("\nGap learnable - fixed (points): mean ± std, and seeds with a gap >= 3 points")
    print(f"{'rule':<10}{'neuron':<7}" + "".join(f"{t:>22}" for t in tasks))
    for rule, neuron in itertools.product(rules, neurons):
        cells = []
        for t in tasks:
            fixed, learn = accs(t, rule, neuron, False), accs(t, rule, neuron, True)
            gaps = [100 * (b - a) for a, b in zip(fixed, learn)]
            if gaps:
                sd = statistics.stdev(gaps) if len(gaps) > 1 else 0.0
                cells.append(f"{statistics.mean(gaps):+5.1f} ± {sd:4.1f} ({sum(g >= 3 for g in gaps)}/{len(gaps)})")
            else:
                cells.append("-")
        print(f"{rule:<10}{neuron:<7}" + "".join(f"{c:>22}" for c in cells))
    lat = [r["latency_ms"] for r in results.values() if "latency_ms" in r and r["task"] == "lzc-rate"]
    if lat:
        print(f"\nSNN-LZC inference latency on lzc-rate (200 steps, 50 -> 64 -> 2 LIF, LZC + nearest-mean decision, "
              f"batch 1, one thread): median {statistics.median(lat):.3f} ms over {len(lat)} seeds")
    print(f"wall time {time.perf_counter() - t_start:.0f} s (cells already in the log not counted)")


if __name__ == "__main__":
    main()
