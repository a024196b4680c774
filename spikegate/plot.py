"""Plots as PNG files: raster, membrane traces, population rate, ISI histogram, learning curves,
a metric against the number of time steps (conversion), image sample grids.

Every function draws on a fresh ``matplotlib.figure.Figure`` with the Agg canvas (no pyplot,
no global state, no display needed), saves it to ``path`` when given, and returns the figure.
Spikes are given either as a dense raster ``[T, N]`` (0/1) with the step ``dt`` or as
``(times, units)`` arrays; times are in ms.
"""

from __future__ import annotations

import os
from typing import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from spikegate._validate import check_positive


def _np(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _events(spikes, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """(times in ms, units) from a dense raster ``[T, N]`` or a ``(times, units)`` pair."""
    if isinstance(spikes, tuple) and len(spikes) == 2:
        return _np(spikes[0]).astype(float), _np(spikes[1]).astype(int)
    if hasattr(spikes, "times") and hasattr(spikes, "units"):
        return _np(spikes.times).astype(float), _np(spikes.units).astype(int)
    raster = _np(spikes)
    if raster.ndim != 2:
        raise ValueError(f"spikes must be a raster [T, N] or a (times, units) pair, got shape {raster.shape}")
    t, n = np.nonzero(raster)
    return t * dt, n


def _new(figsize: tuple[float, float]) -> Figure:
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _finish(fig: Figure, path: str | os.PathLike | None) -> Figure:
    if path is not None:
        folder = os.path.dirname(os.fspath(path))
        if folder:
            os.makedirs(folder, exist_ok=True)
        fig.savefig(path, dpi=120)
    return fig


def raster(
    spikes,
    path: str | os.PathLike | None = None,
    *,
    dt: float = 1.0,
    groups: Mapping[str, tuple[int, int]] | None = None,
    title: str = "Spike raster",
    max_points: int = 200_000,
) -> Figure:
    """Dot raster of spike times (x, ms) against unit index (y).

    ``groups`` colours index ranges, e.g. ``{"exc": (0, 800), "inh": (800, 1000)}``.
    At most ``max_points`` spikes are drawn (evenly thinned beyond that).
    """
    check_positive(dt, "dt")
    times, units = _events(spikes, dt)
    if len(times) > max_points:
        keep = np.linspace(0, len(times) - 1, max_points).astype(int)
        times, units = times[keep], units[keep]
    fig = _new((9, 4.5))
    ax = fig.add_subplot()
    if groups:
        for i, (name, (lo, hi)) in enumerate(groups.items()):
            m = (units >= lo) & (units < hi)
            ax.scatter(times[m], units[m], s=0.6, marker="|", color=f"C{i}", label=name, linewidths=0.6)
        ax.legend(loc="upper right", markerscale=8, fontsize=8)
    else:
        ax.scatter(times, units, s=0.6, marker="|", color="k", linewidths=0.6)
    ax.set(xlabel="time (ms)", ylabel="neuron", title=title)
    ax.margins(x=0.01, y=0.01)
    return _finish(fig, path)


def membrane(
    v,
    path: str | os.PathLike | None = None,
    *,
    dt: float = 1.0,
    threshold: float | None = None,
    spikes=None,
    labels: Sequence[str] | None = None,
    unit: str = "",
    title: str = "Membrane potential",
) -> Figure:
    """Membrane traces ``v: [T]`` or ``[T, K]`` against time, with a dashed threshold line
    and a tick above each trace where ``spikes`` (same shape, 0/1) has a spike."""
    check_positive(dt, "dt")
    v = _np(v).astype(float)
    v = v[:, None] if v.ndim == 1 else v
    t = np.arange(v.shape[0]) * dt
    fig = _new((9, 3.5))
    ax = fig.add_subplot()
    top = np.nanmax(v) if v.size else 1.0
    for k in range(v.shape[1]):
        label = labels[k] if labels else None
        ax.plot(t, v[:, k], lw=0.9, color=f"C{k}", label=label)
        if spikes is not None:
            s = _np(spikes)
            s = s[:, None] if s.ndim == 1 else s
            st = t[np.nonzero(s[:, k])[0]]
            ax.plot(st, np.full_like(st, top), "v", ms=4, color=f"C{k}")
    if threshold is not None:
        ax.axhline(threshold, ls="--", color="0.4", lw=0.8, label="threshold")
    ax.set(xlabel="time (ms)", ylabel=f"v {unit}".strip(), title=title)
    if labels or threshold is not None:
        ax.legend(loc="upper right", fontsize=8)
    return _finish(fig, path)


def population_rate(
    spikes,
    path: str | os.PathLike | None = None,
    *,
    dt: float = 1.0,
    n_units: int | None = None,
    duration: float | None = None,
    bin_ms: float = 5.0,
    title: str = "Population rate",
) -> Figure:
    """Mean firing rate per neuron (Hz) in bins of ``bin_ms`` against time."""
    check_positive(bin_ms, "bin_ms")
    times, units = _events(spikes, dt)
    if isinstance(spikes, tuple) or hasattr(spikes, "times"):
        n_units = n_units or (int(units.max()) + 1 if len(units) else 1)
        duration = duration or (times.max() + dt if len(times) else bin_ms)
    else:
        steps, width = _np(spikes).shape
        n_units, duration = n_units or width, duration or steps * dt
    edges = np.arange(0, duration + bin_ms, bin_ms)
    counts, _ = np.histogram(times, edges)
    rate = counts / (n_units * bin_ms / 1000.0)
    fig = _new((9, 3))
    ax = fig.add_subplot()
    ax.step(edges[:-1], rate, where="post", color="k", lw=0.9)
    ax.set(xlabel="time (ms)", ylabel="rate (Hz)", title=title)
    return _finish(fig, path)


def isi_histogram(
    spikes,
    path: str | os.PathLike | None = None,
    *,
    dt: float = 1.0,
    bins: int = 50,
    title: str = "Inter-spike intervals",
) -> Figure:
    """Histogram of inter-spike intervals (ms) pooled over neurons, with the mean ISI CV."""
    times, units = _events(spikes, dt)
    order = np.lexsort((times, units))
    times, units = times[order], units[order]
    same = units[1:] == units[:-1]
    isi = np.diff(times)[same]
    cvs = []
    for u in np.unique(units):
        d = np.diff(times[units == u])
        if len(d) >= 2 and d.mean() > 0:
            cvs.append(d.std() / d.mean())
    fig = _new((5, 3.5))
    ax = fig.add_subplot()
    ax.hist(isi, bins=bins, color="0.3")
    cv = f", mean CV {np.mean(cvs):.2f}" if cvs else ""
    ax.set(xlabel="ISI (ms)", ylabel="count", title=f"{title}{cv}")
    return _finish(fig, path)


def learning_curve(
    history: Mapping[str, Sequence[float]],
    path: str | os.PathLike | None = None,
    *,
    xlabel: str = "epoch",
    title: str = "Learning curve",
) -> Figure:
    """One panel per metric family: keys containing ``loss`` on the left, the rest (accuracy
    and the like) on the right; each series against its index + 1."""
    losses = {k: v for k, v in history.items() if "loss" in k}
    others = {k: v for k, v in history.items() if "loss" not in k}
    panels = [p for p in (losses, others) if p]
    if not panels:
        raise ValueError("history is empty")
    fig = _new((4.5 * len(panels), 3.5))
    for i, series in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for k, v in series.items():
            v = _np(v).astype(float)
            ax.plot(np.arange(1, len(v) + 1), v, marker="o", ms=3, label=k)
        ax.set(xlabel=xlabel, title=title if i == 0 else "")
        ax.legend(fontsize=8)
    return _finish(fig, path)


def versus_steps(
    series: Mapping[str, Mapping[int, float]],
    path: str | os.PathLike | None = None,
    *,
    ylabel: str = "accuracy (%)",
    reference: Mapping[str, float] | None = None,
    logy: bool = False,
    title: str = "ANN -> SNN conversion",
) -> Figure:
    """A metric (accuracy, output error) against the number of time steps T, one line per
    series ``{name: {T: value}}`` on a log2 T axis; ``reference`` draws horizontal lines
    (e.g. the ANN's accuracy)."""
    if not series:
        raise ValueError("series is empty")
    fig = _new((5.0, 3.6))
    ax = fig.add_subplot(1, 1, 1)
    for name, points in series.items():
        steps = sorted(points)
        ax.plot(steps, [points[t] for t in steps], marker="o", ms=4, label=name)
    for name, value in (reference or {}).items():
        ax.axhline(value, ls="--", lw=1, color="0.4")
        ax.annotate(name, (ax.get_xlim()[0], value), fontsize=8, va="bottom")
    ax.set_xscale("log", base=2)
    if logy:
        ax.set_yscale("log")
    ax.set(xlabel="time steps T", ylabel=ylabel, title=title)
    ax.legend(fontsize=8)
    return _finish(fig, path)


def sample_grid(
    images,
    path: str | os.PathLike | None = None,
    *,
    ncols: int | None = None,
    value_range: tuple[float, float] = (0.0, 1.0),
    title: str = "Samples",
) -> Figure:
    """Images ``[N, C, H, W]`` (C = 1 grey or 3 RGB) tiled in a grid with one-pixel gaps;
    values are clipped to ``value_range`` and shown black (low) to white (high)."""
    x = _np(images).astype(float)
    if x.ndim != 4 or x.shape[1] not in (1, 3) or len(x) == 0:
        raise ValueError(f"images must be [N, C, H, W] with N >= 1 and C in (1, 3), got shape {x.shape}")
    lo, hi = value_range
    if not hi > lo:
        raise ValueError(f"value_range must be (low, high) with high > low, got {value_range}")
    n, c, h, w = x.shape
    ncols = ncols or int(np.ceil(np.sqrt(n)))
    nrows = int(np.ceil(n / ncols))
    canvas = np.ones((nrows * (h + 1) + 1, ncols * (w + 1) + 1, c))
    x = (np.clip(x, lo, hi) - lo) / (hi - lo)
    for i in range(n):
        r, k = divmod(i, ncols)
        canvas[1 + r * (h + 1): 1 + r * (h + 1) + h, 1 + k * (w + 1): 1 + k * (w + 1) + w] = x[i].transpose(1, 2, 0)
    fig = _new((max(2.0, 0.45 * ncols), max(2.0, 0.45 * nrows + 0.4)))
    ax = fig.add_subplot()
    ax.imshow(canvas[..., 0] if c == 1 else canvas, cmap="gray" if c == 1 else None, vmin=0, vmax=1,
              interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(title, fontsize=9)
    return _finish(fig, path)
