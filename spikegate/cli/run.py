"""``spikegate run TASK``: run a task end to end, print its quantities, write figures.

Tasks:
  what-when   the what/when prediction paradigm on a 1000-neuron heterogeneous Izhikevich
              reservoir (SPEC §3.5; cues reach it through slow afferents of diverse kinetics, so
              its driven neurons act as time cells): read-outs trained by the error-modulated,
              attention-gated three-factor rule, against FORCE without and with a reset of P,
              all scored on their predictions (the weights each trial began with); prints the
              quantities of TARGETS §2, the reservoir's memory of the cue and held-out
              least-squares references of the *when* read-out (on the learners' features and
              on pooled stimulus populations), the *what* scores of ideal learners fed the same
              outcomes (the limit the outcomes' sampling sets), and writes recording.h5 (all
              spikes) and PNG figures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time

from spikegate.cli._common import add_out, add_seed, ensure_dir, positive_float, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a task end to end (what-when)", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    tasks = p.add_subparsers(dest="task", metavar="TASK", title="tasks", required=True)
    ww = tasks.add_parser("what-when", help="what/when prediction with three-factor plasticity vs FORCE",
                          description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_out(ww, "runs/what_when")
    add_seed(ww)
    ww.add_argument("--scale", type=positive_float, default=1.0,
                    help="multiply every block's number of trials (default 1: 150 + 100 + 100)")
    ww.add_argument("--outcomes", choices=("balanced", "independent"), default="balanced",
                    help="trial schedule: 'balanced' (default) deals each cue's probes and outcomes from shuffled "
                         "runs of 4 trials that hold the stated probabilities, cues equally often per block (as "
                         "conditioning experiments schedule trials); 'independent' draws every trial on its own")
    ww.add_argument("--no-record", action="store_true", help="do not write recording.h5")
    ww.add_argument("--seeds", type=positive_int, default=1, metavar="N",
                    help="run seeds SEED .. SEED+N-1 and print every quantity's mean, spread and per-seed "
                         "values as well (figures and recording: the first seed; summary.json: every seed's; default 1)")
    ww.add_argument("--jobs", type=positive_int, default=1, metavar="J", help="worker processes for the extra seeds (default 1)")
    ww.add_argument("--sampling-limit", type=positive_int, default=None, metavar="S",
                    help="instead of running the reservoir, score ideal learners fed the outcomes of S trial "
                         "schedules (drawn with seeds SEED .. SEED+S-1, with --scale) and print how often the *what* goals "
                         "(T2.2 r >= 0.95 in every block, re-reaching the earlier level within 20 trials of the "
                         "probability switch) can be met at all with these trial counts (seconds)")
    ww.set_defaults(func=run_what_when)


def _fmt(v, missing: str = "never", digits: int = 3) -> str:
    """A printed quantity: ``missing`` for ``None`` (never reached, or not measured)."""
    if v is None:
        return missing
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _what_when_summary(cfg) -> dict:
    """One seed's summary, in a worker process (no figures, no recording)."""
    import torch

    from spikegate.tasks import what_when as ww

    torch.set_num_threads(1)
    return ww.summary(ww.run(cfg))


def run_what_when(args: argparse.Namespace) -> int:
    from concurrent.futures import ProcessPoolExecutor
    from dataclasses import replace
    from multiprocessing import get_context

    import torch
    from tqdm import tqdm

    from spikegate.tasks import what_when as ww
    from spikegate.tasks.what_when_plots import all_figures

    torch.set_num_threads(1)
    cfg = replace(ww.WhatWhenConfig(), seed=args.seed).scaled(args.scale)
    if args.outcomes == "independent":
        cfg = replace(cfg, balanced_runs=None)
    if args.sampling_limit:
        return _print_sampling_limit(cfg, args.sampling_limit)
    out = ensure_dir(args.out)
    total = sum(b.trials for b in cfg.blocks)
    extra = [replace(cfg, seed=args.seed + k) for k in range(1, args.seeds)]
    pool = ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn")) if extra else None
    futures = [pool.submit(_what_when_summary, c) for c in extra] if pool else []
    bar = tqdm(total=total, desc="what-when", unit="trial", leave=False)
    t0 = time.perf_counter()
    rec_path = os.path.join(out, "recording.h5")

    def progress(done: int, _: int) -> None:
        bar.update(done - bar.n)

    try:
        result = ww.run(cfg, record=None if args.no_record else rec_path, progress=progress)
        bar.close()
        wall = time.perf_counter() - t0
        summary = ww.summary(result)
        figures = all_figures(result, out)
        _print(cfg, summary, total, wall)
        report = summary
        if pool is not None:
            summaries = [summary] + [f.result() for f in tqdm(futures, desc="other seeds", unit="seed", leave=False)]
            report = {"seeds": [c.seed for c in [cfg] + extra], "summaries": summaries}
            print()
            _print_seeds(cfg, summaries, time.perf_counter() - t0)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(report, f, indent=1, default=float)
    print(f"wrote {', '.join(os.path.basename(p) for p in figures)}, summary.json"
          + ("" if args.no_record else ", recording.h5") + f" in {out}")
    return 0


def _print_sampling_limit(cfg, n: int) -> int:
    """``--sampling-limit``: the ideal outcome learners over ``n`` schedules."""
    import numpy as np

    from spikegate.tasks import what_when as ww
    from spikegate.tasks.what_when_reference import sampling_limit

    limit = sampling_limit((ww.schedule(cfg, np.random.default_rng(cfg.seed + k)) for k in range(n)), cfg)
    print(f"*what* sampling limit over {n} trial schedules (seeds {cfg.seed}..{cfg.seed + n - 1}; "
          f"{', '.join(f'{b.name} {b.trials}' for b in cfg.blocks)} trials, {cfg.n_cues} cues, "
          f"{cfg.probe_fraction:g} probes, {_schedule_name(cfg)}): ideal learners fed the outcomes; mean, and in brackets the "
          f"fraction of schedules that meet the goal")
    for name, row in limit.items():
        cells = [f"{key} {cell['mean']:.3g} ({cell['fraction met']:.2f})" for key, cell in row.items() if "mean" in cell]
        print(f"  {name:<26}" + ", ".join(cells) + f"; all together ({row['all goals']['fraction met']:.2f})")
    return 0


def _schedule_name(cfg) -> str:
    return "independent draws" if cfg.balanced_runs is None else f"dealt in runs of {cfg.balanced_runs}"


def _rows(cfg) -> list[tuple[str, str]]:
    """(label, summary key) of every printed quantity."""
    rows = []
    for b in cfg.blocks:
        rows.append((f"T2.1 |peak - delay| ms, {b.name} (last {cfg.tail_trials} no-outcome)", f"peak_error_ms[{b.name}]"))
        rows.append((f"     same, peak of the trace smoothed over {cfg.fine_peak_ms:g} ms", f"fine_peak_error_ms[{b.name}]"))
        rows.append((f"     per-trial mean |peak - delay| ms, {b.name}", f"timing_error_ms[{b.name}]"))
        rows.append((f"     *when* R^2 before the outcome, {b.name} (last {cfg.tail_trials} trials)", f"when_r2[{b.name}]"))
    for b in cfg.blocks:
        rows.append((f"T2.2 Pearson r(amplitude, p), {b.name}", f"prob_r[{b.name}]"))
        rows.append((f"     normalised slope, {b.name}", f"prob_slope_norm[{b.name}]"))
    rows += [("T2.3 trials to 90 % after the timing switch (when R^2)", "adapt_timing_trials"),
             ("     same, towards the held-out reference's R^2 (all learners)", "adapt_timing_attainable_trials"),
             ("     trials to re-reach 90 % after the probability switch", "adapt_probability_trials"),
             ("     same, in presentations of each cue (mean over cues)", "adapt_probability_cue_trials"),
             (f"T2.4 |cos(W_what, W_when)|, mean over the first {cfg.tail_trials} trials", "cos_what_when_early"),
             (f"     |cos(W_what, W_when)|, mean over the last {cfg.tail_trials} trials", "cos_what_when_end"),
             ("     |cos(W_what, W_when)| after the last trial", "cos_what_when_final")]
    return rows


_IDEAL = ("*what* sampling limit: ideal learners fed the same outcomes instead of a reservoir "
          "(what_when_reference.outcome_learners): T2.2 r per block, trials to re-reach the level before the "
          "probability switch")


def _ideal_rows(cfg) -> list[tuple[str, str]]:
    return [(f"r {b.name}", f"prob_r[{b.name}]") for b in cfg.blocks] + [
        ("trials to re-reach", "adapt_probability_trials")]


_GOALS = ("goals: T2.1 <= 20 ms, T2.2 r >= 0.95 and slope 1 +- 0.2, T2.3 three-factor <= 20 and FORCE >= 2x "
          "slower, T2.4 <= 0.2")


def _print(cfg, s: dict, total: int, wall: float) -> None:
    from spikegate.tasks.what_when import LEARNERS

    sp = s["spontaneous"]
    print(f"what/when task: {cfg.n_exc}+{cfg.n_inh} Izhikevich neurons, {total} trials "
          f"({', '.join(f'{b.name}: {b.trials} trials, delay {b.delay:g} ms, P(A|cue) {b.probs}' for b in cfg.blocks)}), "
          f"{_schedule_name(cfg)}, seed {cfg.seed}, {wall:.0f} s")
    print(f"T2.5 reservoir sanity: spontaneous rate {sp['rate_hz']:.2f} Hz (goal 2-10), ISI CV {sp['isi_cv']:.2f} "
          f"(goal 0.8-1.5)")
    print(f"{'quantity':<68}" + "".join(f"{n:>16}" for n in LEARNERS))
    for label, key in _rows(cfg):
        print(f"{label:<68}" + "".join(f"{_fmt(s[n].get(key)):>16}" for n in LEARNERS))
    print(f"(|cos| of random vectors ~ {s['random_cos_expected']['value']:.3f}; {_GOALS})")
    _print_limits(cfg, s)
    ideal = s.get("outcome learners", {})
    if ideal:
        print(_IDEAL)
        for name, row in ideal.items():
            print(f"  {name:<26}" + ", ".join(f"{label} {_fmt(row.get(k))}" for label, k in _ideal_rows(cfg)))


def _print_limits(cfg, s: dict) -> None:
    """The cue memory and the least-squares references of one summary."""
    if "cue_rate_hz" in s:
        bins = s["cue_rate_hz"]["values"]
        first = int(round((cfg.baseline_ms + cfg.cue_ms) / s["cue_rate_hz"]["bins_ms"]))
        print(f"cue memory: rate of the cue's neurons (own and shared) in 50 ms bins from the cue's end (no-outcome trials) "
              f"{' '.join(f'{v:.1f}' for v in bins[first:first + 8])} Hz; during the cue "
              f"{' '.join(f'{v:.1f}' for v in bins[first - 2:first])}")
    if s.get("reference"):
        print(f"least-squares *when* read-out, held out (ridge, lambda by 5-fold CV on the learning trials among a "
              f"block's first {cfg.reference_trials}, tested on its last {cfg.tail_trials} no-outcome trials not "
              f"fitted): T2.1 ms (single-trial R^2 before the outcome)")
        for name, label in (("features", "on the read-out features"), ("stimulus populations",
                                                                       "on stimulus populations (oracle)")):
            ref = s["reference"].get(name, {})
            cells = [f"{b.name} {_fmt(ref.get(f'peak_error_ms[{b.name}]'), '-', 2)} ({_fmt(ref.get(f'r2[{b.name}]'), '-', 2)})"
                     for b in cfg.blocks]
            print(f"  {label:<34}" + ", ".join(cells))


def _finite(values: list) -> list[float]:
    """The values of one quantity over seeds that were measured: not ``None`` ("never") nor NaN."""
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def seed_statistics(values: list) -> str:
    """``mean ± sd [v1, v2, ...]`` of one quantity over seeds; ``never`` (``None``) is kept in
    the list and left out of the mean, and an empty mean reads ``never``."""
    finite = _finite(values)
    listed = ", ".join("never" if v is None else f"{float(v):.3g}" for v in values)
    if not finite:
        return f"never [{listed}]"
    sd = statistics.stdev(finite) if len(finite) > 1 else 0.0
    return f"{statistics.mean(finite):.3g} ± {sd:.2g} [{listed}]"


def _print_seeds(cfg, summaries: list[dict], wall: float) -> None:
    from spikegate.tasks.what_when import LEARNERS

    print(f"over {len(summaries)} seeds from {cfg.seed} (mean ± sd [per seed]; {wall:.0f} s in all)")
    sp = [s["spontaneous"] for s in summaries]
    print(f"T2.5 spontaneous rate Hz {seed_statistics([x['rate_hz'] for x in sp])}, "
          f"ISI CV {seed_statistics([x['isi_cv'] for x in sp])}")
    for name in LEARNERS:
        print(f"{name}:")
        for label, key in _rows(cfg):
            print(f"  {label.strip():<68}{seed_statistics([s[name].get(key) for s in summaries])}")
    if summaries[0].get("outcome learners"):
        print(_IDEAL)
        for name in summaries[0]["outcome learners"]:
            for label, key in _ideal_rows(cfg):
                values = [s["outcome learners"][name].get(key) for s in summaries]
                print(f"  {name + ': ' + label:<68}{seed_statistics(values)}")
    names = sorted({name for s in summaries for name in s.get("reference", {})})
    for name in names:
        print(f"least-squares reference on {name} (held out):")
        for b in cfg.blocks:
            for key, what in (("peak_error_ms", "T2.1 |peak - delay| ms"), ("r2", "single-trial R^2")):
                values = [s.get("reference", {}).get(name, {}).get(f"{key}[{b.name}]") for s in summaries]
                print(f"  {what + ', ' + b.name:<68}{seed_statistics(values)}")
    print("goals, seed by seed (three-factor rule; FORCE = without a reset of P):")
    for line in goal_tally(cfg, summaries):
        print("  " + line)
    print(f"({_GOALS})")


def goal_tally(cfg, summaries: list[dict]) -> list[str]:
    """In how many seeds each goal of ``TARGETS.md`` §2 holds (T2.1-T2.4, the three-factor rule;
    FORCE's re-adaptation taken without a reset of P, where "never" counts as slower than any
    number of trials the rule takes), with the mean over seeds."""
    rule = [s["three-factor"] for s in summaries]
    force = [s["FORCE"] for s in summaries]

    def count(flags: list[bool]) -> str:
        return f"{sum(flags)} of {len(flags)}"

    def mean(values: list) -> str:
        finite = _finite(values)
        return f"{statistics.mean(finite):.3g}" if finite else "never"

    def ok(v, bound: float) -> bool:
        return bool(_finite([v])) and float(v) <= bound

    names = [b.name for b in cfg.blocks]
    peaks = [[r.get(f"peak_error_ms[{b}]") for b in names] for r in rule]
    lines = [f"T2.1 |peak - delay| <= 20 ms in every block: {count([all(ok(v, 20) for v in p) for p in peaks])} seeds "
             f"(largest {max((v for p in peaks for v in p if v is not None), default=float('nan')):g} ms)"]
    for b in names:
        r = [x.get(f"prob_r[{b}]") for x in rule]
        slope = [x.get(f"prob_slope_norm[{b}]") for x in rule]
        lines.append(f"T2.2 r >= 0.95, {b}: {count([v is not None and v >= 0.95 for v in r])} seeds (mean {mean(r)}); "
                     f"normalised slope 1 ± 0.2 in {count([v is not None and abs(v - 1) <= 0.2 for v in slope])} "
                     f"(mean {mean(slope)})")
    for key, what in (("adapt_probability_trials", "probability switch"), ("adapt_timing_trials", "timing switch"),
                      ("adapt_timing_attainable_trials", "timing switch, towards the reference's R^2")):
        mine, theirs = [x.get(key) for x in rule], [x.get(key) for x in force]
        if not any(key in x for x in rule):  # not measured (a summary of an older version)
            continue
        # FORCE never getting there is slower, unless the rule never gets there either
        slower = [m is not None and (t is None or t >= 2 * m) for m, t in zip(mine, theirs)]
        both = [(float(m), float(t)) for m, t in zip(mine, theirs) if m is not None and t is not None]
        times = (f"{statistics.mean(t for _, t in both) / statistics.mean(m for m, _ in both):.2g}x the rule's "
                 f"mean there" if both else "-")
        lines.append(f"T2.3 {what}: <= 20 trials in {count([ok(v, 20) for v in mine])} seeds (mean {mean(mine)}); "
                     f"FORCE >= 2x slower or never in {count(slower)} (never in {sum(t is None for t in theirs)}; "
                     f"in the seeds where it gets there, mean {mean(theirs)}, {times})")
    early = [x.get("cos_what_when_early") for x in rule]
    end = [x.get("cos_what_when_end") for x in rule]
    lines.append(f"T2.4 |cos| <= 0.2 at the end: {count([ok(v, 0.2) for v in end])} seeds; below the early value in "
                 f"{count([e is not None and a is not None and e < a for a, e in zip(early, end)])} "
                 f"(means {mean(early)} -> {mean(end)})")
    return lines
