"""Figures of the what/when task (PNG, matplotlib Agg, no global state)."""

from __future__ import annotations

import math
import os

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from spikegate.tasks.what_when import LEARNERS, WhatWhenResult
from spikegate.tasks.what_when_scores import SMOOTH_TRIALS, block_bounds

COLORS = {"three-factor": "tab:blue", "FORCE": "tab:red", "FORCE+reset": "tab:orange"}


def _save(fig: Figure, path: str) -> str:
    FigureCanvasAgg(fig)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def readout_traces(result: WhatWhenResult, path: str, learner: str = "three-factor") -> str:
    """Probe-trial read-outs (mean of the last probes per cue) against time, one panel per block."""
    cfg = result.config
    blocks = range(len(cfg.blocks))
    fig = Figure(figsize=(4.2 * len(cfg.blocks), 5.2))
    axes = fig.subplots(2, len(cfg.blocks), squeeze=False, sharex=True)
    t = np.arange(int(round(cfg.trial_ms))) - cfg.baseline_ms
    for b in blocks:
        block = cfg.blocks[b]
        for c in range(cfg.n_cues):
            z = result.traces[learner].get((b, c))
            if z is None:
                continue
            z = z.numpy()
            axes[0, b].plot(t[: z.shape[1]], z[0], lw=1.2, label=f"cue {c + 1}")
            axes[1, b].plot(t[: z.shape[1]], z[1], lw=1.2, label=f"cue {c + 1}: p(A) = {block.probs[c]:g}")
        for row, name in enumerate(("when", "what A")):
            ax = axes[row, b]
            ax.axvline(block.delay, color="k", ls="--", lw=0.8)
            ax.axvline(0, color="grey", ls=":", lw=0.8)
            ax.set_ylabel(f"{name} read-out")
        axes[0, b].set_title(f"{block.name}: delay {block.delay:g} ms")
        axes[1, b].set_xlabel("time from cue (ms)")
        axes[1, b].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"{learner}: read-outs on probe trials (no outcome), dashed = outcome time")
    return _save(fig, path)


def probability(result: WhatWhenResult, path: str) -> str:
    """Anticipatory *what A* amplitude against P(A | cue), last trials of each block."""
    cfg, trials = result.config, result.trials
    fig = Figure(figsize=(4.0 * len(LEARNERS), 3.8))
    axes = fig.subplots(1, len(LEARNERS), squeeze=False)[0]
    for ax, name in zip(axes, LEARNERS):
        for b, block in enumerate(cfg.blocks):
            amps = [np.mean([a for a, tr in zip(result.what_amp[name], trials) if tr.block == b and tr.cue == c][-15:])
                    for c in range(cfg.n_cues)]
            ax.plot(block.probs, amps, "o-", label=block.name)
        ax.plot([0, 1], [0, 1], "k:", lw=0.8)
        ax.set_xlabel("P(outcome A | cue)")
        ax.set_ylabel("what-A read-out before the outcome")
        ax.set_title(name)
        ax.legend(fontsize=7)
    return _save(fig, path)


def adaptation(result: WhatWhenResult, path: str) -> str:
    """Per-trial scores around the switches: *when* fit (R^2 before the outcome), with each
    block's held-out least-squares level, and *what* error."""
    trials = result.trials
    starts, ends = block_bounds(trials, len(result.config.blocks))
    switches = starts[1:]
    fig = Figure(figsize=(11, 6.5))
    ax1, ax2 = fig.subplots(2, 1)
    k = SMOOTH_TRIALS
    mid = (k - 1) // 2  # each average is drawn at its window's middle, as trials_to_adapt counts
    for name in LEARNERS:
        s = np.asarray(result.when_fit[name], dtype=float)
        idx = np.flatnonzero(np.isfinite(s))
        ax1.plot(idx[mid:mid + idx.size - k + 1], np.convolve(s[idx], np.ones(k) / k, "valid"), color=COLORS[name],
                 label=name)
        err = np.abs(np.asarray(result.what_amp[name]) - np.asarray([t.prob for t in trials]))
        ax2.plot(np.arange(mid, mid + len(err) - k + 1), np.convolve(err, np.ones(k) / k, "valid"),
                 color=COLORS[name], label=name)
    # each block's held-out least-squares level (the level re-timing is also measured towards)
    ref = result.reference.get("features", {})
    for b, (a, e) in enumerate(zip(starts, ends)):
        if "r2" in ref.get(b, {}):
            ax1.hlines(ref[b]["r2"], a, e - 1, color="grey", ls=":", lw=1.2,
                       label="held-out least squares" if b == min(ref) else None)
    for ax in (ax1, ax2):
        for start in switches:
            ax.axvline(start, color="k", ls="--", lw=0.8)
        ax.legend(fontsize=8)
    ax1.set_ylabel("when: R² before the outcome")
    ax2.set_ylabel("what: |amplitude - P(A|cue)|")
    ax2.set_xlabel("trial (dashed: unsignalled switches)")
    fig.suptitle(f"adaptation; centred moving average over {k} trials")
    return _save(fig, path)


def weight_geometry(result: WhatWhenResult, path: str) -> str:
    """What-vs-when read-out weights: per-synapse scatter and |cos| over trials."""
    fig = Figure(figsize=(11, 4))
    ax1, ax2 = fig.subplots(1, 2)
    w = result.weights["three-factor"].numpy()
    ax1.scatter(w[0], w[1], s=4, alpha=0.5)
    ax1.set_xlabel("when weight")
    ax1.set_ylabel("what-A weight")
    ax1.set_title("three-factor read-out weights (one dot per neuron)")
    for name in LEARNERS:
        ax2.plot(result.cosines[name], color=COLORS[name], label=name)
    ax2.axhline(1 / math.sqrt(w.shape[1]), color="grey", ls=":", label="random vectors")
    ax2.axhline(0.2, color="k", ls="--", lw=0.8)
    ax2.set_xlabel("trial")
    ax2.set_ylabel("|cos(W_what A, W_when)|")
    ax2.legend(fontsize=8)
    return _save(fig, path)


def limits(result: WhatWhenResult, path: str) -> str:
    """What limits the timing: the rate of the neurons the cue drives after the cue (the reservoir's
    memory of it), and per block the mean *when* read-out over the last outcome-free trials of
    the learners and of the held-out least-squares references."""
    cfg = result.config
    fig = Figure(figsize=(4.0 * (1 + len(cfg.blocks)), 3.8))
    axes = fig.subplots(1, 1 + len(cfg.blocks), squeeze=False)[0]
    if result.cue_rate is not None:
        rate = result.cue_rate.numpy()
        edges = np.arange(len(rate) + 1) * 50.0 - cfg.baseline_ms
        axes[0].stairs(rate, edges, color="tab:green", label="cue's neurons")
        axes[0].axvspan(0, cfg.cue_ms, color="grey", alpha=0.2, label="cue")
        axes[0].axhline(result.spontaneous.get("rate_hz", np.nan), color="k", ls=":", lw=0.8, label="spontaneous")
        axes[0].set_yscale("log")
        axes[0].legend(fontsize=7)
    axes[0].set_xlabel("time from cue (ms)")
    axes[0].set_ylabel("rate (Hz), 50 ms bins")
    axes[0].set_title("memory of the cue")
    lines = [({b: z[0] for b, z in result.end_traces[n].items()}, n, COLORS[n], "-")  # row 0: *when*
             for n in ("three-factor", "FORCE+reset")]
    lines += [(result.reference_traces.get(name, {}), label, color, "--")
              for name, label, color in (("features", "ridge on features (held out)", "tab:purple"),
                                         ("stimulus populations", "ridge on stimulus populations (oracle)", "tab:green"))]
    t = np.arange(int(round(cfg.trial_ms))) - cfg.baseline_ms
    for b, block in enumerate(cfg.blocks):
        ax = axes[1 + b]
        for traces, label, color, style in lines:
            if b in traces:
                z = traces[b].numpy()
                ax.plot(t[: len(z)], z, color=color, ls=style, lw=1.2, label=label)
        ax.axvline(block.delay, color="k", ls="--", lw=0.8)
        ax.set_title(f"{block.name}: delay {block.delay:g} ms")
        ax.set_xlabel("time from cue (ms)")
    axes[1].set_ylabel(f"when read-out, mean of last {cfg.tail_trials} no-outcome trials")
    axes[-1].legend(fontsize=7)
    return _save(fig, path)


def all_figures(result: WhatWhenResult, out: str) -> list[str]:
    from spikegate import plot

    paths = [
        readout_traces(result, os.path.join(out, "readout_traces.png")),
        readout_traces(result, os.path.join(out, "readout_traces_force.png"), learner="FORCE"),
        probability(result, os.path.join(out, "probability.png")),
        adaptation(result, os.path.join(out, "adaptation.png")),
        weight_geometry(result, os.path.join(out, "weights.png")),
        limits(result, os.path.join(out, "limits.png")),
    ]
    if result.raster is not None:
        cfg = result.config
        n = result.raster.shape[1]
        groups = {"excitatory": (0, cfg.n_exc), "inhibitory": (cfg.n_exc, n)}
        paths.append(os.path.join(out, "raster.png"))
        plot.raster(result.raster, paths[-1], dt=cfg.dt, groups=groups, title="last trial: reservoir spikes")
    return paths


__all__ = ["adaptation", "all_figures", "limits", "probability", "readout_traces", "weight_geometry"]
