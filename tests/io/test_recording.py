import os
import signal
import subprocess
import sys
import textwrap
import time

import h5py
import numpy as np
import pytest
import torch

from spikegate.io import Recorder, RecordingError, read_recording


def test_round_trip(tmp_path):
    path = tmp_path / "rec.h5"
    g = torch.Generator().manual_seed(0)
    s_exc = (torch.rand(250, 30, generator=g) < 0.1).float()
    s_inh = (torch.rand(250, 7, generator=g) < 0.2).float()
    v = torch.randn(250, 3, generator=g)
    with Recorder(path, dt=0.5, spikes={"exc": 30, "inh": 7}, traces={"v": (3,)}, flush_every=64, attrs={"seed": 3}) as rec:
        for t in range(100):
            rec.step({"exc": s_exc[t], "inh": s_inh[t]}, {"v": v[t]})
        rec.extend({"exc": s_exc[100:], "inh": s_inh[100:]}, {"v": v[100:]})
    r = read_recording(path)
    assert r.complete and r.n_steps == 250 and r.dt == 0.5 and r.time_unit == "ms" and r.attrs["seed"] == 3
    assert np.array_equal(r.spikes["exc"].dense(250, 0.5), s_exc.numpy().astype(np.uint8))
    assert np.array_equal(r.spikes["inh"].dense(250, 0.5), s_inh.numpy().astype(np.uint8))
    np.testing.assert_array_equal(r.traces["v"], v.numpy())
    t_idx, u_idx = np.nonzero(s_exc.numpy())
    assert sorted(zip(r.spikes["exc"].times / 0.5, r.spikes["exc"].units)) == sorted(zip(t_idx.astype(float), u_idx))
    with h5py.File(path) as f:  # chunked and compressed
        assert f["spikes/exc/times"].compression == "gzip" and f["traces/v"].chunks is not None


WRITER = textwrap.dedent(
    """
    import sys, time, torch
    from spikegate.io import Recorder
    with Recorder(sys.argv[1], dt=1.0, spikes={"pop": 10}, traces={"v": (2,)}, flush_every=50) as rec:
        for t in range(10**9):
            rec.step({"pop": torch.ones(10) * (t % 3 == 0)}, {"v": torch.full((2,), float(t))})
            if t == 400:
                print("flushed", flush=True)
            if t > 400:
                time.sleep(0.001)
    """
)


def test_killed_run_keeps_what_it_flushed(tmp_path):
    path = tmp_path / "killed.h5"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "flushed"
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    r = read_recording(path)
    assert not r.complete and r.n_steps >= 400 and r.n_steps % 50 == 0
    assert r.traces["v"].shape == (r.n_steps, 2)
    np.testing.assert_array_equal(r.traces["v"][:, 0], np.arange(r.n_steps))
    assert len(r.spikes["pop"].times) == 10 * len(range(0, r.n_steps, 3))


def test_a_flush_cut_short_reads_as_of_the_steps_every_dataset_holds(tmp_path):
    # a writer killed inside a flush can leave the step count behind the data it appended, or
    # (files of older writers, which set the count before the data reached the file) ahead of a trace
    path = tmp_path / "cut.h5"
    with Recorder(path, dt=0.5, spikes={"pop": 4}, traces={"v": (2,)}, flush_every=50) as rec:
        for t in range(120):
            rec.step({"pop": torch.ones(4) * (t % 2 == 0)}, {"v": torch.full((2,), float(t))})
    with h5py.File(path, "r+") as f:
        f["n_steps"][0] = 100
    r = read_recording(path)
    assert r.n_steps == 100 and r.traces["v"].shape == (100, 2)
    assert r.spikes["pop"].times.max() == 98 * 0.5 and len(r.spikes["pop"].times) == 4 * 50
    with h5py.File(path, "r+") as f:
        f["n_steps"][0] = 120
        f["traces/v"].resize((80, 2))
    r = read_recording(path)
    assert r.n_steps == 80 and r.traces["v"].shape == (80, 2) and len(r.spikes["pop"].times) == 4 * 40
    np.testing.assert_array_equal(r.traces["v"][:, 1], np.arange(80))


def test_exception_inside_the_run_keeps_data_but_marks_incomplete(tmp_path):
    path = tmp_path / "crash.h5"
    with pytest.raises(RuntimeError):
        with Recorder(path, dt=1.0, spikes={"p": 2}) as rec:
            rec.step({"p": torch.ones(2)})
            raise RuntimeError("boom")
    r = read_recording(path)
    assert not r.complete and r.n_steps == 1 and len(r.spikes["p"].times) == 2


def test_foreign_damaged_and_missing_files(tmp_path):
    with pytest.raises(RecordingError, match="no such file"):
        read_recording(tmp_path / "nope.h5")
    text = tmp_path / "text.h5"
    text.write_text("not hdf5")
    with pytest.raises(RecordingError, match="not an HDF5 file"):
        read_recording(text)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["data"] = np.arange(3)
    with pytest.raises(RecordingError, match="not a spikegate recording"):
        read_recording(foreign)
    good = tmp_path / "good.h5"
    with Recorder(good, dt=1.0, spikes={"p": 4}) as rec:
        rec.step({"p": torch.ones(4)})
    with h5py.File(good, "a") as f:
        f.attrs["version"] = 99
    with pytest.raises(RecordingError, match="version 99"):
        read_recording(good)
    with h5py.File(good, "a") as f:
        f.attrs["version"] = 1
        del f["spikes/p/units"]
    with pytest.raises(RecordingError, match="damaged"):
        read_recording(good)
    truncated = tmp_path / "truncated.h5"
    with Recorder(truncated, dt=1.0, spikes={"p": 4}) as rec:
        rec.step({"p": torch.ones(4)})
    data = truncated.read_bytes()
    truncated.write_bytes(data[: len(data) // 3])
    with pytest.raises(RecordingError):
        read_recording(truncated)


def test_writer_validates_blocks(tmp_path):
    with Recorder(tmp_path / "v.h5", dt=1.0, spikes={"p": 3}, traces={"v": (2,)}) as rec:
        with pytest.raises(ValueError, match="spikes\\['p'\\]"):
            rec.extend({"p": torch.zeros(5, 4)}, {"v": torch.zeros(5, 2)})
        with pytest.raises(ValueError, match="give spikes"):
            rec.extend({"p": torch.zeros(5, 3)})
        with pytest.raises(ValueError, match="same number of steps"):
            rec.extend({"p": torch.zeros(5, 3)}, {"v": torch.zeros(4, 2)})
    with pytest.raises(ValueError, match="dt"):
        Recorder(tmp_path / "w.h5", dt=0.0)
    assert os.path.exists(tmp_path / "v.h5")
