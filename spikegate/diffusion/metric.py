r"""Offline sample-quality metric: a Fréchet distance in the feature space of a small classifier
trained on the same data ("MNIST-FID"), plus recognisability and class coverage.

FID (Heusel et al. 2017) fits a Gaussian to the features of real and of generated images and
reports

.. math::

    d^2 = \lVert \mu_r - \mu_g \rVert^2 + \mathrm{Tr}\bigl(\Sigma_r + \Sigma_g
          - 2 (\Sigma_r^{1/2} \Sigma_g \Sigma_r^{1/2})^{1/2}\bigr)

(the trace term equals :math:`\mathrm{Tr}(\Sigma_r\Sigma_g)^{1/2}`; the symmetric form is
computed with ``eigh`` in float64, so it is exact up to rounding and deterministic). Inception
features need weights from the internet, so the features here are the 64-dimensional
penultimate activations of :class:`FeatureClassifier`, trained by :func:`train_classifier`
on the training images with a fixed seed, a fixed number of epochs and one thread (the same
data and seed give the same weights on the same machine). The numbers are comparable with
each other at equal sample counts (the estimate is biased upward for small n), not with
Inception FIDs of the papers.

Besides the distance: ``confident`` is the share of samples the classifier assigns to one
class with probability at least ``threshold`` (0.8), ``coverage`` the share of classes that
receive at least one confident sample (mode collapse lowers it).
"""

from __future__ import annotations

import contextlib
from typing import Iterator, NamedTuple

import torch
from torch import Tensor, nn

from spikegate._validate import check_int, check_range, check_tensor


class FeatureClassifier(nn.Module):
    """conv3x3(16) -> ReLU -> pool -> conv3x3(32) -> ReLU -> pool -> Linear(64) -> ReLU
    [features] -> Linear(classes). ``forward(x: [B, C, H, W]) -> logits``; H, W divisible by 4."""

    def __init__(self, in_channels: int = 1, size: int = 16, classes: int = 10, features: int = 64) -> None:
        super().__init__()
        check_int(size, "size", minimum=4)
        if size % 4:
            raise ValueError(f"size must be divisible by 4, got {size}")
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * (size // 4) ** 2, features), nn.ReLU(),
        )
        self.head = nn.Linear(features, classes)
        self.classes = classes

    def features(self, x: Tensor) -> Tensor:
        """Penultimate activations ``[B, features]``."""
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))


@contextlib.contextmanager
def _single_thread() -> Iterator[None]:
    """One intra-op thread, so reductions run in a fixed order (reproducible results)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def train_classifier(
    x: Tensor, y: Tensor, *, classes: int = 10, epochs: int = 8, batch_size: int = 64, lr: float = 2e-3, seed: int = 0
) -> FeatureClassifier:
    """Train a :class:`FeatureClassifier` on images ``x: [N, C, H, W]`` (any fixed range, the
    samples must use the same one) and labels ``y: [N]``; deterministic for a given seed."""
    check_tensor(x, "x", ndim=4)
    if not isinstance(y, Tensor) or y.dim() != 1 or len(y) != len(x) or y.is_floating_point():
        raise ValueError("y must be an integer tensor [N] with one label per image")
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(f"images must be square, got {tuple(x.shape[-2:])}")
    with _single_thread():
        torch.manual_seed(seed)
        model = FeatureClassifier(x.shape[1], x.shape[-1], classes)
        g = torch.Generator().manual_seed(seed)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        for _ in range(epochs):
            order = torch.randperm(len(x), generator=g)
            for i in range(0, len(x), batch_size):
                idx = order[i : i + batch_size]
                loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
    return model.eval()


@torch.no_grad()
def features(classifier: FeatureClassifier, x: Tensor, batch_size: int = 500) -> tuple[Tensor, Tensor]:
    """(features ``[N, F]``, class probabilities ``[N, classes]``) of images ``x``, in float64."""
    check_tensor(x, "x", ndim=4)
    feats, probs = [], []
    with _single_thread():
        for i in range(0, len(x), batch_size):
            f = classifier.features(x[i : i + batch_size])
            feats.append(f.double())
            probs.append(torch.softmax(classifier.head(f), -1).double())
    return torch.cat(feats), torch.cat(probs)


def _sqrt_psd(a: Tensor) -> Tensor:
    w, v = torch.linalg.eigh(a)
    return (v * w.clamp(min=0).sqrt()) @ v.T


def frechet_distance(a: Tensor, b: Tensor) -> float:
    """Fréchet distance (squared, as FID) between Gaussians fitted to feature sets
    ``a: [Na, F]`` and ``b: [Nb, F]`` (each N >= 2)."""
    for name, f in (("a", a), ("b", b)):
        check_tensor(f, name, ndim=2)
        if len(f) < 2:
            raise ValueError(f"{name} needs at least 2 rows to estimate a covariance, got {len(f)}")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b must have the same feature dimension, got {a.shape[1]} and {b.shape[1]}")
    a, b = a.double(), b.double()
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)
    root_a = _sqrt_psd(cov_a)
    cross = torch.linalg.eigvalsh(root_a @ cov_b @ root_a).clamp(min=0).sqrt().sum()
    return float(((mu_a - mu_b) ** 2).sum() + torch.trace(cov_a) + torch.trace(cov_b) - 2 * cross)


class SampleQuality(NamedTuple):
    """fd: Fréchet distance to the reference; confident: share of samples recognised with
    probability >= threshold; coverage: share of classes with at least one such sample."""

    fd: float
    confident: float
    coverage: float


def sample_quality(
    classifier: FeatureClassifier, samples: Tensor, reference: Tensor, *, threshold: float = 0.8
) -> SampleQuality:
    """Score ``samples: [N, C, H, W]`` against real images or their features ``reference``
    (``[M, C, H, W]`` or ``[M, F]``), both in the range the classifier was trained on."""
    check_range(threshold, "threshold", 0.0, 1.0)
    feats, probs = features(classifier, samples)
    ref = reference if reference.dim() == 2 else features(classifier, reference)[0]
    conf, cls = probs.max(1)
    sure = conf >= threshold
    classes = torch.unique(cls[sure])
    return SampleQuality(frechet_distance(ref, feats), float(sure.double().mean()), len(classes) / classifier.classes)
