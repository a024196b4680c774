"""``spikegate demo``: the main job on an embedded default.

A 1000-neuron heterogeneous Izhikevich network (800 excitatory, 200 inhibitory; Izhikevich
2003) driven by balanced Poisson input for 1 s of biological time; prints the firing rates
and writes the HDF5 recording and the raster, membrane, rate and ISI figures.
"""

from __future__ import annotations

import argparse
import os
import time

from spikegate.cli._common import add_out, add_seed, ensure_dir, positive_float


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run the main demo (1000-neuron Izhikevich network, 1 s)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_out(p, "runs/demo")
    add_seed(p)
    p.add_argument("--duration", type=positive_float, default=1000.0, help="biological time in ms (default: 1000)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from spikegate import plot
    from spikegate.io import Recorder
    from spikegate.tasks.izhikevich_network import isi_cv, izhikevich_network, rates_hz

    out = ensure_dir(args.out)
    n_exc, n_inh = 800, 200
    t0 = time.perf_counter()
    net = izhikevich_network(
        n_exc, n_inh, duration=args.duration, generator=torch.Generator().manual_seed(args.seed)
    )
    wall = time.perf_counter() - t0
    spikes, exc = net.spikes, net.excitatory
    rec_path = os.path.join(out, "recording.h5")
    with Recorder(
        rec_path, dt=net.dt, spikes={"exc": n_exc, "inh": n_inh}, traces={"v": (len(net.traced),)},
        attrs={"model": "izhikevich2003-network", "seed": args.seed, "traced_units": net.traced.numpy()},
    ) as rec:
        rec.extend({"exc": spikes[:, exc], "inh": spikes[:, ~exc]}, {"v": net.v})
    groups = {"excitatory": (0, n_exc), "inhibitory": (n_exc, n_exc + n_inh)}
    plot.raster(spikes, os.path.join(out, "raster.png"), dt=net.dt, groups=groups,
                title=f"Izhikevich network, {n_exc}E + {n_inh}I, Poisson drive")
    plot.membrane(net.v, os.path.join(out, "membrane.png"), dt=net.dt, threshold=30.0,
                  labels=[f"neuron {i}" for i in net.traced.tolist()], unit="(mV)")
    plot.population_rate(spikes, os.path.join(out, "rate.png"), dt=net.dt)
    plot.isi_histogram(spikes, os.path.join(out, "isi.png"), dt=net.dt)
    rates, cv = rates_hz(spikes, net.dt), isi_cv(spikes)
    print(f"Izhikevich network: {n_exc} excitatory + {n_inh} inhibitory neurons, "
          f"{args.duration:g} ms at dt = {net.dt:g} ms (simulated in {wall:.2f} s)")
    print(f"  excitatory rate {rates[exc].mean():.2f} Hz, inhibitory rate {rates[~exc].mean():.2f} Hz, "
          f"{int(spikes.sum())} spikes, mean ISI CV {cv.nanmean():.2f}")
    print(f"  wrote {rec_path} and raster.png, membrane.png, rate.png, isi.png in {out}")
    return 0
