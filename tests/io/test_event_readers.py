"""SHD/SSC HDF5 and N-MNIST .bin readers, on small files written here in the published layouts."""

import h5py
import numpy as np
import pytest

from spikegate.io.datasets import DatasetFormatError, DatasetMissing
from spikegate.io.events import bin_events, decode_nmnist, events_to_frames, load_nmnist, read_nmnist_bin, read_shd


def write_shd(path, times, units, labels, keys=None):
    with h5py.File(path, "w") as f:
        t = f.create_dataset("spikes/times", (len(times),), dtype=h5py.vlen_dtype(np.float16))
        u = f.create_dataset("spikes/units", (len(units),), dtype=h5py.vlen_dtype(np.uint16))
        for i, (ti, ui) in enumerate(zip(times, units)):
            t[i], u[i] = np.asarray(ti, np.float16), np.asarray(ui, np.uint16)
        f.create_dataset("labels", data=np.asarray(labels, np.uint16))
        f.create_dataset("extra/speaker", data=np.zeros(len(labels), np.uint16))
        if keys is not None:
            f.create_dataset("extra/keys", data=np.array(keys, dtype=h5py.string_dtype()))


def test_shd_roundtrip_and_binning(tmp_path):
    times = [[0.01, 0.5, 1.35], [0.25]]
    units = [[3, 699, 3], [10]]
    write_shd(tmp_path / "shd_train.h5", times, units, [4, 19], keys=[f"w{i}" for i in range(20)])
    ev = read_shd(tmp_path / "shd_train.h5")
    assert ev.labels.tolist() == [4, 19] and ev.keys[19] == "w19"
    np.testing.assert_allclose(ev.times[0], times[0], atol=5e-4)  # float16 seconds
    assert ev.units[0].tolist() == [3, 699, 3]
    x = bin_events(ev.times, ev.units, n_units=700, steps=14, max_time=1.4)
    assert x.shape == (2, 14, 700) and x.sum() == 4
    assert x[0, 0, 3] == 1 and x[0, 5, 699] == 1 and x[0, 13, 3] == 1 and x[1, 2, 10] == 1


def test_shd_errors(tmp_path):
    with pytest.raises(DatasetMissing, match="zenkelab"):
        read_shd(tmp_path / "missing.h5")
    with h5py.File(tmp_path / "bad.h5", "w") as f:
        f.create_dataset("labels", data=[1])
    with pytest.raises(DatasetFormatError, match="spikes/times"):
        read_shd(tmp_path / "bad.h5")
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(DatasetFormatError, match="not an HDF5"):
        read_shd(tmp_path / "text.h5")


def encode_nmnist(x, y, p, t):
    """Writer written from the published bit layout (independent of the reader)."""
    out = bytearray()
    for xi, yi, pi, ti in zip(x, y, p, t):
        xi, yi, pi, ti = int(xi), int(yi), int(pi), int(ti)
        word = (xi << 32) | (yi << 24) | (pi << 23) | (ti & 0x7FFFFF)
        out += word.to_bytes(5, "big")
    return bytes(out)


def test_nmnist_decoding_with_overflow_marker(tmp_path):
    data = encode_nmnist([1, 33, 0, 5], [2, 0, 240, 7], [1, 0, 0, 1], [100, 8_000_000, 0, 50])
    ev = decode_nmnist(data)
    assert ev["x"].tolist() == [1, 33, 5] and ev["y"].tolist() == [2, 0, 7] and ev["p"].tolist() == [1, 0, 1]
    assert ev["t"].tolist() == [100, 8_000_000, 50 + 2**13]  # the marker is dropped, later times shift
    with pytest.raises(DatasetFormatError, match="multiple of 5"):
        decode_nmnist(data[:-1])


def test_nmnist_folder_layout_and_frames(tmp_path):
    rng = np.random.default_rng(0)
    for split, n in (("Train", 2), ("Test", 1)):
        for digit in (0, 7):
            d = tmp_path / split / str(digit)
            d.mkdir(parents=True)
            for k in range(n):
                m = 50
                (d / f"{k:05d}.bin").write_bytes(encode_nmnist(
                    rng.integers(0, 34, m), rng.integers(0, 34, m), rng.integers(0, 2, m), np.sort(rng.integers(0, 300_000, m))))
    events, labels = load_nmnist(tmp_path, "Train")
    assert labels.tolist() == [0, 0, 7, 7] and all(len(e) == 50 for e in events)
    frames = events_to_frames(events[0], steps=10, duration_us=300_000)
    assert frames.shape == (10, 2, 34, 34)
    e = events[0]
    k = (e["t"] * 10 // 300_000).astype(int)
    assert all(frames[ki, pi, yi, xi] == 1 for ki, pi, yi, xi in zip(k, e["p"], e["y"], e["x"]))
    assert frames.sum() == len({(ki, pi, yi, xi) for ki, pi, yi, xi in zip(k, e["p"], e["y"], e["x"])})
    assert len(read_nmnist_bin(tmp_path / "Test" / "7" / "00000.bin")) == 50
    with pytest.raises(DatasetMissing, match="garrickorchard"):
        load_nmnist(tmp_path / "nowhere")
