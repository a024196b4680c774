"""``spikegate simulate``: run a population of independent neurons and record it.

Models: lif, cuba (current-based LIF), izhikevich (with --preset), meta (probabilistic
meta-neuron). Inputs: constant current, Gaussian noise current (mean --amplitude, standard
deviation --noise per step), or Poisson spikes (--rate Hz, each adding --weight).
LIF-type models take their input per step in membrane units; Izhikevich in its current
units (mV/ms). Writes recording.h5 (spikes of all neurons, membrane traces of the first
--trace neurons) and raster.png, membrane.png, rate.png, isi.png.
"""

from __future__ import annotations

import argparse
import os

from spikegate.cli._common import add_out, add_seed, ensure_dir, positive_float

MODELS = ("lif", "cuba", "izhikevich", "meta")
DEFAULT_AMPLITUDE = {"lif": 0.055, "cuba": 0.005, "izhikevich": 10.0, "meta": 0.005}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "simulate", help="simulate a neuron population, write HDF5 + PNG",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", choices=MODELS, default="izhikevich", help="neuron model (default: izhikevich)")
    p.add_argument("--preset", default="RS", help="Izhikevich preset: RS IB CH FS LTS TC RZ (default: RS)")
    p.add_argument("--n", type=int, default=100, help="number of neurons (default: 100)")
    p.add_argument("--input", choices=("constant", "noise", "poisson"), default="noise", help="input type (default: noise)")
    p.add_argument("--amplitude", type=float, default=None,
                   help="constant / mean input per step (default: 0.055 lif, 0.005 cuba/meta, 10 izhikevich)")
    p.add_argument("--noise", type=float, default=None, help="noise standard deviation per step (default: amplitude/2)")
    p.add_argument("--rate", type=float, default=50.0, help="Poisson input rate in Hz (default: 50)")
    p.add_argument("--weight", type=float, default=None, help="Poisson input weight (default: 4x amplitude)")
    p.add_argument("--duration", type=positive_float, default=1000.0, help="duration in ms (default: 1000)")
    p.add_argument("--dt", type=positive_float, default=0.5, help="time step in ms (default: 0.5)")
    p.add_argument("--tau-mem", type=positive_float, default=10.0, help="membrane time constant, ms (LIF types)")
    p.add_argument("--tau-syn", type=positive_float, default=5.0, help="synaptic time constant, ms (cuba, meta)")
    p.add_argument("--threshold", type=positive_float, default=1.0, help="firing threshold (LIF types)")
    p.add_argument("--trace", type=int, default=5, help="neurons whose membrane is recorded (default: 5)")
    p.add_argument("--chunk", type=int, default=2000, help="steps simulated per chunk; recording is flushed per chunk")
    add_seed(p)
    add_out(p, "runs/simulate")
    p.set_defaults(func=run)


def build_population(args: argparse.Namespace):
    """The neuron module of the chosen model (float64)."""
    from spikegate.neurons import LIF, CubaLIF, Izhikevich, MetaNeuron

    if args.model == "lif":
        return LIF(tau_mem=args.tau_mem, dt=args.dt, threshold=args.threshold)
    if args.model == "cuba":
        return CubaLIF(tau_syn=args.tau_syn, tau_mem=args.tau_mem, dt=args.dt, threshold=args.threshold)
    if args.model == "meta":
        return MetaNeuron(args.tau_mem, args.tau_syn, args.threshold, dt=args.dt, learn=())
    return Izhikevich(args.preset, dt=args.dt)


def make_input(args: argparse.Namespace, steps: int, generator):
    import torch

    from spikegate.encoding import poisson

    amp = DEFAULT_AMPLITUDE[args.model] if args.amplitude is None else args.amplitude
    shape = (steps, 1, args.n)
    if args.input == "constant":
        return torch.full(shape, amp, dtype=torch.float64)
    if args.input == "noise":
        std = amp / 2 if args.noise is None else args.noise
        return amp + std * torch.randn(shape, generator=generator, dtype=torch.float64)
    w = 4 * amp if args.weight is None else args.weight
    rates = torch.full((1, args.n), args.rate, dtype=torch.float64)
    return w * poisson(rates, steps, args.dt, generator=generator)


def run(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from spikegate import plot
    from spikegate.io import Recorder
    from spikegate.tasks.izhikevich_network import isi_cv, rates_hz

    if args.n < 1:
        raise ValueError("--n must be >= 1")
    if args.chunk < 1:
        raise ValueError("--chunk must be >= 1")
    out = ensure_dir(args.out)
    gen = torch.Generator().manual_seed(args.seed)
    model = build_population(args)
    steps = int(round(args.duration / args.dt))
    x = make_input(args, steps, gen)
    k = min(args.trace, args.n)
    rec_path = os.path.join(out, "recording.h5")
    spikes_all, v_all, state = [], [], None
    with Recorder(rec_path, dt=args.dt, spikes={"population": args.n}, traces={"v": (k,)},
                  flush_every=args.chunk, attrs={"model": args.model, "seed": args.seed}) as rec, \
            torch.no_grad():
        for start in tqdm(range(0, steps, args.chunk), desc="simulate", unit="chunk", leave=False):
            kw = {"generator": gen} if args.model == "meta" else {}
            s, states = model.trace(x[start:start + args.chunk], state, **kw)
            state = type(states)(*(None if f is None else f[-1] for f in states))
            v = states.v[:, 0, :k]
            rec.extend({"population": s[:, 0]}, {"v": v})
            spikes_all.append(s[:, 0])
            v_all.append(v)
    spikes, v = torch.cat(spikes_all), torch.cat(v_all)
    threshold = 30.0 if args.model == "izhikevich" else args.threshold
    name = f"{args.model}" + (f" {args.preset}" if args.model == "izhikevich" else "")
    plot.raster(spikes, os.path.join(out, "raster.png"), dt=args.dt, title=f"{name}: {args.n} neurons, {args.input} input")
    v_plot = v.clone()
    v_plot[(spikes[:, :k] > 0) & (v_plot < threshold)] = threshold
    plot.membrane(v_plot, os.path.join(out, "membrane.png"), dt=args.dt, threshold=threshold,
                  spikes=spikes[:, :k], labels=[f"neuron {i}" for i in range(k)])
    plot.population_rate(spikes, os.path.join(out, "rate.png"), dt=args.dt)
    plot.isi_histogram(spikes, os.path.join(out, "isi.png"), dt=args.dt)
    rates, cv = rates_hz(spikes, args.dt), isi_cv(spikes)
    cv_text = f"{cv.nanmean():.2f}" if bool(torch.isfinite(cv).any()) else "n/a"
    print(f"{name}: {args.n} neurons, {args.duration:g} ms at dt = {args.dt:g} ms, {args.input} input")
    print(f"  mean rate {rates.mean():.2f} Hz (min {rates.min():.2f}, max {rates.max():.2f}), "
          f"{int(spikes.sum())} spikes, mean ISI CV {cv_text}")
    print(f"  wrote {rec_path} and raster.png, membrane.png, rate.png, isi.png in {out}")
    return 0
