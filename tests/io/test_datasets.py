import gzip
import struct

import numpy as np
import pytest
import torch

from spikegate.io import (
    DatasetFormatError,
    DatasetMissing,
    load_digits,
    load_fashion_mnist,
    read_idx,
    stratified_split,
)


def write_idx(path, array: np.ndarray, compress: bool = True) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    (gzip.open if compress else open)(path, "wb").write(payload)


def fake_fashion(root, n_train=12, n_test=5, compress=True):
    rng = np.random.default_rng(0)
    suffix = ".gz" if compress else ""
    parts = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test),
    }
    for name, arr in parts.items():
        write_idx(root / (name + suffix), arr, compress)
    return parts


@pytest.mark.parametrize("compress", [True, False])
def test_fashion_mnist_reader_on_files_in_the_real_layout(tmp_path, compress):
    parts = fake_fashion(tmp_path, compress=compress)
    ds = load_fashion_mnist(tmp_path)
    assert ds.x_train.shape == (12, 1, 28, 28) and ds.x_test.shape == (5, 1, 28, 28)
    assert ds.x_train.dtype == torch.float32 and ds.x_train.max() <= 1.0
    np.testing.assert_array_equal((ds.x_train[:, 0] * 255).round().numpy(), parts["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(ds.y_test.numpy(), parts["t10k-labels-idx1-ubyte"])


def test_installed_fashion_mnist_when_present():
    try:
        ds = load_fashion_mnist()
    except DatasetMissing:
        pytest.skip("dataset-fashion-mnist is not installed here")
    assert ds.x_train.shape == (60000, 1, 28, 28) and ds.x_test.shape == (10000, 1, 28, 28)
    assert torch.bincount(ds.y_train).tolist() == [6000] * 10


def test_missing_and_corrupt_files_say_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv("SPIKEGATE_FASHION_MNIST", raising=False)
    with pytest.raises(DatasetMissing, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist(tmp_path)
    bad = tmp_path / "bad.idx"
    bad.write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(DatasetFormatError, match="magic"):
        read_idx(bad)
    short = tmp_path / "short.idx"
    short.write_bytes(bytes([0, 0, 8, 2]) + struct.pack(">2I", 3, 3) + b"\x00" * 5)
    with pytest.raises(DatasetFormatError, match="payload"):
        read_idx(short)
    fake_fashion(tmp_path / "ok", compress=True) if (tmp_path / "ok").mkdir() is None else None
    monkeypatch.setenv("SPIKEGATE_FASHION_MNIST", str(tmp_path / "ok"))
    assert load_fashion_mnist().x_train.shape[0] == 12


def test_digits_and_stratified_split():
    x, y = load_digits()
    assert x.shape == (1797, 1, 8, 8) and float(x.max()) == 1.0
    split = stratified_split(x, y, 0.2, seed=1)
    assert len(split.y_test) + len(split.y_train) == 1797
    per_class = torch.bincount(split.y_test, minlength=10)
    assert torch.all((per_class >= 35) & (per_class <= 37))
    again = stratified_split(x, y, 0.2, seed=1)
    assert torch.equal(split.y_test, again.y_test)
    with pytest.raises(ValueError, match="test_fraction"):
        stratified_split(x, y, 1.5)
