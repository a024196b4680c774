r"""The Tempotron (Gütig & Sompolinsky, Nature Neuroscience 9:420, 2006; ``SPEC.md`` §5).

The membrane potential is a weighted sum of post-synaptic potentials, one per input spike,

.. math::

    V(t) = \sum_i w_i \sum_{t_i < t} K(t - t_i) + V_{rest}, \qquad
    K(s) = V_0 \big(e^{-s/\tau} - e^{-s/\tau_s}\big),

with :math:`V_0` normalizing the peak of :math:`K` to 1 (:math:`V_0 \approx 2.1165` and the
peak at :math:`s = \tau\tau_s/(\tau - \tau_s)\ln(\tau/\tau_s) \approx 6.93` ms for
:math:`\tau = 15`, :math:`\tau_s = 3.75` ms). The tempotron *fires* on a pattern iff
:math:`\max_t V(t) \ge V_{thr}`; at the first crossing it shunts every later input, so the
voltage then relaxes with the PSPs already started. Learning changes weights only on errors:

.. math::

    \Delta w_i = \pm\lambda \sum_{t_i < t_{max}} K(t_{max} - t_i)
    \quad (+ \text{ for a missed } \oplus \text{ pattern, } - \text{ for a } \ominus \text{ false alarm}),

with :math:`t_{max}` the time of the maximum of :math:`V` after the first input spike (for a
false alarm: the first threshold crossing, where the shunted voltage peaks), plus momentum
:math:`\Delta w \leftarrow \Delta w + \mu\,\Delta w_{prev}`. This is gradient descent on
:math:`\pm(V_{thr} - V(t_{max}))`.

:math:`V` is evaluated exactly on the grid :math:`t_k = k\,\Delta t` (``dt``), each input spike
entering at its exact time (two exponential sums decayed step by step), so only the location of
the maximum is resolved to ``dt``. Patterns are event lists (:class:`SpikePatterns`), processed
by compiled (numba) loops; ``batch=1`` in :meth:`Tempotron.fit` is the classic online rule.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from spikegate._validate import check_int, check_positive


class SpikePatterns(NamedTuple):
    """``P`` input patterns as padded event lists: ``times`` float64 ``[P, M]`` in ms, sorted
    within each row and padded with ``inf``; ``units`` int64 ``[P, M]`` (afferent of each spike,
    ``-1`` in the padding)."""

    times: np.ndarray
    units: np.ndarray

    @classmethod
    def from_events(cls, times: list[np.ndarray], units: list[np.ndarray]) -> "SpikePatterns":
        """Build from one ``(times, units)`` pair of 1-D arrays per pattern."""
        if len(times) != len(units):
            raise ValueError(f"times and units must list the same patterns, got {len(times)} and {len(units)}")
        m = max([len(t) for t in times] + [1])
        tt = np.full((len(times), m), np.inf)
        uu = np.full((len(times), m), -1, dtype=np.int64)
        for p, (t, u) in enumerate(zip(times, units)):
            t, u = np.asarray(t, np.float64).ravel(), np.asarray(u, np.int64).ravel()
            if t.shape != u.shape:
                raise ValueError(f"pattern {p}: {t.size} times but {u.size} units")
            if not np.isfinite(t).all() or (t < 0).any():
                raise ValueError(f"pattern {p}: spike times must be finite and >= 0 ms")
            if (u < 0).any():
                raise ValueError(f"pattern {p}: afferent indices must be >= 0")
            order = np.argsort(t, kind="stable")
            tt[p, : t.size], uu[p, : t.size] = t[order], u[order]
        return cls(tt, uu)

    @classmethod
    def from_raster(cls, raster: np.ndarray, dt: float = 1.0) -> "SpikePatterns":
        """From binary rasters ``[P, T, N]``: a spike in bin ``k`` happens at ``k * dt`` ms."""
        raster = np.asarray(raster)
        if raster.ndim != 3:
            raise ValueError(f"raster must be [P, T, N], got shape {raster.shape}")
        times, units = [], []
        for r in raster:
            k, u = np.nonzero(r)
            times.append(k * float(dt))
            units.append(u)
        return cls.from_events(times, units)

    def __len__(self) -> int:
        return self.times.shape[0]


def random_patterns(p: int, n: int, duration: float = 500.0, *, rng: np.random.Generator) -> SpikePatterns:
    """The capacity task's inputs: ``p`` patterns, each afferent of ``n`` spiking exactly once
    at a time uniform in ``[0, duration)`` ms."""
    check_int(p, "p", minimum=1)
    check_int(n, "n", minimum=1)
    check_positive(duration, "duration")
    t = rng.uniform(0.0, duration, size=(p, n))
    order = np.argsort(t, axis=1)
    return SpikePatterns(np.take_along_axis(t, order, 1), order.astype(np.int64))


def psp_norm(tau: float, tau_s: float) -> float:
    r""":math:`V_0` that makes the peak of :math:`e^{-s/\tau} - e^{-s/\tau_s}` equal to 1."""
    check_positive(tau, "tau")
    check_positive(tau_s, "tau_s")
    if not tau_s < tau:
        raise ValueError(f"tau_s must be smaller than tau, got tau={tau}, tau_s={tau_s}")
    a = tau / tau_s
    return 1.0 / (a ** (-1.0 / (a - 1.0)) - a ** (-a / (a - 1.0)))


def psp_kernel(s: np.ndarray, tau: float = 15.0, tau_s: float = 3.75) -> np.ndarray:
    """:math:`K(s)` (zero for :math:`s < 0`), ``s`` in ms."""
    s = np.asarray(s, dtype=np.float64)
    k = psp_norm(tau, tau_s) * (np.exp(-s / tau) - np.exp(-s / tau_s))
    return np.where(s >= 0, k, 0.0)


def _kernels():
    from spikegate.plasticity import _tempotron_numba as k

    return k.decide, k.voltage, k.epoch


class Tempotron:
    r"""A Gütig-Sompolinsky tempotron with ``n_afferents`` synapses.

    Args:
        n_afferents: number of input afferents :math:`N`.
        tau, tau_s: membrane and synaptic time constants (ms), :math:`\tau_s < \tau`.
        threshold, v_rest: :math:`V_{thr}`, :math:`V_{rest}` (normalized PSP units).
        duration: pattern length :math:`T` (ms); ``dt``: voltage grid step (ms).
        lr: learning rate :math:`\lambda`; momentum: :math:`\mu` in [0, 1).
        weights: initial weights ``[N]`` (default :math:`\mathcal{N}(0, 10^{-3})` drawn from ``rng``).
        rng: numpy ``Generator`` for the initial weights and the presentation order.
    """

    def __init__(
        self,
        n_afferents: int,
        *,
        tau: float = 15.0,
        tau_s: float = 3.75,
        threshold: float = 1.0,
        v_rest: float = 0.0,
        duration: float = 500.0,
        dt: float = 0.1,
        lr: float = 1e-3,
        momentum: float = 0.99,
        weights: np.ndarray | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        self.n = check_int(n_afferents, "n_afferents", minimum=1)
        self.v0 = psp_norm(tau, tau_s)
        check_positive(duration, "duration")
        check_positive(dt, "dt")
        check_positive(lr, "lr")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must lie in [0, 1), got {momentum}")
        if not threshold > v_rest:
            raise ValueError(f"threshold must exceed v_rest, got {threshold} and {v_rest}")
        self.tau, self.tau_s, self.threshold, self.v_rest = float(tau), float(tau_s), float(threshold), float(v_rest)
        self.duration, self.dt, self.lr, self.momentum = float(duration), float(dt), float(lr), float(momentum)
        self.steps = int(math.ceil(duration / dt))
        self.rng = rng if rng is not None else np.random.default_rng()
        if weights is None:
            weights = self.rng.normal(0.0, 1e-3, self.n)
        weights = np.array(weights, dtype=np.float64)
        if weights.shape != (self.n,) or not np.isfinite(weights).all():
            raise ValueError(f"weights must be {self.n} finite numbers, got shape {weights.shape}")
        self.w = weights
        self.velocity = np.zeros(self.n)

    def _args(self) -> tuple:
        return (self.v0, self.tau, self.tau_s, self.threshold, self.v_rest, self.dt, self.steps)

    def _check(self, patterns: SpikePatterns) -> SpikePatterns:
        if not isinstance(patterns, SpikePatterns):
            raise TypeError(f"patterns must be SpikePatterns, got {type(patterns).__name__}")
        if patterns.units.size and patterns.units.max() >= self.n:
            raise ValueError(f"patterns use afferent {patterns.units.max()}, but the tempotron has {self.n}")
        return patterns

    def decide(self, patterns: SpikePatterns) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(fires bool [P], t_max ms [P], V(t_max) [P])``; ``t_max`` is the first threshold
        crossing where the tempotron fires, else the time of the voltage maximum."""
        p = self._check(patterns)
        fired, k, v = _kernels()[0](p.times, p.units, self.w, *self._args())
        return fired, k * self.dt, v

    def voltage(self, patterns: SpikePatterns) -> np.ndarray:
        """Voltage traces ``[P, steps + 1]`` on the grid ``k * dt`` (shunted after a crossing)."""
        p = self._check(patterns)
        return _kernels()[1](p.times, p.units, self.w, *self._args())

    def predict(self, patterns: SpikePatterns) -> np.ndarray:
        """Binary decisions ``bool [P]`` (True = fires = the ⊕ class)."""
        return self.decide(patterns)[0]

    def train_epoch(self, patterns: SpikePatterns, labels: np.ndarray, *, batch: int = 1, shuffle: bool = True) -> int:
        """One pass of the learning rule over the patterns (in random order when ``shuffle``),
        updating after every ``batch`` patterns; returns the errors seen during the pass."""
        p = self._check(patterns)
        labels = np.asarray(labels).astype(np.bool_)
        if labels.shape != (len(p),):
            raise ValueError(f"labels must be [P] = [{len(p)}], got shape {labels.shape}")
        check_int(batch, "batch", minimum=1)
        order = self.rng.permutation(len(p)) if shuffle else np.arange(len(p))
        return int(_kernels()[2](p.times, p.units, labels, order, self.w, self.velocity, self.lr, self.momentum,
                                 batch, *self._args()))

    def fit(self, patterns: SpikePatterns, labels: np.ndarray, *, epochs: int = 1000, batch: int = 1,
            lr_decay: float | None = None) -> list[int]:
        """Train until an epoch has no error or ``epochs`` passes are done; returns the error
        count of every pass (the last is 0 on success). With ``lr_decay`` the learning rate of
        epoch :math:`e` is :math:`\lambda / (1 + e / \text{lr\_decay})`."""
        check_int(epochs, "epochs", minimum=1)
        if lr_decay is not None:
            check_positive(lr_decay, "lr_decay")
        lr0, history = self.lr, []
        try:
            for e in range(epochs):
                if lr_decay is not None:
                    self.lr = lr0 / (1.0 + e / lr_decay)
                history.append(self.train_epoch(patterns, labels, batch=batch))
                if history[-1] == 0:
                    break
        finally:
            self.lr = lr0
        return history
