r"""Threshold guidance (SDM §4.3, SPEC §4.5): a training-free change of every neuron's firing
threshold at inference, :math:`\vartheta' = \vartheta^0 + d\vartheta`.

To first order the spiking noise predictor then returns
:math:`s_\theta(x_t, t, \vartheta') \approx s_\theta(x_t, t, \vartheta^0) + (\partial s_\theta /
\partial \vartheta)\, d\vartheta`, a correction of the imperfect score along the threshold
direction. Lowering the threshold is *inhibitory* guidance, raising it *excitatory*; the
paper finds its best FID at :math:`\vartheta' = 0.997` and gives no rule for the choice
(grid search). Here the change is a factor, :math:`\vartheta' = \text{scale} \cdot \vartheta^0`,
which for SDM's :math:`\vartheta^0 = 1` is :math:`d\vartheta = \text{scale} - 1`.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from torch import nn

from spikegate._validate import check_positive
from spikegate.neurons.base import Bounded, NeuronModule


def _neurons(model: nn.Module) -> list[NeuronModule]:
    return [m for m in model.modules() if isinstance(m, NeuronModule) and isinstance(getattr(m, "threshold", None), Bounded)]


@contextlib.contextmanager
def threshold_guidance(model: nn.Module, scale: float) -> Iterator[nn.Module]:
    r"""Inside the block every neuron of ``model`` fires at :math:`\vartheta' = \text{scale}
    \cdot \vartheta^0` (a fixed value, per neuron where the threshold is per neuron); the
    original thresholds (learnable or not) are put back on exit. Yields ``model``.

    >>> with threshold_guidance(unet, 0.997):          # doctest: +SKIP
    ...     x = ddim_sample(unet, (16, 1, 16, 16), schedule)
    """
    check_positive(scale, "scale")
    neurons = _neurons(model)
    if not neurons:
        raise ValueError("model has no neurons with a threshold to guide")
    saved = [n.threshold for n in neurons]
    try:
        for n, old in zip(neurons, saved):
            n.threshold = Bounded(old().detach() * scale, shape=tuple(old().shape))
        yield model
    finally:
        for n, old in zip(neurons, saved):
            n.threshold = old
