import subprocess
import sys

import pytest

from spikegate.cli import COMMANDS, main
from spikegate.io import read_recording


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "spikegate", *args], capture_output=True, text=True, timeout=300)


def test_top_level_help_lists_every_command():
    out = run_cli("--help")
    assert out.returncode == 0
    for name in COMMANDS:
        assert name in out.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as e:
        main([command, "--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    assert f"usage: spikegate {command}" in text and len(text.splitlines()) > 5


def test_simulate_writes_recording_and_figures(tmp_path):
    out = tmp_path / "sim"
    assert main(["simulate", "--model", "izhikevich", "--preset", "CH", "--n", "7", "--input", "constant",
                 "--duration", "300", "--chunk", "250", "--out", str(out)]) == 0
    rec = read_recording(out / "recording.h5")
    assert rec.complete and rec.n_steps == 600 and rec.traces["v"].shape == (600, 5)
    assert len(rec.spikes["population"].times) > 7 * 5
    for name in ("raster", "membrane", "rate", "isi"):
        assert (out / f"{name}.png").stat().st_size > 2000


@pytest.mark.parametrize("model", ["lif", "cuba", "meta"])
def test_simulate_lif_types(tmp_path, model, capsys):
    assert main(["simulate", "--model", model, "--n", "4", "--duration", "100", "--input", "poisson",
                 "--out", str(tmp_path)]) == 0
    assert "mean rate" in capsys.readouterr().out


def test_same_seed_same_recording(tmp_path):
    args = ["simulate", "--model", "lif", "--n", "5", "--duration", "200", "--seed", "4"]
    main(args + ["--out", str(tmp_path / "a")])
    main(args + ["--out", str(tmp_path / "b")])
    a, b = read_recording(tmp_path / "a" / "recording.h5"), read_recording(tmp_path / "b" / "recording.h5")
    assert (a.spikes["population"].times == b.spikes["population"].times).all()


def test_demo_runs_the_network(tmp_path):
    out = run_cli("demo", "--duration", "200", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "excitatory rate" in out.stdout
    rec = read_recording(tmp_path / "recording.h5")
    assert rec.spikes["exc"].n_units == 800 and rec.spikes["inh"].n_units == 200
    assert (tmp_path / "raster.png").exists()


def test_bad_arguments_give_a_message(capsys):
    assert main(["simulate", "--n", "0"]) == 1
    assert "--n must be >= 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["simulate", "--duration", "-5"])
