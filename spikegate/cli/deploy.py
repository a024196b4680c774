"""``spikegate deploy CKPT --target lava|emulator``: run a trained model on a Loihi emulator.

Loads a checkpoint written by a deployable task (``spikegate demo`` writes
``loihi_digits.pt``), converts the float twin to Loihi's integer network, runs the task's
test set through the PyTorch model, spikegate's integer model and the target (``emulator``:
spikegate's numba emulator; ``lava``: Intel Lava's bit-accurate models in the Python 3.10
environment built by ``make lava-env``), with a progress bar, and prints the accuracies, the
number of spikes that differ between the integer model and the target (0 when the target is
exact) and the operations and energy per inference. Writes the network as a netx file
(``network.net``) and the numbers as ``deploy.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from spikegate.cli._common import add_out, ensure_dir

#: task name stored in a checkpoint -> module with ``from_checkpoint`` and ``test_set``
TASKS = {"loihi_digits": "spikegate.tasks.loihi_digits"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "deploy", help="run a trained model on the Loihi emulator (spikegate's or Lava's)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("checkpoint", metavar="CKPT",
                   help="checkpoint of a deployable task (e.g. runs/demo/loihi_digits.pt)")
    p.add_argument("--target", choices=("emulator", "lava"), default="emulator",
                   help="emulator: spikegate's numba emulator; lava: Intel Lava (default: emulator)")
    p.add_argument("--samples", type=int, default=None, help="use only the first N test samples (default: all)")
    add_out(p, "runs/deploy")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import importlib

    from tqdm import tqdm

    from spikegate.export.lava import LavaError, LavaUnavailable, write_netx
    from spikegate.export.lava.deploy import deploy
    from spikegate.io import load_checkpoint

    payload = load_checkpoint(args.checkpoint)
    task = payload.get("task")
    if task not in TASKS:
        raise ValueError(f"{args.checkpoint}: task {task!r} cannot be deployed (known: {', '.join(TASKS)})")
    module = importlib.import_module(TASKS[task])
    model, cfg = module.from_checkpoint(payload)
    spikes, labels = module.test_set(cfg)
    if args.samples is not None:
        if args.samples < 1:
            raise ValueError(f"--samples must be >= 1, got {args.samples}")
        spikes, labels = spikes[:, : args.samples], labels[: args.samples]
    with tqdm(total=spikes.shape[1], desc=f"{args.target}", unit="sample", file=sys.stderr) as bar:
        try:
            result = deploy(model, spikes, labels, target=args.target, progress=bar.update)
        except (LavaUnavailable, LavaError) as e:
            print(f"spikegate deploy: error: {e}", file=sys.stderr)
            return 1
    out = ensure_dir(args.out)
    net_path = os.path.join(out, "network.net")
    try:
        write_netx(result.network, net_path)
    except ValueError:  # needs spikegate's netx extensions (weight exponent / bias exponent)
        write_netx(result.network, net_path, extensions=True)
    print(result.summary())
    print(result.ops.table())
    report = {k: v for k, v in result._asdict().items() if k not in ("network", "ops")}
    report["ops_per_inference"] = [layer._asdict() for layer in result.ops.layers]
    report["loihi_energy_j"] = result.ops.loihi_energy()
    with open(os.path.join(out, "deploy.json"), "w") as fh:
        json.dump(report, fh, indent=2)
    print(f"  wrote {net_path} and deploy.json in {out}")
    return 0
