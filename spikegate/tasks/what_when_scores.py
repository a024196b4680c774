r"""Scores of the what/when task (``TARGETS.md`` §2): peak times, fits, trials to re-adapt after
a switch, and the *what* amplitudes against the outcome probabilities. Used on the learners'
read-outs (:mod:`spikegate.tasks.what_when`), the least-squares references and the ideal
outcome learners (:mod:`spikegate.tasks.what_when_reference`)."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor


SMOOTH_TRIALS = 8  # the moving average of per-trial scores that trials to adapt are read from


def block_bounds(trials: list, n_blocks: int) -> tuple[list[int], list[int]]:
    """First trial index of each block, and the index one past its last (the next block's start)."""
    blocks = np.array([t.block for t in trials])
    starts = [int(np.flatnonzero(blocks == b)[0]) for b in range(n_blocks)]
    return starts, starts[1:] + [len(trials)]


def peak_index(z: Tensor, sd_ms: float, dt_ms: float = 1.0) -> int:
    """Index of the maximum of ``z`` smoothed with a Gaussian of standard deviation ``sd_ms``
    (normalised where it reaches past the trace's ends)."""
    sd = sd_ms / dt_ms
    half = max(1, math.ceil(4 * sd))
    k = torch.exp(-0.5 * (torch.arange(-half, half + 1, dtype=z.dtype) / sd) ** 2)[None, None]
    num = torch.nn.functional.conv1d(z[None, None], k, padding=half)[0, 0]
    den = torch.nn.functional.conv1d(torch.ones_like(z)[None, None], k, padding=half)[0, 0]
    return int(torch.argmax(num / den))


def fit(z: Tensor, y: Tensor) -> float:
    r"""Coefficient of determination :math:`1 - \sum (z - y)^2 / \sum (y - \bar y)^2` of a
    read-out ``z`` against its target ``y`` (1 = exact, 0 = no better than the target's mean,
    negative = worse)."""
    ss = float((y - y.mean()).pow(2).sum())
    return 1.0 - float((z - y).pow(2).sum()) / ss if ss > 0 else float("nan")


def trials_to_adapt(scores: list[float], start: int, stop: int, *, smooth: int = SMOOTH_TRIALS, level: float = 0.9,
                    tail: int = 20, asymptote: float | None = None) -> int | None:
    """Trials after ``start`` until the score, smoothed over ``smooth`` measured trials (NaN =
    not measured), first covers ``level`` of the way from its value at the switch to the
    asymptote: ``asymptote`` if given (e.g. the level reached before the switch), else the
    block's own (mean of its last ``tail`` measurements); ``None`` if never. The count runs to
    the middle of the first smoothing window that gets there (its end would add half a window
    of delay: a score that steps to its asymptote at trial k reads k + 8 instead of k + 4)."""
    s = np.asarray(scores[start:stop], dtype=float)
    idx = np.flatnonzero(np.isfinite(s))
    if idx.size < smooth + (tail if asymptote is None else 0):
        return None
    vals = s[idx]
    smoothed = np.convolve(vals, np.ones(smooth) / smooth, mode="valid")
    first = smoothed[0]
    asym = vals[-tail:].mean() if asymptote is None else asymptote
    if not np.isfinite(asym):
        return None
    goal = first + level * (asym - first)
    up = asym >= first
    hit = np.flatnonzero(smoothed >= goal) if up else np.flatnonzero(smoothed <= goal)
    return int(idx[hit[0] + (smooth - 1) // 2]) + 1 if hit.size else None


def what_scores(amps: list[float], trials: list, cfg) -> dict:
    """T2.2 and the re-adaptation after the probability switch from per-trial *what A*
    predictions ``amps`` (``trials``: the task's :class:`~spikegate.tasks.what_when_schedule.Trial`
    list, ``cfg``: its :class:`~spikegate.tasks.what_when.WhatWhenConfig`): per block, Pearson r
    and slope of each cue's mean prediction over its last 15 trials against its probability; and
    the trials the prediction error takes after the switch to re-reach 90 % of the level it had
    before."""
    row: dict = {}
    starts, ends = block_bounds(trials, len(cfg.blocks))
    for b, block in enumerate(cfg.blocks):
        means, probs = [], []
        for c in range(cfg.n_cues):
            a = [v for v, t in zip(amps, trials) if t.block == b and t.cue == c]
            if a:
                means.append(float(np.mean(a[-15:])))
                probs.append(block.probs[c])
        if len(means) >= 3 and np.std(means) > 0:
            slope = float(np.polyfit(probs, means, 1)[0])
            row[f"prob_r[{block.name}]"] = float(np.corrcoef(means, probs)[0, 1])
            row[f"prob_slope[{block.name}]"] = slope
            row[f"prob_slope_norm[{block.name}]"] = slope / max(means) if max(means) > 0 else None
            row[f"amplitudes[{block.name}]"] = [round(a, 3) for a in means]
    if len(cfg.blocks) >= 3:
        # the probability switch permutes the cues' probabilities, so the accuracy reached
        # before it is attainable after it: adaptation = re-reaching that level (SPEC §3.8),
        # and a learner that stays at a worse level never adapts
        err = [-abs(a - t.prob) for a, t in zip(amps, trials)]
        before = float(np.mean(err[max(starts[1], starts[2] - cfg.tail_trials):starts[2]]))
        adapt = trials_to_adapt(err, starts[2], ends[2], asymptote=before)
        row["adapt_probability_trials"] = adapt
        # the same in presentations of each cue (mean over cues): a cue's probability is learnt
        # from its own trials only, so with n cues interleaved the trial count is n times this
        row["adapt_probability_cue_trials"] = None if adapt is None else adapt / cfg.n_cues
    return row


def window_means(values: list[float], window: int) -> tuple[float, float]:
    """Means of the first and the last ``window`` finite values of a per-trial series (T2.4: the
    \|cos\| of the *what* and *when* weights at an early checkpoint and at the end of learning;
    a single trial's value can sit at a zero crossing of the cosine)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), float("nan")
    return float(v[:window].mean()), float(v[-window:].mean())
