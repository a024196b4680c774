r"""Least-squares references for the *when* read-out of the what/when task: how well the best
linear read-out of a representation times the outcome, on trials it was not fitted to.

For each block, a ridge regression of the *when* target on a representation is fitted to the
gated samples of the learning trials among the block's first ``fit_trials`` trials: with the
features centred and scaled to unit variance over those samples (:math:`\tilde X`, the
intercept :math:`c` unpenalised),

.. math::

    \tilde w_\lambda = (\tilde X^\top \tilde X + \lambda I)^{-1} \tilde X^\top (y - \bar y),
    \qquad z = c + x^\top w,

and :math:`\lambda` chosen by ``folds``-fold cross-validation over those trials (the
:math:`i`-th in fold :math:`i \bmod k`). Only per-fold moments are kept
(:math:`X_f^\top X_f`, :math:`X_f^\top y_f`, the sums of :math:`x` and :math:`y`,
:math:`y_f^\top y_f` and the count), from which both the fit and the validation error
:math:`\sum_f (y - c - x^\top w)^2` follow. The read-out is then tested on the block's last
``tail`` trials without an outcome stimulus that it was not fitted to (in blocks of 100 trials
or more, the trials T2.1 is read from): the peak error of their mean read-out (as T2.1, ``peak_sd``) and
their mean single-trial :math:`R^2` over the anticipation window (cue to outcome).

Two representations (:func:`pooled_bank` builds the second):

* ``features``: the learners' own read-out features (what the three-factor rule and FORCE see);
  the reference bounds what any linear learner can reach on them with that many trials;
* ``stimulus populations``: each stimulus's neurons pooled (their mean spike train) and passed
  through a bank of filters with decay times from 20 ms to 2 s, each with a fast (2 ms) and a
  slow rise. An oracle (it knows which neurons each stimulus drives): it shows what timing the
  reservoir's spikes carry once the spontaneous noise of single neurons is averaged away.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Callable, Iterable

import torch
from torch import Tensor

from spikegate.plasticity import DoubleExponential
from spikegate.tasks.what_when_scores import fit, peak_index, what_scores

LAMBDAS: tuple[float, ...] = tuple(10.0 ** k for k in range(-4, 8))  # the cross-validation grid


def pooled_bank(n_groups: int, dt: float, n_taus: int = 12, taus: tuple[float, float] = (20.0, 2000.0),
                ) -> DoubleExponential:
    """The oracle's filter bank: ``n_taus`` log-spaced decay times, each with a 2 ms and a
    0.8 x decay rise, for each of ``n_groups`` pooled spike trains (feature ``g * 2 n_taus + k``)."""
    tau_d = torch.logspace(math.log10(taus[0]), math.log10(taus[1]), n_taus, dtype=torch.float64)
    tau_r = torch.cat([torch.full_like(tau_d, 2.0), 0.8 * tau_d])
    tau_d = torch.cat([tau_d, tau_d])
    return DoubleExponential(tau_r.repeat(n_groups), tau_d.repeat(n_groups), dt)


class PooledFeatures:
    """The oracle representation, trial by trial: the pooled spike trains of the stimulus
    subsets through :func:`pooled_bank` (one filter state across trials; the reference
    centres and scales them itself)."""

    def __init__(self, subsets: list, dt: float, every: int) -> None:
        self.subsets = [torch.as_tensor(s, dtype=torch.long) for s in subsets]
        self.filt = pooled_bank(len(subsets), dt)
        self.every = every
        self.state = self.filt.initial_state(torch.zeros(1, self.filt.tau_decay.numel(), dtype=torch.float64))

    def trial(self, raster: Tensor) -> Tensor:
        """``[T_ms, features]`` (Hz) of one trial's spikes ``raster [steps, N]``."""
        k = self.filt.tau_decay.numel() // len(self.subsets)
        pooled = torch.stack([raster[:, s].double().mean(1) for s in self.subsets], 1).repeat_interleave(k, 1)
        out, self.state = self.filt.run(pooled, self.state, self.every)
        return out


class BlockReference:
    """One representation's least-squares reference, block by block (module docstring;
    samples of 1 ms, as the task's read-outs)."""

    def __init__(self, fit_trials: int = 50, tail: int = 20, folds: int = 5,
                 lambdas: tuple[float, ...] = LAMBDAS, peak_sd: Callable[[float], float] = lambda delay: delay / 20) -> None:
        if fit_trials < folds or folds < 2:
            raise ValueError(f"need fit_trials >= folds >= 2, got {fit_trials} and {folds}")
        self.fit_trials, self.tail, self.folds, self.lambdas = fit_trials, tail, folds, lambdas
        self.peak_sd = peak_sd  # delay (ms) -> sd (ms) of the Gaussian smoothing before the peak is read
        self.results: dict[int, dict] = {}  # block -> scores
        self.traces: dict[int, Tensor] = {}  # block -> mean read-out over the test trials
        self._block: int | None = None

    def _start(self, block: int, n: int) -> None:
        self._block, self._index, self._seen = block, 0, 0
        self._xx = torch.zeros(self.folds, n, n, dtype=torch.float64)
        self._xy = torch.zeros(self.folds, n, dtype=torch.float64)
        self._sx = torch.zeros(self.folds, n, dtype=torch.float64)
        self._yy, self._sy, self._n = (torch.zeros(self.folds, dtype=torch.float64) for _ in range(3))
        self._tail: deque = deque(maxlen=self.tail)

    def add(self, block: int, x: Tensor, target: Tensor, gate: Tensor, *, learning: bool, outcome_free: bool,
            window: tuple[int, int]) -> None:
        """One trial: features ``x [T, n]``, *when* target and gate ``[T]``. The learning
        trials among the block's first ``fit_trials`` trials are fitted; the ``outcome_free``
        trials not fitted are test candidates (the last ``tail`` of them are kept), with
        their anticipation ``window`` (cue, outcome) in samples."""
        if block != self._block:
            if self._block is not None:
                self.finish()
            self._start(block, x.shape[1])
        fitted = learning and self._index < self.fit_trials
        if fitted:
            f = self._seen % self.folds
            xs, ys = x[gate > 0].double(), target[gate > 0].double()
            self._xx[f] += xs.T @ xs
            self._xy[f] += xs.T @ ys
            self._sx[f] += xs.sum(0)
            self._yy[f] += ys @ ys
            self._sy[f] += ys.sum()
            self._n[f] += len(ys)
            self._seen += 1
        elif outcome_free:
            self._tail.append((x.float(), target.float(), window))
        self._index += 1

    def _others(self, fold: int | None) -> tuple[Tensor, ...]:
        """The moments (xx, xy, sx, yy, sy, n) of every fold but ``fold``."""
        keep = [f for f in range(self.folds) if f != fold]
        return tuple(m[keep].sum(0) for m in (self._xx, self._xy, self._sx, self._yy, self._sy, self._n))

    @staticmethod
    def _solve(moments: tuple[Tensor, ...], lam: float) -> tuple[Tensor, Tensor]:
        """Ridge regression with an unpenalised intercept on standardised features, from the
        moments: ``(w, c)`` with the prediction ``c + x @ w`` in the original units."""
        xx, xy, sx, _, sy, n = moments
        mu, y_bar = sx / n, sy / n
        a = xx - n * torch.outer(mu, mu)  # centred
        b = xy - n * mu * y_bar
        d = (a.diagonal() / n).clamp(min=0.0).sqrt()  # standard deviations
        # features that barely vary over the fitted samples (spread below a tenth of the median
        # spread; sparse features can be silent there) carry nothing to fit and are left out:
        # standardised, a whisper would be magnified for the trials where the feature is active
        floor = 0.1 * float(d[d > 0].median()) if bool((d > 0).any()) else 0.0
        k = (d > floor).nonzero().flatten()
        dk = d[k]
        w = torch.zeros_like(d)
        w[k] = torch.linalg.solve(a[k][:, k] / torch.outer(dk, dk) + lam * torch.eye(len(k), dtype=a.dtype),
                                  b[k] / dk) / dk
        return w, y_bar - mu @ w

    def _error(self, fit: tuple[Tensor, Tensor], fold: int) -> float:
        """Squared error of the read-out ``c + x @ w`` on the samples of ``fold`` (from its moments)."""
        w, c = fit
        xx, xy, sx, yy, sy, n = (m[fold] for m in (self._xx, self._xy, self._sx, self._yy, self._sy, self._n))
        return float(yy - 2 * c * sy - 2 * w @ xy + n * c * c + 2 * c * (w @ sx) + w @ xx @ w)

    def finish(self) -> None:
        """Fit and test the current block (called by :meth:`add` at a block change; call it
        once after the last trial)."""
        if self._block is None or self._seen < self.folds or not self._tail:
            self._block = None
            return
        cv = [sum(self._error(self._solve(self._others(f), lam), f) for f in range(self.folds))
              for lam in self.lambdas]
        lam = self.lambdas[min(range(len(cv)), key=cv.__getitem__)]
        w, c = self._solve(self._others(None), lam)
        zs = [c + x.double() @ w for x, _, _ in self._tail]
        r2 = [fit(z[a:b], y.double()[a:b]) for z, (_, y, (a, b)) in zip(zs, self._tail)]
        mean = torch.stack(zs).mean(0)
        cue, due = self._tail[-1][2]  # the cue's and the outcome's time (sample) in the block's trials
        self.results[self._block] = {
            "peak_error_ms": abs(peak_index(mean, self.peak_sd(due - cue)) - due), "r2": sum(r2) / len(r2),
            "lambda": lam, "fit_trials": self._seen, "test_trials": len(zs)}
        self.traces[self._block] = mean
        self._block = None


def outcome_learners(trials, n_cues: int, rates: tuple[float, ...] = (0.1, 0.2, 0.5)) -> dict[str, list[float]]:
    r"""Predictions of :math:`P(A \mid \text{cue})` by ideal learners that see the outcomes
    themselves instead of a reservoir: the sampling limit of the *what* scores (T2.2, and the
    re-adaptation after the probability switch), which no read-out can beat with the same trials.

    For each trial, the prediction made before it (the learners update after each learning
    trial, as the read-outs do; probes teach nothing):

    * ``running average mu``: per cue :math:`z \leftarrow z + \mu (1[A] - z)`, for each
      :math:`\mu` in ``rates``; a larger rate adapts faster after a switch and is noisier;
    * ``frequency in block``: the fraction of A among the cue's learning trials so far in the
      block (0.5 before the first): the mean of an observer told when the block switched."""
    avg = {mu: [0.0] * n_cues for mu in rates}
    counts: list[list[int]] = []  # per cue: learning trials and outcomes A so far in the block
    out: dict[str, list[float]] = {f"running average mu={mu:g}": [] for mu in rates}
    out["frequency in block"] = []
    block = None
    for t in trials:
        if t.block != block:
            block, counts = t.block, [[0, 0] for _ in range(n_cues)]
        for mu in rates:
            out[f"running average mu={mu:g}"].append(avg[mu][t.cue])
        seen, hits = counts[t.cue]
        out["frequency in block"].append(hits / seen if seen else 0.5)
        if not t.probe:
            y = float(t.outcome == 0)
            for mu in rates:
                avg[mu][t.cue] += mu * (y - avg[mu][t.cue])
            counts[t.cue][0] += 1
            counts[t.cue][1] += int(y)
    return out


def sampling_limit(schedules: Iterable[list], cfg, rates: tuple[float, ...] = (0.1, 0.2, 0.3, 0.5),
                   goal_r: float = 0.95, goal_trials: int = 20) -> dict[str, dict]:
    r"""How often the *what* goals can be met at all with a paradigm's trial counts: the
    :func:`outcome_learners` scored (:func:`~spikegate.tasks.what_when_scores.what_scores`) on
    each trial list of ``schedules`` (for instance :func:`~spikegate.tasks.what_when_schedule.schedule`
    with many seeds; no reservoir is simulated), per learner the mean of each score and the
    fraction of schedules that reach it: Pearson r :math:`\geq` ``goal_r`` in each block, re-reaching
    the level before the probability switch within ``goal_trials`` trials, and all of these in
    the same schedule. A read-out of a reservoir sees the same outcomes through its features,
    so these fractions bound the seeds on which it can meet the goals."""
    rows: dict[str, dict[str, list]] = {}
    names = [b.name for b in cfg.blocks]
    for trials in schedules:
        for name, amps in outcome_learners(trials, cfg.n_cues, rates).items():
            s = what_scores(amps, trials, cfg)
            row = rows.setdefault(name, {})
            met = []
            for b in names:
                r = s.get(f"prob_r[{b}]", float("nan"))
                row.setdefault(f"r {b}", []).append(r)
                met.append(r >= goal_r)
            if "adapt_probability_trials" in s:
                adapt = s["adapt_probability_trials"]
                row.setdefault("trials to re-reach", []).append(math.nan if adapt is None else adapt)
                met.append(adapt is not None and adapt <= goal_trials)
            row.setdefault("all goals", []).append(all(met))
    out: dict[str, dict] = {}
    for name, row in rows.items():
        cells: dict[str, dict] = {}
        for key, values in row.items():
            v = torch.tensor(values, dtype=torch.float64)
            if key == "all goals":
                cells[key] = {"fraction met": float(v.mean())}
            elif key == "trials to re-reach":
                ok = v[torch.isfinite(v)]
                cells[key] = {"mean": float(ok.mean()) if ok.numel() else math.nan,
                              "fraction never": float((~torch.isfinite(v)).double().mean()),
                              "fraction met": float((v <= goal_trials).double().mean())}
            else:
                cells[key] = {"mean": float(v.nanmean()), "fraction met": float((v >= goal_r).double().mean())}
        out[name] = cells
    return out
