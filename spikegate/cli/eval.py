"""``spikegate eval CKPT``: test accuracy of a checkpoint written by ``spikegate train``.

Rebuilds the network from the configuration stored in the checkpoint, loads the dataset it was
trained on (--data-root overrides the stored folder) and prints the test loss and accuracy.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate a training checkpoint on its test set",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", metavar="CKPT", help="checkpoint.pt written by spikegate train")
    p.add_argument("--data-root", default=None, metavar="DIR", help="folder of the dataset files")
    p.add_argument("--batch", type=int, default=256, help="evaluation batch (default: 256)")
    p.add_argument("--seed", type=int, default=0, help="seed for stochastic encoders and neurons (default: 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spikegate.tasks.training import evaluate

    r = evaluate(args.checkpoint, data_root=args.data_root, batch=args.batch, seed=args.seed)
    print(f"{args.checkpoint}: test accuracy {100 * r['test_acc']:.2f}% ({int(r['samples'])} samples), "
          f"loss {r['test_loss']:.4f}, after {int(r['epochs'])} epochs; evaluated in {r['seconds']:.2f} s")
    return 0
