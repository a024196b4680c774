"""``spikegate diffuse train | sample`` end to end on MNIST-5000 with a tiny model."""

import os

import torch

from spikegate.cli import main
from spikegate.io import load_checkpoint

TINY = ["--data", "mnist5k", "--ch", "8", "--ch-mult", "1,2", "--spike-steps", "2", "--batch", "4",
        "--warmup", "0", "--checkpoint-every", "2", "--grid", "4", "--threads", "1"]


def test_train_resume_and_sample(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert main(["diffuse", "train", *TINY, "--train-steps", "3", "--tsm-steps", "1", "--anneal", "2", "--out", out]) == 0
    ck = load_checkpoint(os.path.join(out, "checkpoint.pt"))
    assert len(ck["losses"]) == 4 and ck["config"]["tsm"] and ck["trainer"]["step"] == 1
    for name in ("loss.png", "samples.png"):
        assert os.path.getsize(os.path.join(out, name)) > 0
    # resume: one more TSM step on top of the saved state
    assert main(["diffuse", "train", *TINY, "--train-steps", "3", "--tsm-steps", "2", "--anneal", "2", "--resume",
                 "--grid", "0", "--out", out]) == 0
    ck2 = load_checkpoint(os.path.join(out, "checkpoint.pt"))
    assert torch.equal(ck2["losses"][:4], ck["losses"]) and len(ck2["losses"]) == 5
    samples = str(tmp_path / "samples")
    assert main(["diffuse", "sample", "--checkpoint", os.path.join(out, "checkpoint.pt"), "--n", "6",
                 "--sample-steps", "3", "--threshold-scale", "0.99", "--threads", "1", "--out", samples]) == 0
    x = torch.load(os.path.join(samples, "samples.pt"), weights_only=True)
    assert x.shape == (6, 1, 16, 16) and bool(torch.isfinite(x).all())
    assert os.path.getsize(os.path.join(samples, "samples.png")) > 0
    assert "wrote samples.png" in capsys.readouterr().out


def test_bad_arguments_report_errors(tmp_path, capsys):
    assert main(["diffuse", "train", "--train-steps", "0", "--out", str(tmp_path)]) == 1
    assert "--train-steps" in capsys.readouterr().err
    assert main(["diffuse", "train", "--anneal", "-1", "--out", str(tmp_path)]) == 1
    assert "--anneal" in capsys.readouterr().err
    assert main(["diffuse", "sample", "--checkpoint", str(tmp_path / "missing.pt"), "--out", str(tmp_path)]) == 1
    assert "no such checkpoint" in capsys.readouterr().err
