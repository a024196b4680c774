"""``spikegate deploy`` on the emulator, and the Loihi part of ``spikegate demo``."""

from __future__ import annotations

import json

import pytest
import torch

from spikegate.cli import main
from spikegate.cli.demo import loihi_digits
from spikegate.export.lava import Network, read_netx
from spikegate.io import save_checkpoint
from spikegate.tasks import loihi_digits as task

TINY = task.DigitsConfig(hidden=32, steps=8, epochs=1, batch=32, lr=5e-3)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model, _ = task.train(TINY)
    finally:
        torch.set_num_threads(threads)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, task.checkpoint_payload(model, TINY))
    return path, model


def test_deploy_to_emulator_matches_the_integer_model(checkpoint, tmp_path, capsys):
    path, model = checkpoint
    assert main(["deploy", str(path), "--target", "emulator", "--samples", "80", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "PyTorch (float twin) accuracy" in out and "emulator accuracy" in out and "SynOps" in out
    report = json.loads((tmp_path / "deploy.json").read_text())
    assert report["samples"] == 80 and report["spike_mismatches"] == 0 and report["spikes_compared"] > 0
    assert report["target_accuracy"] == report["integer_accuracy"] > 0.3
    assert abs(report["float_accuracy"] - report["integer_accuracy"]) <= 0.1
    assert read_netx(tmp_path / "network.net") == Network.from_module(model, 64)


def test_deploy_reports_bad_checkpoints(tmp_path, capsys):
    assert main(["deploy", str(tmp_path / "missing.pt")]) == 1
    assert "no such checkpoint" in capsys.readouterr().err
    other = tmp_path / "other.pt"
    save_checkpoint(other, {"task": "something-else"})
    assert main(["deploy", str(other), "--out", str(tmp_path)]) == 1
    assert "cannot be deployed" in capsys.readouterr().err


def test_demo_trains_and_deploys_the_digits_model(tmp_path, capsys):
    loihi_digits(str(tmp_path), seed=0, epochs=1)
    out = capsys.readouterr().out
    assert "PyTorch model" in out and "Loihi emulator" in out and "0 spikes differ" in out
    assert (tmp_path / "loihi_digits.pt").exists()
