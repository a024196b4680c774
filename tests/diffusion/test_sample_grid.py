"""``spikegate.plot.sample_grid``: the image tiles land where they should, bad input raises."""

import numpy as np
import pytest
import torch

from spikegate import plot


def test_sample_grid_writes_png_and_tiles_images(tmp_path):
    images = torch.zeros(5, 1, 4, 4)
    images[3] = 1.0  # fourth image white
    fig = plot.sample_grid(images, tmp_path / "grid.png", ncols=3)
    assert (tmp_path / "grid.png").stat().st_size > 0
    canvas = fig.axes[0].images[0].get_array()
    assert canvas.shape == (2 * 5 + 1, 3 * 5 + 1)
    assert np.all(canvas[6:10, 1:5] == 1.0) and np.all(canvas[1:5, 1:5] == 0.0)  # row 2 col 1 = image 4
    rgb = plot.sample_grid(torch.rand(2, 3, 4, 4) * 2 - 1, value_range=(-1, 1))
    assert rgb.axes[0].images[0].get_array().shape[-1] == 3


@pytest.mark.parametrize(
    "images, kw, match",
    [(torch.zeros(2, 4, 4), {}, "images"), (torch.zeros(0, 1, 4, 4), {}, "N >= 1"),
     (torch.zeros(2, 2, 4, 4), {}, "C in"), (torch.zeros(2, 1, 4, 4), {"value_range": (1, 0)}, "value_range")],
)
def test_sample_grid_rejects_bad_input(images, kw, match):
    with pytest.raises(ValueError, match=match):
        plot.sample_grid(images, **kw)
