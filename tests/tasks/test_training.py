"""`spikegate train` / `eval`: a tiny run lowers the loss, seeds reproduce, resume after a kill
continues exactly, and two DDP processes agree with each other and with one process."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from spikegate.cli import main
from spikegate.io import load_checkpoint
from spikegate.tasks.training import TrainConfig, train

TINY = ["--data", "digits", "--model", "mlp", "--hidden", "32", "--steps", "4", "--batch", "64", "--threads", "1",
        "--quiet"]


def cli(args, out):
    return [sys.executable, "-m", "spikegate", "train", *TINY, *args, "--out", str(out)]


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=240, **kw)


@pytest.mark.parametrize("neuron, encoder, loss", [("lif", "direct", "ce"), ("meta", "rate", "rate"),
                                                   ("cuba", "latency", "ce")])
def test_tiny_run_lowers_the_loss_and_writes_files(tmp_path, neuron, encoder, loss):
    readout = "spikes" if loss == "rate" else "potential"
    config = TrainConfig(data="digits", hidden=(32,), steps=4, epochs=2, batch=32, lr=5e-3, neuron=neuron,
                         encoder=encoder, learnable=True, loss=loss, readout=readout)
    m = train(config, tmp_path, progress=False)
    loss = m["history"]["train_loss"]
    assert loss[-1] < loss[0] and m["test_acc"] > 0.3  # ten classes: chance is 0.1
    assert {"checkpoint.pt", "metrics.json", "learning_curve.png"} <= set(os.listdir(tmp_path))
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    assert ckpt["epoch"] == 2 and ckpt["config"]["neuron"] == neuron


def test_same_seed_same_run_and_eval_matches(tmp_path, capsys):
    args = [*TINY[:-1], "--epochs", "1", "--neuron", "meta", "--encoder", "rate", "--quiet"]
    assert main(["train", *args, "--out", str(tmp_path / "a")]) == 0
    assert main(["train", *args, "--out", str(tmp_path / "b")]) == 0
    a = load_checkpoint(tmp_path / "a" / "checkpoint.pt")["model"]
    b = load_checkpoint(tmp_path / "b" / "checkpoint.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert main(["train", *args, "--seed", "1", "--out", str(tmp_path / "c")]) == 0
    c = load_checkpoint(tmp_path / "c" / "checkpoint.pt")["model"]
    assert not torch.equal(a["layers.1.weight"], c["layers.1.weight"])
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "a" / "checkpoint.pt")]) == 0
    assert "test accuracy" in capsys.readouterr().out


def test_resume_after_kill_continues_exactly(tmp_path):
    ref, killed = tmp_path / "ref", tmp_path / "killed"
    args = ["--epochs", "6", "--lr", "3e-3"]
    proc = subprocess.Popen(cli(args, killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = killed / "checkpoint.pt"
    deadline = time.time() + 200
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    done = load_checkpoint(ckpt)["epoch"]
    assert 1 <= done < 6
    r = run(cli([*args, "--resume"], killed))
    assert r.returncode == 0, r.stderr
    assert run(cli(args, ref)).returncode == 0
    a, b = load_checkpoint(ref / "checkpoint.pt"), load_checkpoint(ckpt)
    assert b["epoch"] == 6
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert a["history"]["test_acc"] == b["history"]["test_acc"]
    changed = run(cli(["--epochs", "6", "--lr", "1e-3", "--resume"], killed))
    assert changed.returncode == 1 and "lr" in changed.stderr


def test_two_ddp_processes_agree(tmp_path):
    args = ["--epochs", "2", "--batch", "64"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "spikegate",
           "train", *TINY, *args, "--out", str(tmp_path / "ddp")]
    r = run(cmd, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    metrics = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["replica_divergence"] == 0.0
    assert run(cli(args, tmp_path / "one")).returncode == 0
    a = load_checkpoint(tmp_path / "ddp" / "checkpoint.pt")["model"]
    b = load_checkpoint(tmp_path / "one" / "checkpoint.pt")["model"]
    for k in a:  # the same global batches: the averaged gradient equals one process's
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)


def test_bad_configuration():
    with pytest.raises(ValueError, match="neuron"):
        TrainConfig(neuron="hh")
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="readout='spikes'"):
        TrainConfig(loss="rate")
    assert main(["train", "--data", "fashion-mnist", "--data-root", "/nonexistent", "--quiet", "--out", "/tmp/x"]) == 1


def test_resume_accepts_checkpoints_from_before_a_new_option():
    from spikegate.tasks.training import _check_resume

    stored = TrainConfig().as_dict()
    del stored["loss"]  # written before the option existed: it had the default
    _check_resume(stored, TrainConfig(epochs=20))
    with pytest.raises(ValueError, match="loss"):
        _check_resume(stored, TrainConfig(loss="rate", readout="spikes"))
