import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from spikegate.cli import build_parser
from spikegate.io import read_recording
from spikegate.plasticity import ThreeFactor
from spikegate.tasks import what_when as ww


def test_trials_to_adapt_on_known_curves():
    flat = [0.0] * 5
    rise = [1 - math.exp(-k / 5) for k in range(60)]  # 90 % of the way at k ~ 11.5
    n = ww.trials_to_adapt(flat + rise, 5, 65, smooth=1)
    assert n == 13  # trial index 12 of the block is the first at 90 %: 13 trials
    assert ww.trials_to_adapt(flat + [0.0] * 40, 5, 45, smooth=1) == 1  # already there
    noisy = [float("nan") if k % 3 == 0 else v for k, v in enumerate(rise)]
    assert ww.trials_to_adapt(noisy, 0, 60, smooth=1) == 14  # trial 12 is a gap (NaN)


@pytest.mark.parametrize("step", [10, 11, 17])
def test_trials_to_adapt_resolves_single_trials(step):
    # a score measured on every trial that jumps from 0 to 1 at trial `step` of the block: the
    # 8-trial moving average first holds 90 % (>= 7.2 of 8 trials at 1) in the window of trials
    # step .. step + 7, whose middle (4th) trial is the count
    scores = [5.0] * 3 + [0.0] * step + [1.0] * (60 - step)
    assert ww.trials_to_adapt(scores, 3, 63) == step + 4


def test_trials_to_adapt_against_the_level_before_the_switch():
    # error drops from -1 at the switch and settles at -0.5: with its own asymptote this learner
    # has "adapted", measured against the level it had before the switch (-0.1) it never does
    stuck = [-1.0] * 10 + [-0.5] * 50
    assert ww.trials_to_adapt(stuck, 0, 60) == 14
    assert ww.trials_to_adapt(stuck, 0, 60, asymptote=-0.1) is None
    recovers = [-1.0] * 10 + [-0.1] * 50
    assert ww.trials_to_adapt(recovers, 0, 60, asymptote=-0.1) == 14


def test_fit_is_the_coefficient_of_determination():
    y = torch.exp(-0.5 * ((torch.arange(100.0) - 60) / 10) ** 2)
    assert ww.fit(y, y) == pytest.approx(1.0)
    assert ww.fit(torch.full_like(y, float(y.mean())), y) == pytest.approx(0.0)
    early = torch.exp(-0.5 * ((torch.arange(100.0) - 30) / 10) ** 2)  # the right bump, too early
    assert ww.fit(early, y) < 0 < ww.fit(0.5 * y, y) < 1
    assert math.isnan(ww.fit(y, torch.ones(100)))


def test_independent_schedule_follows_the_probabilities():
    cfg = replace(ww.WhatWhenConfig(), blocks=(ww.Block("b", 300.0, (1.0, 0.75, 0.5, 0.25), 4000),),
                  probe_fraction=0.2, balanced_runs=None)
    trials = ww.schedule(cfg, np.random.default_rng(0))
    probes = np.array([t.probe for t in trials])
    assert probes.mean() == pytest.approx(0.2, abs=0.02)
    for c, p in enumerate(cfg.blocks[0].probs):
        got = np.array([t.outcome for t in trials if t.cue == c and not t.probe])
        assert (got == 0).mean() == pytest.approx(p, abs=0.04)
        assert (got == 1).mean() == pytest.approx((1 - p) * cfg.p_b, abs=0.04)
    assert all(t.outcome == 2 for t in trials if t.probe)


def test_balanced_schedule_deals_the_stated_probabilities_in_runs():
    cfg = ww.WhatWhenConfig()
    assert cfg.balanced_runs == 4
    trials = ww.schedule(cfg, np.random.default_rng(5))
    assert [sum(t.block == b for t in trials) for b in range(3)] == [b.trials for b in cfg.blocks]
    assert all(t.outcome == 2 for t in trials if t.probe)
    for b, block in enumerate(cfg.blocks):
        counts = [sum(t.block == b and t.cue == c for t in trials) for c in range(cfg.n_cues)]
        assert max(counts) - min(counts) <= 1  # every cue equally often
        for c, p in enumerate(block.probs):
            mine = [t for t in trials if t.block == b and t.cue == c]
            assert all(t.prob == p for t in mine)
            probes = [t.probe for t in mine]
            for k in range(0, len(mine) - 3, 4):  # one probe in every run of 4 presentations
                assert sum(probes[k:k + 4]) == 1
            outcomes = [t.outcome for t in mine if not t.probe]
            for k in range(0, len(outcomes) - 3, 4):  # 4 p outcomes A in every run of 4 learning trials
                assert sum(o == 0 for o in outcomes[k:k + 4]) == round(4 * p)
            others = [o for o in outcomes if o != 0]
            if len(others) >= 4:  # the rest: B and omissions in halves (p_b = 0.5)
                assert abs(sum(o == 1 for o in others) - len(others) / 2) <= 2
    # probabilities that are not multiples of 1 / runs: the remainder of each run is drawn
    odd = replace(cfg, blocks=(ww.Block("b", 300.0, (0.3, 0.9), 8000),), n_cues=2, probe_fraction=0.1)
    trials = ww.schedule(odd, np.random.default_rng(0))
    for c, p in enumerate((0.3, 0.9)):
        got = [t.outcome == 0 for t in trials if t.cue == c and not t.probe]
        assert np.mean(got) == pytest.approx(p, abs=0.015)
    assert np.mean([t.probe for t in trials]) == pytest.approx(0.1, abs=0.015)
    assert ww.schedule(cfg, np.random.default_rng(5)) == ww.schedule(cfg, np.random.default_rng(5))
    with pytest.raises(ValueError, match="balanced_runs"):
        replace(cfg, balanced_runs=0)


def test_small_run_end_to_end(tmp_path, capsys):
    cfg = replace(
        ww.WhatWhenConfig(), n_exc=80, n_inh=20, p=0.2, trial_ms=450.0, probe_fraction=0.3, seed=1, whiten_trials=6,
        blocks=(ww.Block("learn", 150.0, (1.0, 0.75, 0.5, 0.25), 24), ww.Block("timing switch", 250.0,
                (1.0, 0.75, 0.5, 0.25), 12), ww.Block("probability switch", 250.0, (0.25, 0.5, 0.75, 1.0), 12)),
    )
    torch.set_num_threads(1)
    res = ww.run(cfg, record=tmp_path / "rec.h5")
    assert len(res.trials) == 48
    s = ww.summary(res)
    assert 0.5 < s["spontaneous"]["rate_hz"] < 40
    for name in ww.LEARNERS:
        for key in ("cos_what_when_end", "prob_r[learn]", "peak_error_ms[learn]", "when_r2[learn]"):
            assert key in s[name]
        assert all(np.isfinite(res.what_amp[name]))
        assert len(res.when_fit[name]) == 48 and all(np.isfinite(res.when_fit[name]))  # measured on every trial
        # scored: the prediction of the weights a trial began with (all zero on the first trial)
        assert res.what_amp[name][0] == 0.0 and res.when_fit[name][0] == res.when_fit["three-factor"][0]
    # FORCE with a reset at each block start differs from FORCE without one only after the first switch
    first = sum(1 for t in res.trials if t.block == 0)
    assert res.what_amp["FORCE"][:first] == res.what_amp["FORCE+reset"][:first]
    assert res.what_amp["FORCE"][first:] != res.what_amp["FORCE+reset"][first:]
    # least-squares references per block, on the read-out features and the pooled stimulus populations
    assert set(s["reference"]) == {"features", "stimulus populations"}
    for ref in s["reference"].values():
        assert all(f"{key}[{b.name}]" in ref for key in ("peak_error_ms", "r2", "lambda") for b in cfg.blocks)
    rates = s["cue_rate_hz"]["values"]
    assert len(rates) == cfg.trial_ms // 50 and max(rates) == max(rates[2:])  # from the cue's onset at 100 ms
    rec = read_recording(tmp_path / "rec.h5")
    assert rec.complete and rec.n_steps == 48 * int(cfg.trial_ms / cfg.dt)
    from spikegate.tasks.what_when_plots import all_figures

    paths = all_figures(res, str(tmp_path))
    assert all((tmp_path / p).stat().st_size > 1000 for p in paths)
    # the printed report: one run and statistics over seeds, the *what* sampling limit included
    from spikegate.cli import run as cli_run

    assert set(s["outcome learners"]) == {"running average mu=0.1", "running average mu=0.2",
                                          "running average mu=0.5", "frequency in block"}
    cli_run._print(cfg, s, 48, 1.0)
    cli_run._print_seeds(cfg, [s, s], 2.0)
    text = capsys.readouterr().out
    assert text.count("sampling limit") == 2 and "frequency in block: r learn" in text
    assert "T2.1 |peak - delay| ms, learn" in text
    assert "goals, seed by seed" in text and "towards the reference's R^2" in text
    # re-timing towards the held-out reference's R^2, the level every learner is held to
    starts, ends = ww.block_bounds(res.trials, 3)
    level = s["reference"]["features"]["r2[timing switch]"]
    for name in ww.LEARNERS:
        assert s[name]["adapt_timing_attainable_trials"] == ww.trials_to_adapt(
            res.when_fit[name], starts[1], ends[1], asymptote=level)


def test_cli_registers_the_task():
    args = build_parser().parse_args(["run", "what-when", "--scale", "0.5", "--out", "x", "--no-record"])
    assert args.task == "what-when" and args.scale == 0.5 and args.no_record
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "what-when", "--scale", "0"])


def test_sampling_limit_of_the_what_goals(capsys):
    from spikegate.tasks.what_when_reference import sampling_limit

    def fractions(cfg, n=30):
        return sampling_limit([ww.schedule(cfg, np.random.default_rng(s)) for s in range(n)], cfg, rates=(0.5,))

    cfg = replace(ww.WhatWhenConfig(), balanced_runs=None)  # every trial drawn on its own
    default = fractions(cfg)
    for row in default.values():
        met = [cell["fraction met"] for cell in row.values()]
        assert all(0.0 <= f <= 1.0 for f in met) and row["all goals"]["fraction met"] <= min(met[:-1])
    # with ten times the trials, the frequency of A since the block began meets r >= 0.95 in every
    # block of nearly every schedule (in a 100-trial block each cue has only ~19 learning trials)
    long = fractions(cfg.scaled(10.0), n=10)["frequency in block"]
    assert min(long[f"r {b.name}"]["fraction met"] for b in cfg.blocks) >= 0.9
    assert long["r probability switch"]["mean"] > default["frequency in block"]["r probability switch"]["mean"]
    # a running average with rate 0.5 re-adapts after the switch in about 4 trials of each cue
    assert default["running average mu=0.5"]["trials to re-reach"]["mean"] < 30
    # outcomes dealt in runs that hold the stated probabilities: the frequency since the block
    # began meets r >= 0.95 in every block of every schedule with the default trial counts
    dealt = fractions(ww.WhatWhenConfig(), n=10)["frequency in block"]
    assert min(dealt[f"r {b.name}"]["fraction met"] for b in cfg.blocks) == 1.0
    from spikegate.cli import main

    assert main(["run", "what-when", "--sampling-limit", "3", "--scale", "0.5"]) == 0
    assert main(["run", "what-when", "--sampling-limit", "3", "--outcomes", "independent"]) == 0
    text = capsys.readouterr().out
    assert text.count("sampling limit over 3 trial schedules") == 2 and text.count("all together") == 10
    assert "dealt in runs of 4" in text and "independent draws" in text


def test_window_means_skip_unmeasured_trials():
    assert ww.window_means([float("nan"), 0.4, 0.2, 0.1, 0.05], 2) == pytest.approx((0.3, 0.075))
    assert all(math.isnan(v) for v in ww.window_means([float("nan")], 20))


def test_feature_filter_spans_its_time_constants():
    cfg = replace(ww.WhatWhenConfig(), rise_ratio=(0.02, 0.5))
    filt = ww.feature_filter(cfg, 2000, torch.Generator().manual_seed(0))
    lo, hi = cfg.tau_features
    assert float(filt.tau_decay.min()) >= lo and float(filt.tau_decay.max()) <= hi
    ratio = filt.tau_rise / filt.tau_decay
    slow = filt.tau_rise > 2.0  # rises below 2 ms are raised to 2 ms
    assert bool((ratio[slow] >= cfg.rise_ratio[0] - 1e-12).all()) and bool((ratio <= cfg.rise_ratio[1] + 1e-12).all())
    assert float(filt.tau_rise.min()) == 2.0 and float(filt.tau_rise.max()) > 200.0
    plain = ww.feature_filter(replace(cfg, rise_ratio=None), 10, torch.Generator().manual_seed(0))
    assert plain.tau_rise == 2.0


def test_exposure_fixes_a_decorrelating_transform():
    """M = (C + eps I)^(-1/2): symmetric, and M C M has the eigenvalues lambda / (lambda + eps)."""
    cfg = replace(ww.WhatWhenConfig(), n_exc=40, n_inh=10, p=0.2, trial_ms=300.0, whiten_eps=0.5,
                  blocks=(ww.Block("learn", 100.0, (1.0, 0.5, 0.5, 0.25), 4),))
    rng = np.random.default_rng(3)
    net, drives, stimuli = ww.build(cfg, rng)
    stream = ww._FeatureStream(cfg, net, drives, stimuli, rng)
    x = torch.randn(7, 50, dtype=torch.float64)
    assert torch.equal(stream.features(x), x)  # no exposure, no transform
    stream.expose(ww.schedule(cfg, rng))
    m, c = stream.whiten, stream.moment
    assert torch.allclose(m, m.T, atol=1e-12)
    lam = torch.linalg.eigvalsh(c)
    assert torch.allclose(torch.linalg.eigvalsh(m @ c @ m), lam / (lam + 0.5), atol=1e-9)
    assert torch.allclose(stream.features(x), x @ m)
    with pytest.raises(ValueError, match="whiten_eps"):
        ww._FeatureStream(replace(cfg, whiten_eps=0.0), net, drives, stimuli, rng).expose(ww.schedule(cfg, rng)[:1])


def test_goal_tally_counts_seeds_and_never():
    from spikegate.cli.run import goal_tally

    cfg = ww.WhatWhenConfig()
    names = [b.name for b in cfg.blocks]

    def seed(peak, r, prob, timing, force_prob, force_timing, early, end, slope=0.9):
        rule = {**{f"peak_error_ms[{b}]": peak for b in names}, **{f"prob_r[{b}]": r for b in names},
                **{f"prob_slope_norm[{b}]": slope for b in names},
                "adapt_probability_trials": prob, "adapt_timing_trials": timing,
                "cos_what_when_early": early, "cos_what_when_end": end}
        return {"three-factor": rule, "FORCE": {"adapt_probability_trials": force_prob,
                                                "adapt_timing_trials": force_timing}}

    lines = goal_tally(cfg, [seed(5, 0.99, 10, 18, None, 40, 0.1, 0.05),
                             seed(25, 0.90, 30, 20, 50, 30, 0.05, 0.1, slope=0.7)])
    text = "\n".join(lines)
    assert "<= 20 ms in every block: 1 of 2 seeds (largest 25 ms)" in text
    assert "T2.2 r >= 0.95, learn: 1 of 2 seeds (mean 0.945); normalised slope 1 ± 0.2 in 1 of 2 (mean 0.8)" in text
    # probability: FORCE never (counts as slower) and 50 against 30 (not 2x); the ratio on the seeds where
    # both get there
    assert "probability switch: <= 20 trials in 1 of 2 seeds (mean 20); FORCE >= 2x slower or never in 1 of 2 " \
           "(never in 1; in the seeds where it gets there, mean 50, 1.7x the rule's mean there)" in text
    assert "timing switch: <= 20 trials in 2 of 2 seeds (mean 19); FORCE >= 2x slower or never in 1 of 2" in text
    assert "reference" not in text  # no row without the reference's measure
    # a seed where neither gets there does not count as FORCE being slower
    both_never = goal_tally(cfg, [seed(5, 0.99, None, 18, None, 40, 0.1, 0.05)])
    assert "probability switch: <= 20 trials in 0 of 1 seeds (mean never); FORCE >= 2x slower or never in 0 of 1" \
        in "\n".join(both_never)
    assert "T2.4 |cos| <= 0.2 at the end: 2 of 2 seeds; below the early value in 1 of 2 (means 0.075 -> 0.075)" in text


def test_cli_seed_statistics_and_options():
    from spikegate.cli.run import seed_statistics

    assert seed_statistics([10, 20, None]) == "15 ± 7.1 [10, 20, never]"
    assert seed_statistics([None, None]) == "never [never, never]"
    assert seed_statistics([0.5]) == "0.5 ± 0 [0.5]"
    args = build_parser().parse_args(["run", "what-when", "--seeds", "3", "--jobs", "2"])
    assert args.seeds == 3 and args.jobs == 2
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "what-when", "--seeds", "0"])


def test_features_are_the_excursions_above_the_threshold():
    cfg = replace(ww.WhatWhenConfig(), n_exc=40, n_inh=10, p=0.2, trial_ms=300.0,
                  blocks=(ww.Block("learn", 100.0, (1.0, 0.5, 0.5, 0.25), 3),))
    feats = {}
    for theta in (None, 2.0):
        rng = np.random.default_rng(4)
        stream = ww._FeatureStream(replace(cfg, feature_threshold=theta), *ww.build(cfg, rng), rng)
        feats[theta] = [stream.trial(t) for t in ww.schedule(cfg, rng)]
    for raw, x in zip(feats[None], feats[2.0]):
        assert float(raw.min()) < 0.0 and float(raw.max()) > 2.0
        assert torch.equal(x, (raw - 2.0).clamp(min=0.0))


def test_what_scores_of_exact_and_reversed_predictions():
    cfg = replace(ww.WhatWhenConfig(), probe_fraction=0.0)
    trials = ww.schedule(cfg, np.random.default_rng(3))
    exact = ww.what_scores([t.prob for t in trials], trials, cfg)
    for b in cfg.blocks:
        assert exact[f"prob_r[{b.name}]"] == pytest.approx(1.0)
        assert exact[f"prob_slope_norm[{b.name}]"] == pytest.approx(1.0)
    assert exact["adapt_probability_trials"] == 4  # already at the level before: the first smoothed window
    assert exact["adapt_probability_cue_trials"] == pytest.approx(4 / cfg.n_cues)  # 4 trials over 4 cues
    # a learner that keeps the probabilities of the block before the switch
    stale = [cfg.blocks[min(t.block, 1)].probs[t.cue] for t in trials]
    s = ww.what_scores(stale, trials, cfg)
    assert s["prob_r[probability switch]"] == pytest.approx(-1.0) and s["adapt_probability_trials"] is None


def test_centred_what_factor_removes_the_common_noise_of_cues_that_share_most_features():
    """Two cues whose features share a large common part, outcome A with probability 0.75 and
    0.25: every outcome moves both amplitudes through the common part. The covariance factor
    f - lambda <f> slows that part, so the amplitudes fluctuate far less from trial to trial, and
    they still settle apart by the same margin."""
    n, t_len = 50, 60
    gen = torch.Generator().manual_seed(0)
    common = torch.rand(n, generator=gen, dtype=torch.float64) + 1.0
    own = [torch.zeros(n, dtype=torch.float64) for _ in range(2)]
    own[0][:5], own[1][5:10] = 1.0, 1.0
    tf_when, tf_what = ThreeFactor(eta=0.0, tau_e=20.0), ThreeFactor(eta=2e-5, tau_e=20.0)
    gates = torch.zeros(3, t_len, dtype=torch.float64)
    gates[1:, -25:] = 1.0
    amps = {}
    for centre in (0.0, 0.9):
        rng = np.random.default_rng(0)
        w = torch.zeros(3, n, dtype=torch.float64)
        mean, trace = None, []
        for trial in range(300):
            cue = trial % 2
            x = (common + own[cue]).expand(t_len, n).clone()
            target = torch.zeros(3, t_len, dtype=torch.float64)
            target[1, -25:] = float(rng.random() < (0.75, 0.25)[cue])
            pre, mean = ww._centred(x, gates[1], mean, centre, 20)
            ww._learn_three_factor(tf_when, tf_what, x, target, gates, w, 5.0, w[1:] @ x.T, pre)
            trace.append([float(w[1] @ (common + own[c])) for c in range(2)])
        amps[centre] = np.array(trace[-100:])
    assert (amps[0.9].std(0) < amps[0.0].std(0) / 3).all()
    gap = {c: float(np.diff(a.mean(0))[0]) for c, a in amps.items()}
    assert gap[0.9] == pytest.approx(gap[0.0], rel=0.2) and gap[0.9] < -0.25


def test_a_long_when_eligibility_puts_the_bump_early_when_the_gate_closes_at_the_outcome():
    """Time cells every 10 ms, a target bump at 500 ms, 30 trials of the online *when* rule. With
    the gate closing at the outcome (outcome trials), the error at t is paired with the features
    of about tau_e before, so a 20 ms trace puts the read-out's peak earlier than a 5 ms one;
    with the gate open past the outcome (omission trials) both reach the due time."""
    t = torch.arange(800, dtype=torch.float64)
    x = torch.exp(-0.5 * ((t[:, None] - torch.arange(0.0, 800.0, 10.0)[None]) / 40.0) ** 2)
    target = torch.zeros(3, 800, dtype=torch.float64)
    target[0] = ww._bump(t, 500.0, 75.0)
    peaks = {}
    for end in (500, 650):
        gates = torch.zeros(3, 800, dtype=torch.float64)
        gates[0, 100:end] = 1.0
        for tau in (20.0, 5.0):
            w = torch.zeros(3, x.shape[1], dtype=torch.float64)
            tf_when, tf_what = ThreeFactor(eta=1e-4, tau_e=tau), ThreeFactor(eta=0.0, tau_e=20.0)
            for _ in range(30):
                ww._learn_three_factor(tf_when, tf_what, x, target, gates, w, 5.0, w[1:] @ x.T, x)
            peaks[end, tau] = ww.peak_index(w[0] @ x.T, 25.0)
    assert peaks[500, 20.0] + 3 <= peaks[500, 5.0] < 500
    assert abs(peaks[650, 20.0] - 500) <= 1 and abs(peaks[650, 5.0] - 500) <= 1


def test_outcome_learners_follow_the_outcomes():
    from spikegate.tasks.what_when_reference import outcome_learners

    T = ww.Trial
    trials = [T(0, 0, 0, False, 300.0, 1.0), T(0, 0, 2, True, 300.0, 1.0), T(0, 0, 1, False, 300.0, 1.0),
              T(0, 1, 0, False, 300.0, 0.5), T(1, 0, 0, False, 300.0, 1.0), T(1, 0, 0, False, 300.0, 1.0)]
    out = outcome_learners(trials, 2, rates=(0.5,))
    # running average: cue 0 sees A (0 -> 0.5), a probe (no change), B (0.5 -> 0.25), across the switch A
    assert out["running average mu=0.5"] == [0.0, 0.5, 0.5, 0.0, 0.25, 0.625]
    # frequency of A among the cue's learning trials so far in the block (0.5 before the first)
    assert out["frequency in block"] == [0.5, 1.0, 1.0, 0.5, 0.5, 1.0]


def test_peak_of_a_noisy_plateau_is_read_after_smoothing_at_the_targets_scale():
    t = torch.arange(1000, dtype=torch.float64)
    bump = ww._bump(t, 700.0, 90.0)
    assert ww.peak_index(bump, 30.0) == 700 and ww.peak_index(bump, 3.0) == 700
    assert ww.peak_index(ww._bump(t, 150.0, 45.0), 30.0) == 150  # zero padding would pull it inwards
    gen = torch.Generator().manual_seed(0)
    fine, smooth = [], []
    for _ in range(50):
        noisy = bump + 0.05 * torch.randn(1000, generator=gen, dtype=torch.float64)
        fine.append(abs(ww.peak_index(noisy, 3.0) - 700))
        smooth.append(abs(ww.peak_index(noisy, 30.0) - 700))
    assert np.mean(smooth) < 3 < np.mean(fine) / 2


def test_the_what_consolidation_is_stable_with_the_teacher_drive_as_its_postsynaptic_factor():
    """One cue always followed by A, constant features. The consolidated step moves the *what*
    amplitude by a gain g = eta S (rho0 + y* [+ z]) times its error. With the read-out's own
    output in the postsynaptic factor the gain grows with the amplitude, so at a rate where the
    teacher-drive factor still converges (g ~ 1.9 at the target), the output factor (g ~ 2.2)
    oscillates with a growing amplitude."""
    n, t_len = 20, 60
    x = torch.ones(t_len, n, dtype=torch.float64)
    gates = torch.zeros(3, t_len, dtype=torch.float64)
    gates[1:, -25:] = 1.0
    target = gates * torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)[:, None]

    def amplitudes(output: bool) -> list[float]:
        w = torch.zeros(3, n, dtype=torch.float64)
        tf_when, tf_what = ThreeFactor(eta=0.0, tau_e=5.0), ThreeFactor(eta=7.5e-4, tau_e=20.0)
        out = []
        for _ in range(10):
            ww._learn_three_factor(tf_when, tf_what, x, target, gates, w, 5.0, w[1:] @ x.T, x, output)
            out.append(float(w[1] @ x[0]))
        return out

    plain, with_output = amplitudes(False), amplitudes(True)
    assert abs(plain[-1] - 1.0) < abs(plain[0] - 1.0) / 3
    assert abs(with_output[-1] - 1.0) > 3 * abs(with_output[0] - 1.0)
    assert ww.WhatWhenConfig().what_post_output is False
