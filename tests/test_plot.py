import numpy as np
import pytest
import torch

from spikegate import plot

PNG = b"\x89PNG\r\n\x1a\n"


def _is_png(path) -> bool:
    return path.exists() and path.read_bytes()[:8] == PNG and path.stat().st_size > 2000


def test_every_plot_writes_a_png(tmp_path):
    g = torch.Generator().manual_seed(0)
    spikes = (torch.rand(500, 40, generator=g) < 0.03).float()
    v = torch.cumsum(torch.randn(500, 3, generator=g), 0)
    plot.raster(spikes, tmp_path / "raster.png", dt=0.5, groups={"e": (0, 30), "i": (30, 40)})
    plot.raster((np.array([1.0, 2.0]), np.array([0, 3])), tmp_path / "raster2.png")
    plot.membrane(v, tmp_path / "v.png", dt=0.5, threshold=1.0, spikes=spikes[:, :3], labels=["a", "b", "c"])
    plot.membrane(v[:, 0], tmp_path / "v1.png")
    plot.population_rate(spikes, tmp_path / "rate.png", dt=0.5, bin_ms=10)
    plot.isi_histogram(spikes, tmp_path / "isi.png", dt=0.5)
    plot.learning_curve({"train_loss": [1.0, 0.5, 0.3], "test_acc": [0.5, 0.7, 0.8]}, tmp_path / "sub" / "curve.png")
    for name in ("raster", "raster2", "v", "v1", "rate", "isi", "sub/curve"):
        assert _is_png(tmp_path / f"{name}.png"), name


def test_population_rate_is_in_hz():
    spikes = torch.zeros(1000, 10)
    spikes[::50] = 1  # every neuron fires every 50 steps of 1 ms -> 20 Hz
    fig = plot.population_rate(spikes, dt=1.0, bin_ms=100)
    y = fig.axes[0].lines[0].get_ydata()
    assert np.allclose(y[:-1], 20.0)


def test_plot_input_errors():
    with pytest.raises(ValueError, match="spikes"):
        plot.raster(torch.zeros(3, 4, 5))
    with pytest.raises(ValueError, match="history"):
        plot.learning_curve({})
    with pytest.raises(ValueError, match="dt"):
        plot.membrane(torch.zeros(5), dt=0)
