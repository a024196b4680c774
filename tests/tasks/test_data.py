"""Datasets by name and the batch encoders of `spikegate train`."""

import pytest
import torch

from spikegate.tasks.data import encode, load_task, shift_augment
from tests.io.test_event_readers import encode_nmnist, write_shd


def test_synthetic_tasks_are_seeded_and_split_90_10():
    a, b, c = load_task("lzc-markov", seed=3), load_task("lzc-markov", seed=3), load_task("lzc-markov", seed=4)
    assert a.kind == "spikes" and a.features == (50,) and a.n_classes == 2
    assert a.x_train.shape == (1800, 200, 50) and a.x_test.shape == (200, 200, 50)
    assert torch.equal(a.x_train, b.x_train) and not torch.equal(a.x_train, c.x_train)


def test_shd_and_nmnist_from_a_root_folder(tmp_path):
    write_shd(tmp_path / "shd_train.h5", [[0.1, 0.2], [1.0]], [[1, 2], [3]], [0, 1])
    write_shd(tmp_path / "shd_test.h5", [[0.5]], [[4]], [1])
    d = load_task("shd", root=tmp_path, steps=7)
    assert d.x_train.shape == (2, 7, 700) and d.y_test.tolist() == [1] and d.features == (700,)
    for split in ("Train", "Test"):
        for digit in (1, 2):
            folder = tmp_path / split / str(digit)
            folder.mkdir(parents=True)
            (folder / "a.bin").write_bytes(encode_nmnist([digit], [3], [1], [1000]))
    n = load_task("nmnist", root=tmp_path, steps=5)
    assert n.x_train.shape == (2, 5, 2, 34, 34) and n.features == (2, 34, 34)
    assert n.x_train[1, 0, 1, 3, 2] == 1 and n.y_train.tolist() == [1, 2]
    with pytest.raises(ValueError, match="needs root"):
        load_task("ssc")


@pytest.mark.parametrize("encoder", ["rate", "latency", "direct"])
def test_encoders(encoder):
    x = torch.rand(3, 1, 4, 4)
    s = encode(x, "image", encoder, 6, generator=torch.Generator().manual_seed(0))
    assert s.shape == (6, 3, 1, 4, 4)
    if encoder == "direct":
        assert s.stride(0) == 0 and torch.equal(s[5], x)
    else:
        assert set(s.unique().tolist()) <= {0.0, 1.0}
    spikes = torch.randint(0, 2, (3, 6, 5), dtype=torch.uint8)
    assert torch.equal(encode(spikes, "spikes", encoder, 99), spikes.transpose(0, 1).float())


def test_shift_augment_moves_images_without_changing_them():
    x = torch.zeros(64, 1, 9, 9)
    x[:, 0, 4, 4] = 1.0
    y = shift_augment(x, 2, generator=torch.Generator().manual_seed(0))
    assert torch.equal(y.sum((1, 2, 3)), torch.ones(64))
    pos = y[:, 0].flatten(1).argmax(1)
    rows, cols = pos // 9, pos % 9
    assert rows.min() == 2 and rows.max() == 6 and cols.min() == 2 and cols.max() == 6
    assert torch.equal(shift_augment(x, 0), x)
