"""Small helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import os


def add_out(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument("--out", default=default, metavar="DIR", help=f"output folder (default: {default})")


def add_seed(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same run (default: 0)")


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def ensure_dir(path: str) -> str:
    os.makedirs(path, exist_ok=True)
    return path
