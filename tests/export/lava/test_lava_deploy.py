"""``spikegate deploy --target lava``: a trained model on Intel Lava gives the integer model's
accuracy, with no spike differing."""

from __future__ import annotations

import json

import pytest

from spikegate.cli import main
from spikegate.io import save_checkpoint
from spikegate.tasks import loihi_digits as task

pytestmark = pytest.mark.lava


def test_deploy_to_lava_equals_the_integer_model(lava_env, tmp_path, capsys):
    cfg = task.DigitsConfig(hidden=32, steps=8, epochs=1, batch=32, lr=5e-3)
    model, _ = task.train(cfg)
    ckpt = tmp_path / "tiny.pt"
    save_checkpoint(ckpt, task.checkpoint_payload(model, cfg))
    assert main(["deploy", str(ckpt), "--target", "lava", "--samples", "60", "--out", str(tmp_path)]) == 0
    assert "lava accuracy" in capsys.readouterr().out
    report = json.loads((tmp_path / "deploy.json").read_text())
    assert report["spike_mismatches"] == 0 and report["spikes_compared"] == 60 * 8 * 42
    assert report["target_accuracy"] == report["integer_accuracy"] > 0.3
