"""``spikegate train``: train a spiking classifier with surrogate gradients (BPTT).

Presets: an MLP (--hidden widths) or a convolutional network (--channels per conv stage,
then --hidden). Neurons: lif, cuba (current-based LIF) or meta (probabilistic meta-neuron);
--learnable learns their intrinsic parameters (decays / time constants, thresholds, noise)
per neuron. Image sets are encoded over --steps time steps (rate, latency or direct current);
spike datasets are used as they are. Writes checkpoint.pt after every epoch (atomically),
metrics.json and learning_curve.png into --out; --resume continues an interrupted run from its
checkpoint (give the same options). Under `torchrun --nproc_per_node=N -m spikegate train ...`
it trains with DistributedDataParallel; --batch is then the global batch.

Example: spikegate train --data fashion-mnist --model conv --epochs 10 --out runs/fmnist-conv
"""

from __future__ import annotations

import argparse

from spikegate.cli._common import add_out, add_seed, positive_float


def int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def register(sub: argparse._SubParsersAction) -> None:
    from spikegate.surrogate import KINDS
    from spikegate.tasks.data import DATASETS, ENCODERS
    from spikegate.tasks.snn import MODELS, NEURONS, READOUTS

    p = sub.add_parser("train", help="train a spiking classifier (BPTT), write checkpoints + learning curve",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", choices=DATASETS, default="digits", help="dataset (default: digits)")
    p.add_argument("--data-root", default=None, metavar="DIR",
                   help="folder of the dataset files (fashion-mnist: default Debian path; shd/ssc/nmnist: required)")
    p.add_argument("--model", choices=MODELS, default="mlp", help="network preset (default: mlp)")
    p.add_argument("--neuron", choices=NEURONS, default="lif", help="neuron model (default: lif)")
    p.add_argument("--learnable", action="store_true", help="learn the neurons' intrinsic parameters per neuron")
    p.add_argument("--encoder", choices=ENCODERS, default="direct", help="image encoder (default: direct current)")
    p.add_argument("--steps", type=int, default=8, help="time steps per image / bins per event sample (default: 8)")
    p.add_argument("--surrogate", choices=KINDS, default="atan", help="surrogate gradient (default: atan)")
    p.add_argument("--hidden", type=int_list, default=(256,), metavar="W[,W...]", help="hidden widths (default: 256)")
    p.add_argument("--channels", type=int_list, default=(32, 64), metavar="C[,C...]",
                   help="conv preset: channels per stage (default: 32,64)")
    p.add_argument("--readout", choices=READOUTS, default="potential",
                   help="potential: mean of a non-spiking output; spikes: output spike counts (default: potential)")
    p.add_argument("--loss", choices=("ce", "rate"), default="ce",
                   help="ce: cross-entropy; rate: output firing rates to targets 0.3/0.03 (needs --readout spikes)")
    p.add_argument("--epochs", type=int, default=10, help="epochs (default: 10)")
    p.add_argument("--lr", type=positive_float, default=1e-3, help="Adam learning rate (default: 1e-3)")
    p.add_argument("--schedule", choices=("cosine", "constant"), default="cosine", help="learning-rate schedule")
    p.add_argument("--batch", type=int, default=64, help="(global) batch size (default: 64)")
    p.add_argument("--augment", type=int, default=0, metavar="PX", help="random image shifts of up to PX pixels")
    p.add_argument("--backend", choices=("auto", "reference", "cpu", "cuda"), default="auto", help="neuron kernels")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--resume", action="store_true", help="continue from --out/checkpoint.pt")
    p.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")
    add_seed(p)
    add_out(p, "runs/train")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from spikegate.tasks.training import TrainConfig, train

    if args.threads is not None:
        torch.set_num_threads(max(1, args.threads))
    config = TrainConfig(
        data=args.data, data_root=args.data_root, model=args.model, neuron=args.neuron, learnable=args.learnable,
        encoder=args.encoder, steps=args.steps, surrogate=args.surrogate, hidden=args.hidden, channels=args.channels,
        readout=args.readout, loss=args.loss, epochs=args.epochs, lr=args.lr, batch=args.batch, seed=args.seed,
        augment=args.augment,
        schedule=args.schedule, backend=args.backend,
    )
    metrics = train(config, args.out, resume=args.resume, progress=not args.quiet)
    if int(metrics["world_size"]) == 1 or int(__import__("os").environ.get("RANK", "0")) == 0:
        print(f"{config.model} {config.neuron}{' (learnable)' if config.learnable else ''} on {config.data}: "
              f"test accuracy {100 * metrics['test_acc']:.2f}% after {config.epochs} epochs, "
              f"{metrics['wall_s']:.1f} s on {metrics['world_size']} process(es); wrote {args.out}")
    return 0
