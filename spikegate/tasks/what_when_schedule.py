"""The trial schedules of the what/when task (:mod:`spikegate.tasks.what_when`): which cue each
trial presents, whether it is a probe, and its outcome."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from spikegate.tasks.what_when import WhatWhenConfig


class Trial(NamedTuple):
    block: int
    cue: int
    outcome: int  # 0 = A, 1 = B, 2 = omission
    probe: bool
    delay: float
    prob: float  # P(A | cue) in force for this trial


def schedule(cfg: "WhatWhenConfig", rng: np.random.Generator) -> list[Trial]:
    """The trial list. With ``balanced_runs = k`` (pseudo-random, as conditioning experiments
    schedule trials): every cue equally often in each block, in random order; each cue's probes
    are dealt from shuffled runs of ``k`` presentations and its outcomes from shuffled runs of
    ``k`` learning trials that hold :math:`k p_c` outcomes A (the rest B with ``p_b``, else
    omissions, dealt the same way), so a block realises the probabilities it states: exactly
    where :math:`k p` is a whole number, else the fractional remainder of each run is drawn.
    With ``balanced_runs=None`` every trial is drawn independently: cue uniform, probe with
    ``probe_fraction``, outcome A with the cue's probability, else B with ``p_b``, else omission."""
    if cfg.balanced_runs is None:
        return _independent_schedule(cfg, rng)
    k, out = cfg.balanced_runs, []
    for b, block in enumerate(cfg.blocks):
        cues = np.concatenate([np.repeat(np.arange(cfg.n_cues), block.trials // cfg.n_cues),
                               rng.choice(cfg.n_cues, block.trials % cfg.n_cues, replace=False)])
        rng.shuffle(cues)
        per_cue = []
        for c in range(cfg.n_cues):
            probes = _dealt(int((cues == c).sum()), k, cfg.probe_fraction, rng)
            hits = _dealt(int((~probes).sum()), k, block.probs[c], rng)
            to_b = _dealt(int((~hits).sum()), k, cfg.p_b, rng)
            learning = np.zeros(hits.size, dtype=int)  # 0 = A
            learning[~hits] = np.where(to_b, 1, 2)
            outcomes = np.full(probes.size, 2)  # probes: no outcome
            outcomes[~probes] = learning
            per_cue.append(iter(zip(probes.tolist(), outcomes.tolist())))
        for c in cues.tolist():
            probe, outcome = next(per_cue[c])
            out.append(Trial(b, c, outcome, probe, block.delay, block.probs[c]))
    return out


def _dealt(count: int, k: int, p: float, rng: np.random.Generator) -> np.ndarray:
    """``count`` events (bool) dealt from shuffled runs of ``k``, each run holding
    :math:`\lfloor k p \rfloor` of them, one more with probability :math:`kp - \lfloor kp \rfloor`."""
    runs = -(-count // k)
    whole = math.floor(k * p)
    n = whole + (rng.random(runs) < k * p - whole)
    out = np.zeros((runs, k), dtype=bool)
    for run, m in zip(out, n):
        run[rng.permutation(k)[:m]] = True
    return out.reshape(-1)[:count]


def _independent_schedule(cfg: "WhatWhenConfig", rng: np.random.Generator) -> list[Trial]:
    out = []
    for b, block in enumerate(cfg.blocks):
        for _ in range(block.trials):
            cue = int(rng.integers(cfg.n_cues))
            prob = block.probs[cue]
            probe = bool(rng.random() < cfg.probe_fraction)
            outcome = 0 if rng.random() < prob else (1 if rng.random() < cfg.p_b else 2)
            out.append(Trial(b, cue, 2 if probe else outcome, probe, block.delay, prob))
    return out
