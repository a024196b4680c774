"""ANN -> SNN conversion benchmark (issue 7): prints the acceptance tables.

1. Training-free error budgets of the sigmoid gate, the top-2-of-8 router and GLA (held-out
   Gaussian activations, CONVERSION.md A4) against T.
2. QAT mode: max relative difference between the SNN and the quantized ANN, per component.
3. A CNN on Fashion-MNIST: float ANN, QCFS ANN (L = 8), SNN at T = 8 and against T, training-free
   conversion, and SpikingJelly 2.0's rate-coding converter on the same float CNN (peer, same run).
4. A sequence model (gated attention + top-2 MoE + GLA) on row-by-row Fashion-MNIST (28 rows of
   28 pixels), converted at its declared T = 8 after QAT, and against T.
5. Operation counts and energy per inference, ANN vs SNN.

Plots (accuracy / error against T) go to ``--out`` (default ``runs/conversion``).

    PYTHONPATH=. python benchmarks/conversion.py            # full run (about an hour of CPU time)
    PYTHONPATH=. python benchmarks/conversion.py --quick    # smoke run on small subsets
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

from spikegate.convert import ann, budget, count_ops, energy, prepare_qat, to_snn
from spikegate.io.datasets import load_fashion_mnist
from spikegate.neurons import Sequential
from spikegate.plot import versus_steps

STEPS = (4, 8, 16, 32, 64)


def table(title: str, header: list[str], rows: list[list]) -> None:
    cells = [[f"{c:.4g}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    print(f"\n### {title}\n")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in cells:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")
    sys.stdout.flush()


# ---- 1. operator budgets ----------------------------------------------------------------


def operator_budgets(out: str, quick: bool) -> None:
    targets = {8: (0.15, 0.85, 0.21), 16: (0.08, 0.92, 0.11), 32: (0.04, 0.96, 0.06)}
    n_router = 4000 if quick else 32000
    rows, series = [], {}
    for T in STEPS:
        r = {}
        for m in ("mse", "percentile"):
            r[m] = (budget.gate_budget(T, m), budget.router_budget(T, m, n=n_router), budget.gla_budget(T, m, length=512))
        t = targets.get(T, ("-", "-", "-"))
        rows.append([T, r["mse"][0], r["percentile"][0], t[0], r["mse"][1], r["percentile"][1], t[1],
                     r["mse"][2], r["percentile"][2], t[2]])
        for i, name in enumerate(("gate rel-L2", "1 - router agreement", "GLA rel-L2")):
            value = r["mse"][i]
            series.setdefault(name, {})[T] = 1 - value if i == 1 else value
    table(
        "Training-free operator error vs float ANN (held-out Gaussian activations; GLA on 512 tokens)",
        ["T", "gate mse", "gate p99.9", "gate target", "top-2/8 agree mse", "agree p99.9", "agree target",
         "GLA mse", "GLA p99.9", "GLA target"],
        rows,
    )
    versus_steps(series, os.path.join(out, "operators.png"), ylabel="error", logy=True, title="Operator error budgets")


# ---- 2. QAT exactness per component --------------------------------------------------------


def qat_exactness(quick: bool) -> None:
    torch.manual_seed(0)
    d = 32
    comps = {
        "GatedAttention (elementwise gate)": ann.GatedAttention(d, 4),
        "GatedAttention (headwise gate)": ann.GatedAttention(d, 4, gate="headwise"),
        "GatedLinearAttention (chunked)": ann.GatedLinearAttention(d, 4, chunk_size=16),
        "TopKMoE (top-2 of 8)": ann.TopKMoE(d, 8, 2, 64),
        "DenseToSparseGate (sigmoid)": ann.DenseToSparseGate(d, 8, activation="sigmoid"),
        "TopKMoE routed by DenseToSparseGate": ann.TopKMoE(d, 8, 1, 64, router=ann.DenseToSparseGate(d, 8, activation="tanh")),
        "GatedAssociativeMemory": ann.GatedAssociativeMemory(d, memory_size=64),
    }
    length = 64 if quick else 512
    x_cal, x = torch.randn(length, 4, d), torch.randn(length, 4, d)
    rows = []
    torch.set_grad_enabled(False)
    for name, comp in comps.items():
        q = prepare_qat(comp, x_cal, levels=8)
        y = q(x)
        y = y[0] if isinstance(y, tuple) else y
        y_snn = to_snn(q, None, 8, mode="qat").infer(x)
        rows.append([name, f"{float((y_snn - y).abs().max() / y.abs().max()):.2e}"])
    bank = ann.ValueEmbeddingBank(100, 4, d)
    move = ann.MoVE(bank, 4)
    nn.init.normal_(move.router.weight, std=0.3)
    v, h, tok = torch.randn(length, 4, d), torch.randn(length, 4, d), torch.randint(0, 100, (length, 4))
    q = prepare_qat(move, (v, h, tok), levels=8)  # calibrated on the data it is compared on: a parity check
    y = q(v, h, tok)
    y_snn = to_snn(q, None, 8, mode="qat").infer(v, h, tok)
    rows.append(["MoVE", f"{float((y_snn - y).abs().max() / y.abs().max()):.2e}"])
    torch.set_grad_enabled(True)
    table(f"QAT mode: max|SNN - QANN| / max|QANN|, float32, T = L = 8, sequences of {length} tokens",
          ["component", "relative difference"], rows)


# ---- data and training ---------------------------------------------------------------------


def batches(n: int, size: int, generator: torch.Generator):
    perm = torch.randperm(n, generator=generator)
    return [perm[i : i + size] for i in range(0, n, size)]


def train(model, forward, x, y, epochs, lr, seed, aux_weight=0.0, log=""):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=epochs * ((len(x) + 127) // 128))
    model.train()
    for epoch in range(epochs):
        t0, total = time.time(), 0.0
        for idx in batches(len(x), 128, g):
            with ann.aux_losses() as aux:
                loss = F.cross_entropy(forward(model, x[idx]), y[idx])
            loss = loss + aux_weight * sum(v for _, v in aux)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(idx)
        print(f"  {log} epoch {epoch + 1}: loss {total / len(x):.4f} ({time.time() - t0:.0f} s)", flush=True)
    model.eval()


@torch.no_grad()
def accuracy(predict, x, y, batch=500) -> float:
    correct = 0
    for i in range(0, len(x), batch):
        correct += int((predict(x[i : i + batch]).argmax(-1) == y[i : i + batch]).sum())
    return 100.0 * correct / len(x)


# ---- 3. CNN -------------------------------------------------------------------------------


def make_cnn() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10),
    )


def spikingjelly_accuracy(cnn, x_cal, x, y, T) -> float | str:
    """SpikingJelly 2.0 ``Converter(RateCodingRecipe(mode="99.9%"))`` on the same float CNN;
    the SNN runs ``T`` single steps of the static image and averages the output."""
    try:
        from spikingjelly.activation_based import functional
        from spikingjelly.activation_based.ann2snn import Converter, RateCodingRecipe
    except ImportError as e:
        return f"unavailable ({e})"
    import copy

    recipe = RateCodingRecipe(dataloader=[x_cal[i : i + 500] for i in range(0, len(x_cal), 500)], mode="99.9%")
    snn = Converter(recipe).convert(copy.deepcopy(cnn))
    snn.eval()

    def predict(xb):
        functional.reset_net(snn)
        return sum(snn(xb) for _ in range(T)) / T

    return accuracy(predict, x, y)


def cnn_benchmark(data, out, quick, epochs, qat_epochs, subset) -> dict:
    torch.manual_seed(0)
    x_tr, y_tr, x_te, y_te = data
    cnn = make_cnn()
    plain = lambda m, xb: m(xb)  # noqa: E731
    train(cnn, plain, x_tr, y_tr, epochs, 2e-3, 0, log="CNN float")
    x_cal = x_tr[:2000]
    qcnn = prepare_qat(cnn, x_cal, levels=8)
    train(qcnn, plain, x_tr, y_tr, qat_epochs, 5e-4, 1, log="CNN QCFS L=8")
    acc_ann, acc_q = accuracy(cnn, x_te, y_te), accuracy(qcnn, x_te, y_te)
    snn = to_snn(qcnn, None, 8, mode="qat")
    acc_snn = accuracy(snn.infer, x_te, y_te)
    with torch.no_grad():
        xb = x_te[:1000]
        diff = float((snn.infer(xb) - qcnn(xb)).abs().max() / qcnn(xb).abs().max())
        flips = int((snn.infer(xb).argmax(-1) != qcnn(xb).argmax(-1)).sum())
    table(
        "Fashion-MNIST CNN, full test set (10000 images)",
        ["model", "accuracy %", "gap to float ANN (points)"],
        [["float ANN (ReLU)", acc_ann, 0.0], ["QCFS ANN, L = 8", acc_q, acc_q - acc_ann],
         ["SNN, QAT, T = 8, window timing", acc_snn, acc_snn - acc_ann]],
    )
    print(f"\nSNN vs QCFS ANN on 1000 test images: max|logit diff| / max|logit| = {diff:.2e}, "
          f"{flips} changed predictions")
    xs, ys = x_te[:subset], y_te[:subset]
    series: dict[str, dict[int, float]] = {}
    rows = []
    for T in STEPS:
        r = {
            "QAT window": accuracy(to_snn(qcnn, None, T, mode="qat").infer, xs, ys),
            "QAT step": accuracy(to_snn(qcnn, None, T, mode="qat", timing="step").infer, xs, ys),
            "training-free window (mse)": accuracy(to_snn(cnn, x_cal, T, method="mse").infer, xs, ys),
            "training-free step (p99.9)": accuracy(to_snn(cnn, x_cal, T, timing="step").infer, xs, ys),
            "SpikingJelly 2.0 (99.9%)": spikingjelly_accuracy(cnn, x_cal, xs, ys, T),
        }
        rows.append([T, *r.values()])
        for k, v in r.items():
            if isinstance(v, float):
                series.setdefault(k, {})[T] = v
    ref_ann, ref_q = accuracy(cnn, xs, ys), accuracy(qcnn, xs, ys)
    table(
        f"Fashion-MNIST CNN accuracy % vs T (first {subset} test images; float ANN {ref_ann:.2f}, QCFS ANN {ref_q:.2f})",
        ["T", "QAT window", "QAT step", "training-free window (mse)", "training-free step (p99.9)",
         "SpikingJelly 2.0 rate coding (99.9%)"],
        rows,
    )
    versus_steps(series, os.path.join(out, "cnn_accuracy.png"), reference={"float ANN": ref_ann, "QCFS ANN": ref_q},
                 title="Fashion-MNIST CNN: SNN accuracy vs T")
    return {"cnn": cnn, "snn": snn, "x": x_te[:200]}


# ---- 4. sequence model --------------------------------------------------------------------


def make_sequence_model(d: int = 64) -> Sequential:
    return Sequential(
        nn.Linear(28, d),
        ann.PreNormResidual(nn.RMSNorm(d), ann.GatedAttention(d, 4)),
        ann.PreNormResidual(nn.RMSNorm(d), ann.TopKMoE(d, 4, 2, 128)),
        ann.PreNormResidual(nn.RMSNorm(d), ann.GatedLinearAttention(d, 4, chunk_size=28)),
        ann.PreNormResidual(nn.RMSNorm(d), ann.TopKMoE(d, 4, 2, 128)),
        nn.RMSNorm(d),
        ann.SequencePool("mean"),
        nn.Linear(d, 10),
    )


def rows_of(images: torch.Tensor) -> torch.Tensor:
    """``[B, 1, 28, 28]`` -> time-major rows ``[28, B, 28]``."""
    return images[:, 0].permute(1, 0, 2).contiguous()


def seq_forward(model, xb):
    return model(rows_of(xb))[0][0]


def sequence_benchmark(data, out, epochs, qat_epochs, subset, declared: int = 8) -> dict:
    torch.manual_seed(0)
    x_tr, y_tr, x_te, y_te = data
    model = make_sequence_model()
    train(model, seq_forward, x_tr, y_tr, epochs, 2e-3, 0, aux_weight=0.01, log="sequence float")
    cal = rows_of(x_tr[:1000])
    qmodel = prepare_qat(model, cal, levels=declared)
    train(qmodel, seq_forward, x_tr, y_tr, qat_epochs, 5e-4, 1, aux_weight=0.01, log=f"sequence QCFS L={declared}")
    acc_ann = accuracy(lambda xb: seq_forward(model, xb), x_te, y_te)
    acc_q = accuracy(lambda xb: seq_forward(qmodel, xb), x_te, y_te)
    snn = to_snn(qmodel, None, declared, mode="qat")
    acc_snn = accuracy(lambda xb: snn.infer(rows_of(xb))[0], x_te, y_te)
    with torch.no_grad():
        xb = rows_of(x_te[:1000])
        y_q, y_s = qmodel(xb)[0][0], snn.infer(xb)[0]
        diff, flips = float((y_s - y_q).abs().max() / y_q.abs().max()), int((y_s.argmax(-1) != y_q.argmax(-1)).sum())
    table(
        "Row-by-row Fashion-MNIST sequence model (gated attention + top-2-of-4 MoE + GLA + MoE), full test set",
        ["model", "accuracy %", "gap to QANN (points)"],
        [["float ANN", acc_ann, acc_ann - acc_q], [f"QANN (QCFS, L = {declared})", acc_q, 0.0],
         [f"SNN, QAT, declared T = {declared}, window timing", acc_snn, acc_snn - acc_q]],
    )
    xs, ys = x_te[:subset], y_te[:subset]
    rows, series = [], {}
    for T in STEPS:
        snns = {
            "QAT window": to_snn(qmodel, None, T, mode="qat"),
            "QAT step": to_snn(qmodel, None, T, mode="qat", timing="step"),
            "training-free window (mse)": to_snn(model, cal, T, method="mse"),
        }
        r = {k: accuracy(lambda xb, n=n: n.infer(rows_of(xb))[0], xs, ys, 250) for k, n in snns.items()}
        rows.append([T, *r.values()])
        for k, v in r.items():
            series.setdefault(k, {})[T] = v
    ref_ann = accuracy(lambda xb: seq_forward(model, xb), xs, ys)
    ref_q = accuracy(lambda xb: seq_forward(qmodel, xb), xs, ys)
    table(
        f"Sequence model accuracy % vs T (first {subset} test images; float ANN {ref_ann:.2f}, QANN L={declared} {ref_q:.2f})",
        ["T", "QAT window", "QAT step", "training-free window (mse)"],
        rows,
    )
    versus_steps(series, os.path.join(out, "sequence_accuracy.png"), reference={"float ANN": ref_ann, "QANN": ref_q},
                 title="Sequence model: SNN accuracy vs T")
    print(f"\nSNN vs QANN on 1000 test images: max|logit diff| / max|logit| = {diff:.2e}, {flips} changed predictions")
    with torch.no_grad():
        block = model.layers[1]
        gates = block.fn.gate_values(block.norm(model.layers[0](rows_of(x_te[:500]))))
    print(f"\nmean gate value of the trained GatedAttention (float ANN, 500 test images): {float(gates.mean()):.3f}")
    return {"ann": model, "snn": snn, "x": rows_of(x_te[:100])}


# ---- 5. operation counts --------------------------------------------------------------------


def ops_table(cases: dict) -> None:
    rows = []
    for name, (ann_model, snn, x) in cases.items():
        batch = x.shape[1] if x.dim() == 3 else x.shape[0]
        a = count_ops(ann_model, x).per_sample(batch)
        s = snn.count_ops(x).per_sample(batch)
        rows.append([name, f"{a.mac:.3g}", f"{s.mac:.3g}", f"{s.ac:.3g}", f"{s.neuron:.3g}",
                     f"{energy(a) * 1e9:.3g}", f"{energy(s) * 1e9:.3g}", f"{energy(s) / energy(a):.3f}"])
    table(
        "Operations and energy per inference (E_MAC = 4.6 pJ, E_AC = 0.9 pJ; SNN at T = 8, window timing)",
        ["model", "ANN MAC", "SNN MAC", "SNN AC (SOP)", "SNN neuron updates", "ANN nJ", "SNN nJ", "SNN / ANN"],
        rows,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/conversion")
    p.add_argument("--quick", action="store_true", help="small subsets and one epoch: checks the script")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--epochs", type=int, default=3, help="float training epochs")
    p.add_argument("--qat-epochs", type=int, default=1, help="QCFS fine-tuning epochs")
    p.add_argument("--subset", type=int, default=2000, help="test images for the sweeps over T")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    print(f"# spikegate conversion benchmark (torch {torch.__version__}, {args.threads} thread(s))")
    operator_budgets(args.out, args.quick)
    qat_exactness(args.quick)
    split = load_fashion_mnist()
    data = split if not args.quick else (split.x_train[:3000], split.y_train[:3000], split.x_test[:1000], split.y_test[:1000])
    epochs, qat_epochs, subset = (1, 1, 200) if args.quick else (args.epochs, args.qat_epochs, args.subset)
    cnn = cnn_benchmark(data, args.out, args.quick, epochs, qat_epochs, subset)
    seq = sequence_benchmark(data, args.out, epochs, qat_epochs, subset)
    ops_table({"Fashion-MNIST CNN": (cnn["cnn"], cnn["snn"], cnn["x"]),
               "sequence model": (seq["ann"], seq["snn"], seq["x"])})
    print(f"\nplots in {args.out}/; total {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
