"""Kernel tests: Triton runs on the CPU through its interpreter when no GPU is present (set before
any Triton kernel is defined)."""

import os

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
