"""Loihi-aware training on scikit-learn's 8x8 digits: the deployable classifier of the main job.

Data: the 1797 digits (``spikegate.io.load_digits``), a stratified 80/20 split, each pixel
rate-coded as a Bernoulli spike train of ``steps`` steps with probability = intensity (0..1).
Model: ``LoihiLinear(64, hidden) -> LoihiCubaLIF -> LoihiLinear(hidden, 10) -> LoihiCubaLIF``,
the float twin of the chip (weights, decays and thresholds rounded to Loihi's grid in the
forward pass, straight through in the backward pass). Readout: the output neuron with most
spikes (ties go to the lowest index, identically on every back end). Loss: cross-entropy of the
spike counts (scaled by ``count_scale``). Test spikes are drawn once from a fixed seed, so the
PyTorch model, the integer model, the emulator and Lava all see the same input.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import torch
from torch import Tensor, nn

from spikegate.encoding import bernoulli
from spikegate.neurons import Sequential
from spikegate.neurons.loihi import LoihiCubaLIF, LoihiLinear

TASK = "loihi_digits"


class DigitsConfig(NamedTuple):
    """Hyper-parameters (all plain values, stored in the checkpoint)."""

    hidden: int = 128
    steps: int = 16
    epochs: int = 15
    batch: int = 32
    lr: float = 3e-3
    current_decay: float = 1.0
    voltage_decay: float = 0.125
    threshold: float = 1.0
    weight_exp: int = 0
    count_scale: float = 0.5
    test_fraction: float = 0.2
    seed: int = 0


def build_model(cfg: DigitsConfig) -> Sequential:
    """The float twin ``64 -> hidden -> 10`` (module docstring)."""
    def lif(n: int) -> LoihiCubaLIF:
        return LoihiCubaLIF(cfg.current_decay, cfg.voltage_decay, cfg.threshold, shape=n, surrogate="fast_sigmoid")

    return Sequential(
        LoihiLinear(64, cfg.hidden, weight_exp=cfg.weight_exp), lif(cfg.hidden),
        LoihiLinear(cfg.hidden, 10, weight_exp=cfg.weight_exp), lif(10),
    )


def load_split(cfg: DigitsConfig) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(x_train [N, 64], y_train, x_test [M, 64], y_test)``, intensities in [0, 1]."""
    from spikegate.io import load_digits, stratified_split

    x, y = load_digits()
    s = stratified_split(x.flatten(1), y, cfg.test_fraction, seed=cfg.seed)
    return s.x_train, s.y_train, s.x_test, s.y_test


def encode(x: Tensor, steps: int, generator: torch.Generator) -> Tensor:
    """Rate coding: ``x: [N, 64]`` in [0, 1] -> spikes ``[steps, N, 64]`` (float 0/1)."""
    return bernoulli(x, steps, generator=generator)


def test_set(cfg: DigitsConfig) -> tuple[Tensor, Tensor]:
    """The fixed test spikes ``[steps, M, 64]`` and labels ``[M]`` (seed ``cfg.seed + 1``)."""
    _, _, x_test, y_test = load_split(cfg)
    return encode(x_test, cfg.steps, torch.Generator().manual_seed(cfg.seed + 1)), y_test


def predict(out_spikes: Tensor) -> Tensor:
    """Class of each sample from output spikes ``[T, B, 10]``: most spikes, lowest index on ties."""
    return out_spikes.to(torch.int64).sum(0).argmax(-1)


def float_accuracy(model: nn.Module, spikes: Tensor, labels: Tensor, batch: int = 512) -> float:
    """Accuracy of the PyTorch model on ``spikes: [T, B, 64]``."""
    correct = 0
    with torch.no_grad():
        for i in range(0, spikes.shape[1], batch):
            out, _ = model(spikes[:, i:i + batch].float())
            correct += int((predict(out) == labels[i:i + batch]).sum())
    return correct / spikes.shape[1]


def train(
    cfg: DigitsConfig | None = None, *, log: Callable[[str], None] | None = None
) -> tuple[Sequential, list[float]]:
    """Train the float twin (``cfg=None``: the defaults); returns the model and the test
    accuracy after every epoch."""
    cfg = DigitsConfig() if cfg is None else cfg
    torch.manual_seed(cfg.seed)
    g = torch.Generator().manual_seed(cfg.seed)
    x_train, y_train, _, _ = load_split(cfg)
    test_x, test_y = test_set(cfg)
    model = build_model(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.epochs)
    history = []
    for epoch in range(cfg.epochs):
        model.train()
        order = torch.randperm(len(y_train), generator=g)
        for i in range(0, len(order), cfg.batch):
            idx = order[i:i + cfg.batch]
            out, _ = model(encode(x_train[idx], cfg.steps, g))
            loss = nn.functional.cross_entropy(out.sum(0) * cfg.count_scale, y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
        model.eval()
        history.append(float_accuracy(model, test_x, test_y))
        if log is not None:
            log(f"  epoch {epoch + 1:>2}/{cfg.epochs}: loss {loss.item():.3f}, test accuracy {history[-1]:.2%}")
    return model, history


def checkpoint_payload(model: nn.Module, cfg: DigitsConfig) -> dict[str, Any]:
    """What :func:`spikegate.io.save_checkpoint` stores for this task."""
    return {"task": TASK, "config": cfg._asdict(), "model": model.state_dict()}


def from_checkpoint(payload: dict[str, Any]) -> tuple[Sequential, DigitsConfig]:
    """Rebuild the trained model and its configuration from a loaded checkpoint."""
    if payload.get("task") != TASK:
        raise ValueError(f"checkpoint holds task {payload.get('task')!r}, not {TASK!r}")
    known = set(DigitsConfig._fields)
    extra = set(payload["config"]) - known
    if extra:
        raise ValueError(f"checkpoint config has unknown fields {sorted(extra)}")
    cfg = DigitsConfig(**payload["config"])
    model = build_model(cfg)
    model.load_state_dict(payload["model"])
    model.eval()
    return model, cfg
