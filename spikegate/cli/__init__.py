"""The ``spikegate`` command. Each subcommand lives in its own module of this package and
provides ``register(subparsers)``; heavy imports happen inside the command, so ``--help`` is
instant."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

#: subcommand modules, in the order ``spikegate --help`` lists them
COMMANDS: tuple[str, ...] = ("demo", "simulate", "train", "eval", "run", "diffuse", "deploy")

DESCRIPTION = """\
spikegate: spiking neural networks for training, biological simulation and deployment.

Every command writes its results (HDF5 recordings, PNG figures, checkpoints) into the
folder given by --out and prints a summary. Run `spikegate COMMAND --help` for details.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spikegate", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    from spikegate import __version__

    parser.add_argument("--version", action="version", version=f"spikegate {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name in COMMANDS:
        importlib.import_module(f"spikegate.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as e:
        print(f"spikegate {args.command}: error: {e}", file=sys.stderr)
        return 1
