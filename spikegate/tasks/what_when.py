r"""The what/when prediction task of ``SPEC.md`` §3.5 on a heterogeneous Izhikevich reservoir,
with read-outs trained by the three-factor rule and by FORCE (``TARGETS.md`` §2).

Paradigm (our reconstruction; the paper's exact design is not readable):

* each trial starts with ``baseline_ms`` of background activity, then one of ``n_cues`` cues
  for ``cue_ms`` onto the cue's own random 10 % of the neurons and a random ``cue_shared``
  (10 %) that every cue drives (what the cues have in common), through afferent synapses of
  diverse slow kinetics (:mod:`spikegate.tasks.what_when_input`: per neuron a decay time
  log-uniform in ``cue_tau`` and a rise of ``cue_rise`` times it, so each driven neuron fires
  most at its own delay after the cue; ``cue_tau=None``: a step current); after the
  block's delay :math:`\Delta` the outcome A follows with the cue's probability :math:`p_c`,
  otherwise outcome B with probability ``p_b`` or nothing (an omission); outcomes are step
  currents onto their own subsets for ``outcome_ms``. The schedule is pseudo-random
  (``balanced_runs``, :func:`~spikegate.tasks.what_when_schedule.schedule`): each cue's
  outcomes are dealt from shuffled runs of 4 learning trials that hold its probability (3 A in
  every 4 for :math:`p_c = 0.75`), so a block realises the probabilities it states; drawn
  independently, a cue's ~19 learning trials per block would put its frequency of A anywhere in
  about :math:`p_c \pm 0.2`. The time at which an outcome is due is
  signalled on every learning trial (the teacher of the *when* read-out), omissions included;
* a fraction ``probe_fraction`` of the trials are probes: no outcome and no learning (the
  peak procedure). The *when* read-out's peak time (T2.1) is read from its mean trace over
  a block's last ``tail_trials`` trials without an outcome stimulus (probes and omissions:
  on the others the outcome itself drives the reservoir), smoothed with a Gaussian of a third
  of the target's width (``peak_smoothing``; the target bump at 600 ms stays within 2.5 % of
  its peak over +-20 ms, so the maximum of a barely smoothed trace moves by tens of ms with a
  few percent of noise; the peak of the trace smoothed over ``fine_peak_ms`` is reported
  too); its adaptation after a switch
  (T2.3) from its fit to the target over the anticipation window (cue to outcome), which is
  measured on every trial since no outcome stimulus has reached the reservoir yet. Every score
  is of the learner's *prediction*: its read-outs with the weights the trial began with (on
  learning trials the teacher then corrects the weights during the trial, and a read-out
  that follows its teacher within a trial predicts nothing);
* blocks switch, unsignalled, the delay (timing switch) and then the cue probabilities
  (probability switch); nothing is reset for the three-factor learner.

The reservoir runs on spikegate's event-driven engine, one continuous network across trials
(inter-trial background included). Read-out features: each neuron's spikes filtered with its
own rise and decay times (:func:`feature_filter`: decays log-uniform in ``tau_features``, rises
a log-uniform fraction ``rise_ratio`` of them, a spectrum of synaptic time scales whose slow
rises turn the cue's spikes into bumps at many delays, the substrate for interval timing;
by default every rise is 2 ms), standardised by running estimates of their pre-cue mean and
spread (+1 Hz, so silent neurons stay small), saturating at ``feature_clip``, rectified above
``feature_threshold`` (:math:`f_j = [x_j - \theta]_+`: only a neuron's excursions of more than
:math:`\theta` standard units reach the read-outs, a firing threshold of their input layer, so
spontaneous fluctuations neither drive the read-outs nor change their weights), and
decorrelated: ``whiten_trials`` (30; 0 = none) exposure trials of the first block (no
learning, not counted) fix the second moment :math:`C` of the features and the symmetric
transform :math:`M = (C + \epsilon I)^{-1/2}` that every learner's features go through. Strongly
correlated features (overlapping time cells) make a delta rule such as the three-factor rule
slow in the low-variance directions that carry the timing; decorrelated, it learns at one
rate in every direction (FORCE's recursive least squares whitens by itself, through
:math:`P`). Biologically, decorrelation is what lateral inhibition in the read-out's input layer
does.

Read-outs ``z = W f`` (rows: *when*, *what A*, *what B*); targets: a Gaussian bump of width
``bump_width * delay`` centred on the outcome time (*when*), times 1[outcome = k] for *what k*,
so that before the outcome the best *what k* read-out is :math:`P(k \mid \text{cue})` times the
bump. Attention gates (learning trials only): for *when*, from the cue to the outcome, and on
omission trials on to two bump widths after the expected time; for *what*, the
``what_window_ms`` before the expected outcome. The read-outs learn to anticipate, never to
react to the outcome stimulus.

* Three-factor learner: *when* online (:class:`~spikegate.plasticity.ThreeFactor`), *what* by
  offline consolidation between trials; eligibility with postsynaptic factor
  :math:`\rho_0 + y^* + [z]_+` for *when* (the read-out's spontaneous activity ``post_baseline``,
  teacher drive, and its own output) and :math:`\rho_0 + y^*` for *what* (SPEC §3.4's "target
  drive"): the consolidated step moves an amplitude by a gain proportional to its
  postsynaptic factor times its error, so with :math:`[z]_+` in it the gain grows with an
  overshoot (replayed on four cached runs, the rule diverged at ``eta_what`` = 1e-4 in all four;
  ``what_post_output`` restores the output term). The *when* eligibility decays with
  ``tau_e_when`` (5 ms). The update at time t pairs the error at t with the features of about
  :math:`\tau_e` before, and on outcome trials the gate closes at the outcome, so the features
  that fire just before the due time get less credit than those that fire earlier: until the
  weights have converged, a longer trace puts the read-out's bump earlier (``tau_e`` = 20 ms
  did: see the README).
  The *what* consolidation keeps ``tau_e`` (20 ms) over its 25 ms window.
  For *what*, the presynaptic factor is each feature's deviation from ``what_centre``
  (:math:`\lambda = 0.9`) times its running mean over the *what* gate,
  :math:`f_j - \lambda \langle f_j \rangle` (``what_centre_trials``: rate 1/20 per learning
  trial), a covariance rule (Sejnowski 1977). The cues' features at the outcome time share a
  large common part (their mean patterns have cosines of 0.7-0.8). With a plain Hebbian
  factor, every outcome moves all cues' amplitudes through that part, so the amplitudes follow
  the latest outcomes of any cue; the centred factor slows the common part about tenfold and
  leaves the parts that tell the cues apart as fast as before.
* FORCE (:class:`~spikegate.plasticity.FORCE`) on the same features, targets and gates,
  without and with a reset of :math:`P` at each block start.

Diagnostics of what limits the timing: the rate of the neurons the cue drives (own and shared)
in 50 ms bins over the outcome-free trials (``cue_rate``: how long the reservoir remembers the
cue), and held-out least-squares references of the *when* read-out on the learners' features
and on pooled stimulus populations (``reference``; :mod:`spikegate.tasks.what_when_reference`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from typing import Callable, NamedTuple

import numpy as np
import torch
from torch import Tensor

from spikegate._validate import check_positive
from spikegate.plasticity import FORCE, DoubleExponential, ThreeFactor
from spikegate.reservoir import PoissonDrive, izhikevich_reservoir, network_recorder, simulate
from spikegate.tasks.izhikevich_network import isi_cv
from spikegate.tasks.what_when_input import StimulusInput, log_uniform
from spikegate.tasks.what_when_reference import BlockReference, PooledFeatures, outcome_learners
from spikegate.tasks.what_when_schedule import Trial, schedule
from spikegate.tasks.what_when_scores import (block_bounds, fit, peak_index, trials_to_adapt, what_scores,
                                              window_means)

LEARNERS: tuple[str, ...] = ("three-factor", "FORCE", "FORCE+reset")


class Block(NamedTuple):
    name: str
    delay: float  # ms
    probs: tuple[float, ...]  # P(outcome A | cue c)
    trials: int


@dataclass(frozen=True)
class WhatWhenConfig:
    """All parameters of a run (defaults: the run reported for ``TARGETS.md`` §2)."""

    n_exc: int = 800
    n_inh: int = 200
    p: float = 0.1
    w_exc: float = 1.5  # mV, x U(0,1)
    w_inh: float = 8.0
    drive_rate: float = 5.0  # Hz, excitatory and inhibitory Poisson afferent events per neuron
    drive_weight: float = 30.0  # mV onto excitatory neurons (half onto inhibitory)
    dt: float = 0.5
    n_cues: int = 4
    stim_fraction: float = 0.1
    stim_amplitude: float = 20.0
    baseline_ms: float = 100.0
    cue_ms: float = 100.0
    outcome_ms: float = 50.0
    trial_ms: float = 1000.0
    cue_shared: float = 0.1  # fraction of the neurons that every cue drives besides its own subset
    cue_tau: tuple[float, float] | None = (50.0, 800.0)  # decay times (ms) of the cue afferents; None = a step current
    cue_rise: tuple[float, float] | None = (0.2, 0.9)  # their rise / decay times (log-uniform); None = no rise
    cue_amplitude: float | None = None  # peak current of the cue afferents; None = stim_amplitude
    probe_fraction: float = 0.25
    p_b: float = 0.5  # P(outcome B | not A); otherwise omission
    # pseudo-random schedule: cues equally often per block, each cue's probes and outcomes dealt
    # from shuffled runs of this many trials that hold their probabilities; None = independent draws
    balanced_runs: int | None = 4
    blocks: tuple[Block, ...] = (
        Block("learn", 300.0, (1.0, 0.75, 0.5, 0.25), 150),
        Block("timing switch", 600.0, (1.0, 0.75, 0.5, 0.25), 100),
        Block("probability switch", 600.0, (0.25, 0.5, 0.75, 1.0), 100),
    )
    tau_features: tuple[float, float] = (20.0, 1000.0)  # decay times of the feature filters (ms)
    rise_ratio: tuple[float, float] | None = None  # rise / decay time of the feature filters
    bump_width: float = 0.15
    # peak times (T2.1) are read from traces smoothed with a Gaussian of this fraction of the
    # target's width; the finer estimate of ``fine_peak_ms`` (about a 10 ms average) is printed too
    peak_smoothing: float = 1 / 3
    fine_peak_ms: float = 3.0
    feature_clip: float = 4.0  # standardised features saturate at +-4
    feature_threshold: float | None = 2.0  # only excursions above this (standard units) reach the read-outs
    eta_when: float = 1e-5
    eta_what: float = 4e-5
    what_centre: float = 0.9  # *what* presynaptic factor f - lambda <f> (covariance rule); 0 = f
    what_centre_trials: int = 20  # <f>: running mean over the *what* gate, rate 1 / this many learning trials
    post_baseline: float = 5.0  # read-out's spontaneous activity in the postsynaptic factor
    what_post_output: bool = False  # the *what* postsynaptic factor holds the read-out's own [z]+ too
    what_window_ms: float = 25.0  # the *what* gate: this long before the expected outcome
    tau_e: float = 20.0  # eligibility decay of the *what* consolidation (ms)
    tau_e_when: float = 5.0  # eligibility decay of the online *when* rule (ms)
    decay: float = 0.0
    tail_trials: int = 20  # T2.1: the last this many trials without an outcome stimulus of each block
    whiten_trials: int = 30  # exposure trials (no learning) that fix a decorrelating transform; 0 = none
    whiten_eps: float = 0.1  # its regulariser: M = (C + eps I)^(-1/2)
    reference_trials: int = 50  # least-squares references fitted on each block's first trials (0 = none)
    force_alpha: float = 300.0
    force_every_ms: float = 4.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("cue_tau", "cue_rise"):
            span = getattr(self, name)
            if span is not None and not (len(span) == 2 and 0 < span[0] <= span[1] and math.isfinite(span[1])):
                raise ValueError(f"{name} must be (low, high) with 0 < low <= high, got {span}")
        if not 0.0 <= self.cue_shared <= 1.0:
            raise ValueError(f"cue_shared must be a fraction in [0, 1], got {self.cue_shared}")
        if self.cue_rise is not None and self.cue_tau is None:
            raise ValueError("cue_rise needs cue_tau")
        if self.cue_rise is not None and not self.cue_rise[1] < 1.0:
            raise ValueError(f"cue_rise: a rise must be shorter than its decay, got ratios up to {self.cue_rise[1]}")
        if self.cue_amplitude is not None:
            check_positive(self.cue_amplitude, "cue_amplitude")
        if self.balanced_runs is not None and not (isinstance(self.balanced_runs, int) and self.balanced_runs >= 1):
            raise ValueError(f"balanced_runs must be an int >= 1 or None, got {self.balanced_runs}")
        check_positive(self.peak_smoothing, "peak_smoothing")
        check_positive(self.fine_peak_ms, "fine_peak_ms")
        check_positive(self.tau_e, "tau_e")
        check_positive(self.tau_e_when, "tau_e_when")
        if not 0.0 <= self.what_centre <= 1.0:
            raise ValueError(f"what_centre must be in [0, 1], got {self.what_centre}")
        if not (isinstance(self.what_centre_trials, int) and self.what_centre_trials >= 1):
            raise ValueError(f"what_centre_trials must be an int >= 1, got {self.what_centre_trials}")
        if self.feature_threshold is not None and not 0.0 <= self.feature_threshold < self.feature_clip:
            raise ValueError(f"feature_threshold must be in [0, feature_clip = {self.feature_clip}), "
                             f"got {self.feature_threshold}")

    def peak_sd(self, delay: float) -> float:
        """Standard deviation (ms) of the Gaussian that smooths a *when* trace before its peak
        is read: ``peak_smoothing`` times the target's width at this delay."""
        return self.peak_smoothing * self.bump_width * delay

    def scaled(self, factor: float) -> "WhatWhenConfig":
        """The same run with every block's trial count multiplied by ``factor``."""
        blocks = tuple(b._replace(trials=max(10, int(round(b.trials * factor)))) for b in self.blocks)
        return replace(self, blocks=blocks)


@dataclass
class WhatWhenResult:
    config: WhatWhenConfig
    trials: list[Trial] = field(default_factory=list)
    # per learner, per trial: read-out value arrays [3, T_ms] are not kept; scores are
    when_fit: dict[str, list[float]] = field(default_factory=dict)  # R^2 of z_when before the outcome
    when_peak: dict[str, list[float]] = field(default_factory=dict)  # probe trials: peak - cue (ms), else nan
    what_amp: dict[str, list[float]] = field(default_factory=dict)  # z_A just before the outcome
    cosines: dict[str, list[float]] = field(default_factory=dict)  # |cos(W_whatA, W_when)| after each trial
    traces: dict[str, dict[tuple[int, int], Tensor]] = field(default_factory=dict)  # (block, cue) -> mean probe z
    # block -> mean z over the trials without an outcome stimulus (probes, omissions) among the
    # block's last ``tail_trials`` trials (T2.1)
    end_traces: dict[str, dict[int, Tensor]] = field(default_factory=dict)
    weights: dict[str, Tensor] = field(default_factory=dict)
    spontaneous: dict[str, float] = field(default_factory=dict)
    raster: Tensor | None = None  # one trial's spikes [T, N] for the figure
    # representation -> block -> scores of its least-squares reference (what_when_reference)
    reference: dict[str, dict[int, dict]] = field(default_factory=dict)
    reference_traces: dict[str, dict[int, Tensor]] = field(default_factory=dict)  # their mean test read-outs
    cue_rate: Tensor | None = None  # the neurons the cue drives: mean rate (Hz) per 50 ms, outcome-free trials


def _bump(t: Tensor, centre: float, width: float) -> Tensor:
    return torch.exp(-0.5 * ((t - centre) / width) ** 2)


def _cos(a: Tensor, b: Tensor) -> float:
    na, nb = a.norm(), b.norm()
    return float((a @ b).abs() / (na * nb)) if na > 0 and nb > 0 else float("nan")


def feature_filter(cfg: WhatWhenConfig, n: int, generator: torch.Generator) -> DoubleExponential:
    r"""The read-out features' filter: per neuron a decay time :math:`\tau_d` log-uniform in
    ``tau_features`` and a rise time :math:`\tau_r = \max(2, \rho\,\tau_d)` ms with
    :math:`\rho` log-uniform in ``rise_ratio``. A slow rise delays the filter's peak to
    :math:`\tau_r\tau_d \ln(\tau_d/\tau_r)/(\tau_d - \tau_r)` after the spikes that drive it, so
    the cue-evoked spikes leave a family of bumps at many delays (a basis for interval timing);
    with ``rise_ratio=None`` every rise time is 2 ms (synaptic currents)."""
    def log_uniform(lo: float, hi: float) -> Tensor:
        return torch.exp(torch.empty(n, dtype=torch.float64).uniform_(math.log(lo), math.log(hi), generator=generator))

    tau_d = log_uniform(*cfg.tau_features)
    if cfg.rise_ratio is None:
        return DoubleExponential(2.0, tau_d, cfg.dt)
    return DoubleExponential((log_uniform(*cfg.rise_ratio) * tau_d).clamp(min=2.0), tau_d, cfg.dt)


def build(cfg: WhatWhenConfig, rng: np.random.Generator):
    """The reservoir, its background drive, and the stimuli (:class:`StimulusInput`: the
    neuron subsets of cues and outcomes, the shared cue subset, the cue afferents' kinetics)."""
    net = izhikevich_reservoir(cfg.n_exc, cfg.n_inh, p=cfg.p, w_exc=cfg.w_exc, w_inh=cfg.w_inh, delay=(0.5, 2.0),
                               dt=cfg.dt, generator=rng)
    w = np.where(net.excitatory, cfg.drive_weight, cfg.drive_weight / 2)
    drives = [PoissonDrive(cfg.drive_rate, w), PoissonDrive(cfg.drive_rate, -w)]
    k = max(1, int(round(cfg.stim_fraction * net.n)))
    subsets = [rng.choice(net.n, k, replace=False) for _ in range(cfg.n_cues + 2)]  # cues, then A, B
    # drawn only when used, so that runs without them keep their random numbers
    shared = rng.choice(net.n, int(round(cfg.cue_shared * net.n)), replace=False) if cfg.cue_shared else None
    tau_d = log_uniform(rng, *cfg.cue_tau, net.n) if cfg.cue_tau else None
    tau_r = log_uniform(rng, *cfg.cue_rise, net.n) * tau_d if cfg.cue_rise else None
    steps = int(round(cfg.trial_ms / cfg.dt))
    stimuli = StimulusInput(subsets, net.n, steps, cfg.dt, cfg.stim_amplitude, cfg.baseline_ms, cfg.cue_ms,
                            shared, tau_d, tau_r, cfg.cue_amplitude)
    return net, drives, stimuli


def spontaneous_activity(net, drives, ms: float, rng: np.random.Generator) -> dict[str, float]:
    """Mean rate (Hz) and mean ISI CV of ``ms`` of activity without stimuli (after 200 ms)."""
    steps, skip = int(round(ms / net.dt)), int(round(200 / net.dt))
    res = simulate(net, steps + skip, poisson=drives, generator=rng)
    raster = res.spikes.raster(steps, net.n, first_step=skip)[:, 0]
    cv = isi_cv(raster)
    return {"rate_hz": float(raster.sum() / net.n / (ms / 1000)), "isi_cv": float(torch.nanmean(cv)),
            "exc_rate_hz": float(raster[:, net.excitatory].sum() / net.excitatory.sum() / (ms / 1000))}


def run(cfg: WhatWhenConfig = WhatWhenConfig(), *, record: str | os.PathLike | None = None,
        progress: Callable[[int, int], None] | None = None) -> WhatWhenResult:
    """Run the whole paradigm; with ``record``, every trial's spikes go to that HDF5 file
    (:func:`spikegate.reservoir.network_recorder`; trials back to back in time; the exposure
    trials of ``whiten_trials`` come before and are not recorded)."""
    rng = np.random.default_rng(cfg.seed)
    net, drives, stimuli = build(cfg, rng)
    if record is None:
        return _run(cfg, net, drives, stimuli, rng, None, progress)
    with network_recorder(record, net, task="what-when", seed=cfg.seed, trial_ms=cfg.trial_ms) as recorder:
        return _run(cfg, net, drives, stimuli, rng, recorder, progress)


class _FeatureStream:
    """The reservoir run trial after trial, and its read-out features: filtered spikes,
    standardised by running estimates of their pre-cue mean and spread and, once
    :meth:`expose` has run, decorrelated (:meth:`features`)."""

    def __init__(self, cfg: WhatWhenConfig, net, drives, stimuli: StimulusInput, rng: np.random.Generator) -> None:
        self.cfg, self.net, self.drives, self.stimuli, self.rng = cfg, net, drives, stimuli, rng
        self.steps = int(round(cfg.trial_ms / cfg.dt))
        self.every = int(round(1.0 / cfg.dt))  # read-outs and learning at 1 ms
        self.t_ms = torch.arange(0, self.steps, self.every, dtype=torch.float64) * cfg.dt
        self.filt = feature_filter(cfg, net.n, torch.Generator().manual_seed(int(rng.integers(2**62))))
        self.state = None
        self.feat_state = self.filt.initial_state(torch.zeros(1, net.n, dtype=torch.float64))
        self.baseline = torch.zeros(net.n, dtype=torch.float64)
        self.spread = torch.ones(net.n, dtype=torch.float64)
        self.seen = False
        self.whiten: Tensor | None = None  # M, fixed by expose()
        self.moment: Tensor | None = None  # C of the exposure trials
        self.raster: Tensor | None = None  # the last trial's spikes [T, N]

    def trial(self, trial: Trial, recorder=None) -> Tensor:
        """Run one trial; its features ``[T_ms, N]`` (standardised, before decorrelation)."""
        cfg, n = self.cfg, self.net.n
        outcome = trial.outcome if trial.outcome < 2 else None
        current = self.stimuli.trial(trial.cue, outcome, cfg.baseline_ms + trial.delay, cfg.outcome_ms)
        sim = simulate(self.net, self.steps, current=current, poisson=self.drives, state=self.state,
                       recorder=recorder, generator=self.rng)
        self.state = sim.state
        self.raster = sim.spikes.raster(self.steps, n, first_step=self.state.step - self.steps)[:, 0]
        feats, self.feat_state = self.filt.run(self.raster, self.feat_state, self.every)
        pre_cue = feats[self.t_ms < cfg.baseline_ms]
        mean, var = pre_cue.mean(0), pre_cue.var(0) + (pre_cue.mean(0) - self.baseline).pow(2) * self.seen
        self.baseline = mean if not self.seen else 0.9 * self.baseline + 0.1 * mean
        self.spread = var if not self.seen else 0.9 * self.spread + 0.1 * var
        self.seen = True
        x = ((feats - self.baseline) / (self.spread.sqrt() + 1.0)).clamp(-cfg.feature_clip, cfg.feature_clip)
        return x if cfg.feature_threshold is None else (x - cfg.feature_threshold).clamp(min=0.0)

    def expose(self, trials: list[Trial]) -> None:
        r"""Run ``trials`` without learning and fix the decorrelating transform from their
        features' second moment :math:`C`: :math:`M = (C + \epsilon I)^{-1/2}` (symmetric, ZCA)."""
        if not trials:
            return
        check_positive(self.cfg.whiten_eps, "whiten_eps")
        c = torch.zeros(self.net.n, self.net.n, dtype=torch.float64)
        for trial in trials:
            x = self.trial(trial)
            c += x.T @ x / (x.shape[0] * len(trials))
        self.moment = c
        ev, u = torch.linalg.eigh(c)
        self.whiten = u @ torch.diag((ev.clamp(min=0) + self.cfg.whiten_eps).rsqrt()) @ u.T

    def features(self, x: Tensor) -> Tensor:
        return x if self.whiten is None else x @ self.whiten


def _run(cfg: WhatWhenConfig, net, drives, stimuli: StimulusInput, rng: np.random.Generator, recorder,
         progress: Callable[[int, int], None] | None) -> WhatWhenResult:
    torch_dtype = torch.float64
    n = net.n
    result = WhatWhenResult(cfg)
    result.spontaneous = spontaneous_activity(net, drives, 2000.0, rng)
    trials = schedule(cfg, rng)
    stream = _FeatureStream(cfg, net, drives, stimuli, rng)
    first = cfg.blocks[0]
    exposure = schedule(replace(cfg, blocks=(first._replace(trials=cfg.whiten_trials),), probe_fraction=0.0),
                        rng) if cfg.whiten_trials else []
    stream.expose(exposure)
    t_ms = stream.t_ms
    tf_when = ThreeFactor(eta=cfg.eta_when, tau_e=cfg.tau_e_when, decay=cfg.decay, dt=1.0)
    tf_what = ThreeFactor(eta=cfg.eta_what, tau_e=cfg.tau_e, decay=cfg.decay, dt=1.0)
    force = FORCE(alpha=cfg.force_alpha)
    weights = {name: torch.zeros(3, n, dtype=torch_dtype) for name in LEARNERS}
    p_state = {name: force.initial_state(n) for name in LEARNERS[1:]}
    for d in (result.when_fit, result.when_peak, result.what_amp, result.cosines):
        d.update({name: [] for name in LEARNERS})
    refs = {name: BlockReference(cfg.reference_trials, cfg.tail_trials, peak_sd=cfg.peak_sd)
            for name in (("features", "stimulus populations") if cfg.reference_trials else ())}
    pooled = PooledFeatures(stimuli.populations(), cfg.dt, stream.every) if refs else None
    bin_steps = int(round(50.0 / cfg.dt))
    cue_counts, n_free = torch.zeros(stream.steps // bin_steps, dtype=torch.float64), 0
    sums: dict[str, dict[tuple[int, int], list[Tensor]]] = {name: {} for name in LEARNERS}
    end_sums: dict[str, dict[int, list[Tensor]]] = {name: {} for name in LEARNERS}
    cue_on = cfg.baseline_ms
    what_mean: Tensor | None = None  # running mean of the features over the *what* gate
    for index, trial in enumerate(trials):
        if index and trial.block != trials[index - 1].block:
            p_state["FORCE+reset"] = force.reset(p_state["FORCE+reset"])
        out_on = cue_on + trial.delay
        x = stream.features(stream.trial(trial, recorder))
        width = cfg.bump_width * trial.delay
        bump = _bump(t_ms, out_on, width)
        target = torch.stack([bump, bump * (trial.outcome == 0), bump * (trial.outcome == 1)])
        # attention: from the cue to the outcome; on omission trials on through the expected
        # window, so the falling flank of *when* is learnt without outcome-evoked activity
        end = out_on + 2 * width if trial.outcome == 2 else out_on
        gate_when = ((t_ms >= cue_on) & (t_ms <= end)).to(torch_dtype) * (not trial.probe)
        pre_out = (t_ms >= out_on - cfg.what_window_ms) & (t_ms < out_on)  # the *what* window
        gate_what = pre_out.to(torch_dtype) * (not trial.probe)
        gates = torch.stack([gate_when, gate_what, gate_what])
        # scored: each learner's prediction, the read-out with the weights the trial began with
        # (on learning trials the teacher then corrects the weights within the trial)
        zs = {name: weights[name] @ x.T for name in LEARNERS}
        pre_what, what_mean = _centred(x, gate_what, what_mean, cfg.what_centre, cfg.what_centre_trials)
        _learn_three_factor(tf_when, tf_what, x, target, gates, weights["three-factor"], cfg.post_baseline,
                            zs["three-factor"][1:], pre_what, cfg.what_post_output)
        for name in LEARNERS[1:]:
            _learn_force(force, x, target, gates, weights[name], p_state, name, cfg.force_every_ms)
        window = (int(torch.searchsorted(t_ms, cue_on)), int(torch.searchsorted(t_ms, out_on)))
        for name, ref in refs.items():
            feats = x if name == "features" else pooled.trial(stream.raster)
            ref.add(trial.block, feats, target[0], gate_when, learning=not trial.probe,
                    outcome_free=trial.outcome == 2, window=window)
        if trial.outcome == 2:
            spikes = stream.raster[: len(cue_counts) * bin_steps, stimuli.cue_units(trial.cue)]
            cue_counts += spikes.reshape(len(cue_counts), bin_steps, -1).double().mean((1, 2))
            n_free += 1
        anticipation = (t_ms >= cue_on) & (t_ms < out_on)
        for name in LEARNERS:
            z = zs[name]
            result.when_fit[name].append(fit(z[0, anticipation], target[0, anticipation]))
            peak = float(t_ms[peak_index(z[0], cfg.peak_sd(trial.delay))] - cue_on) if trial.probe else float("nan")
            result.when_peak[name].append(peak)
            result.what_amp[name].append(float(z[1, pre_out].mean()))
            result.cosines[name].append(_cos(weights[name][0], weights[name][1]))
            if trial.probe:
                sums[name].setdefault((trial.block, trial.cue), []).append(z.clone())
            if trial.outcome == 2:  # no outcome stimulus (probes and omissions): T2.1
                end_sums[name].setdefault(trial.block, []).append(z.clone())
        result.trials.append(trial)
        if progress is not None:
            progress(index + 1, len(trials))
    result.raster = stream.raster
    for name, ref in refs.items():
        ref.finish()
        result.reference[name], result.reference_traces[name] = ref.results, ref.traces
    result.cue_rate = cue_counts / max(n_free, 1) * 1000.0 / cfg.dt
    for name in LEARNERS:
        result.traces[name] = {k: torch.stack(v[-8:]).mean(0) for k, v in sums[name].items()}
        result.end_traces[name] = {k: torch.stack(v[-cfg.tail_trials:]).mean(0) for k, v in end_sums[name].items()}
        result.weights[name] = weights[name].clone()
    return result


def _centred(x: Tensor, gate: Tensor, mean: Tensor | None, centre: float, trials: int) -> tuple[Tensor, Tensor | None]:
    r"""The *what* presynaptic factor :math:`f - \lambda \langle f \rangle` (``centre`` =
    :math:`\lambda`) of features ``x [T, N]``, and the running mean :math:`\langle f \rangle` over
    the open ``gate`` updated with this trial (rate ``1 / trials``; kept as it is when the gate
    is closed, as on probes, or when ``centre`` is 0)."""
    if centre and bool((gate > 0).any()):
        window = x[gate > 0].mean(0)
        mean = window if mean is None else mean + (window - mean) / trials
    return (x if mean is None else x - centre * mean), mean


def _learn_three_factor(tf_when: ThreeFactor, tf_what: ThreeFactor, x: Tensor, target: Tensor, gates: Tensor,
                        w: Tensor, rho: float, z_what: Tensor, pre_what: Tensor, what_output: bool = False) -> None:
    """One trial: *when* (row 0) online, *what* (rows 1, 2) consolidated at the end from their
    read-outs ``z_what [2, T]`` (``w[1:] @ x.T``: fixed during the trial) with the presynaptic
    factor ``pre_what [T, N]``; ``w`` is updated in place. Postsynaptic factors: :math:`\rho_0 +
    y^* + [z]_+` for *when*; :math:`\rho_0 + y^*` for *what* (``what_output``: plus
    :math:`[z]_+` as well)."""
    s_when = tf_when.initial_state(1, x.shape[1], 1)
    open_ = torch.nonzero(gates[0]).flatten()
    # the eligibility is followed from 5 time constants before the gate opens (its earlier
    # history has decayed away); weights only change while the gate is open
    first = max(0, int(open_[0]) - int(5 * tf_when.tau_e / tf_when.dt)) if open_.numel() else x.shape[0]
    last = int(open_[-1]) + 1 if open_.numel() else 0
    for t in range(first, last):
        f = x[t:t + 1]
        z = w[0] @ f[0]
        post = (rho + target[0, t] + z.clamp(min=0)).reshape(1, 1)
        err = (target[0, t] - z).reshape(1, 1)
        dw, s_when = tf_when.step(f, post, err, gates[0, t], w[:1], s_when)
        w[:1] += dw
    post = (rho + target[1:] + (z_what.clamp(min=0) if what_output else 0.0)).T[:, None]
    s_what = tf_what.accumulate_sequence(pre_what[:, None], post, (target[1:] - z_what).T[:, None], gates[1:].T[:, None],
                                         w[1:], tf_what.initial_state(1, x.shape[1], 2))
    dw, _ = tf_what.consolidate(w[1:], s_what)
    w[1:] += dw


def _learn_force(force: FORCE, x: Tensor, target: Tensor, gates: Tensor, w: Tensor, p_state: dict, name: str,
                 every_ms: float) -> None:
    """One trial of RLS updates every ``every_ms`` ms while a gate is open (all read-outs
    online); ``w`` and ``p_state[name]`` are updated in place."""
    every = max(1, int(round(every_ms)))
    for t in range(0, x.shape[0], every):
        open_ = gates[:, t] > 0
        if not bool(open_.any()):
            continue
        # outputs whose gate is closed keep their weights: their target is their own value
        goal = torch.where(open_, target[:, t], w @ x[t])
        dw, p_state[name] = force.step(x[t], goal, w, p_state[name])
        w += dw


def summary(result: WhatWhenResult) -> dict[str, dict]:
    """The quantities of ``TARGETS.md`` §2, per learner."""
    cfg, trials = result.config, result.trials
    starts, ends = block_bounds(trials, len(cfg.blocks))
    out: dict[str, dict] = {"spontaneous": dict(result.spontaneous)}
    for name in LEARNERS:
        row: dict = {}
        for b, block in enumerate(cfg.blocks):
            # T2.1: peak of the *when* read-out's mean trace over the block's last trials that
            # had no outcome stimulus (probes and omissions; the read-out is one for all cues)
            if b in result.end_traces[name]:
                trace, due = result.end_traces[name][b][0], cfg.baseline_ms + block.delay
                row[f"peak_error_ms[{block.name}]"] = abs(peak_index(trace, cfg.peak_sd(block.delay)) - due)
                row[f"fine_peak_error_ms[{block.name}]"] = abs(peak_index(trace, cfg.fine_peak_ms) - due)
            peaks = [p for p, t in zip(result.when_peak[name], trials) if t.block == b and math.isfinite(p)]
            last = peaks[-10:]
            row[f"timing_error_ms[{block.name}]"] = float(np.mean(np.abs(np.asarray(last) - block.delay))) if last else None
            row[f"peak_ms[{block.name}]"] = float(np.mean(last)) if last else None
            fits = [f for f, t in zip(result.when_fit[name], trials) if t.block == b][-cfg.tail_trials:]
            row[f"when_r2[{block.name}]"] = float(np.mean(fits)) if fits else None  # R^2 before the outcome
        # adaptation after the timing switch (block 1) and the probability switch (block 2)
        if len(cfg.blocks) >= 2:
            # timing accuracy on every trial: the *when* read-out's fit to its target over the
            # anticipation window (cue to outcome), which no outcome stimulus has reached yet
            row["adapt_timing_trials"] = trials_to_adapt(result.when_fit[name], starts[1], ends[1])
            # the same towards a level every learner is held to: the held-out R^2 of the best
            # linear read-out of the block's features (the reference), instead of the learner's
            # own end level, which a learner still rising when the block ends sets too low
            attainable = result.reference.get("features", {}).get(1, {}).get("r2")
            row["adapt_timing_attainable_trials"] = (None if attainable is None else trials_to_adapt(
                result.when_fit[name], starts[1], ends[1], asymptote=attainable))
        row.update(what_scores(result.what_amp[name], trials, cfg))
        # T2.4: mean |cos| over the first and the last ``tail_trials`` trials, and after the last
        cos = result.cosines[name]
        row["cos_what_when_early"], row["cos_what_when_end"] = window_means(cos, cfg.tail_trials)
        row["cos_what_when_final"] = cos[-1]
        out[name] = row
    # the sampling limit of the *what* scores: ideal learners fed the same outcomes
    out["outcome learners"] = {name: what_scores(amps, trials, cfg)
                               for name, amps in outcome_learners(trials, cfg.n_cues).items()}
    out["random_cos_expected"] = {"value": 1 / math.sqrt(result.weights[LEARNERS[0]].shape[1])}
    # least-squares references (what_when_reference): held-out timing of the best linear read-out
    out["reference"] = {name: {f"{key}[{cfg.blocks[b].name}]": v for b, scores in blocks_.items()
                               for key, v in scores.items()} for name, blocks_ in result.reference.items()}
    if result.cue_rate is not None:
        out["cue_rate_hz"] = {"bins_ms": 50.0, "values": [round(float(v), 2) for v in result.cue_rate]}
    return out
