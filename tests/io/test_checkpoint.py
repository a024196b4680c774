import os

import pytest
import torch

from spikegate.io import CheckpointError, load_checkpoint, save_checkpoint
from spikegate.neurons import LIF


def test_round_trip_weights_only(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), LIF(0.9, shape=4, learn_beta=True))
    path = tmp_path / "ck.pt"
    save_checkpoint(path, {"model": model.state_dict(), "epoch": 3, "config": {"lr": 1e-3, "neuron": "lif"}})
    data = load_checkpoint(path)
    assert data["epoch"] == 3 and data["config"]["neuron"] == "lif"
    fresh = torch.nn.Sequential(torch.nn.Linear(3, 4), LIF(0.9, shape=4, learn_beta=True))
    fresh.load_state_dict(data["model"])
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values()):
        assert torch.equal(a, b)


def test_crash_while_writing_leaves_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ck.pt"
    save_checkpoint(path, {"epoch": 1})

    def broken_save(obj, fh):
        fh.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"epoch": 2})
    monkeypatch.undo()
    assert load_checkpoint(path)["epoch"] == 1
    assert os.listdir(tmp_path) == ["ck.pt"]


def test_rejects_foreign_old_damaged_and_pickled_files(tmp_path):
    with pytest.raises(CheckpointError, match="no such"):
        load_checkpoint(tmp_path / "none.pt")
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(CheckpointError, match="not a spikegate checkpoint"):
        load_checkpoint(foreign)
    old = tmp_path / "old.pt"
    torch.save({"format": "spikegate.checkpoint", "version": 0, "model": {}}, old)
    with pytest.raises(CheckpointError, match="version 0"):
        load_checkpoint(old)
    damaged = tmp_path / "damaged.pt"
    save_checkpoint(damaged, {"x": torch.arange(1000)})
    damaged.write_bytes(damaged.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="not a loadable"):
        load_checkpoint(damaged)
    evil = tmp_path / "evil.pt"
    torch.save({"format": "spikegate.checkpoint", "version": 1, "obj": LIF(0.9)}, evil)  # a pickled module
    with pytest.raises(CheckpointError, match="not a loadable"):
        load_checkpoint(evil)
    with pytest.raises(ValueError, match="reserved"):
        save_checkpoint(tmp_path / "x.pt", {"version": 2})
