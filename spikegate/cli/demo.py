"""``spikegate demo``: the main job on an embedded default.

A 1000-neuron heterogeneous Izhikevich network (800 excitatory, 200 inhibitory; Izhikevich
2003) driven by balanced Poisson input for 1 s of biological time; prints the firing rates
and writes the HDF5 recording and the raster, membrane, rate and ISI figures.

Then Loihi deployment: a 64-128-10 spiking network is trained on the 8x8 digits with
Loihi-aware training (the float twin of the chip's integer neurons), saved as
loihi_digits.pt, deployed to spikegate's Loihi emulator, and both accuracies are printed
(``spikegate deploy runs/demo/loihi_digits.pt --target lava`` repeats it on Intel Lava).
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
    p.add_argument("--loihi-epochs", type=int, default=15,
                   help="training epochs of the Loihi digits model (default: 15)")
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
    loihi_digits(out, args.seed, args.loihi_epochs)
    return 0


def loihi_digits(out: str, seed: int, epochs: int) -> None:
    """Train the digits classifier with Loihi-aware training, deploy it to the emulator."""
    from spikegate.export.lava.deploy import deploy
    from spikegate.io import save_checkpoint
    from spikegate.tasks import loihi_digits as task

    import torch

    cfg = task.DigitsConfig(epochs=epochs, seed=seed)
    # a 64-128-10 network trains fastest on one thread; more threads only contend for cores
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    print(f"Loihi digits: training 64-{cfg.hidden}-10 CUBA LIF on the chip's grid, T = {cfg.steps}, {epochs} epochs")
    t0 = time.perf_counter()
    try:
        model, _ = task.train(cfg, log=print)
    finally:
        torch.set_num_threads(threads)
    ckpt = os.path.join(out, "loihi_digits.pt")
    save_checkpoint(ckpt, task.checkpoint_payload(model, cfg))
    spikes, labels = task.test_set(cfg)
    r = deploy(model, spikes, labels, target="emulator")
    print(f"  trained in {time.perf_counter() - t0:.1f} s; {r.samples} test digits: PyTorch model "
          f"{r.float_accuracy:.2%}, Loihi emulator {r.target_accuracy:.2%} (integer model "
          f"{r.integer_accuracy:.2%}; {r.spike_mismatches} spikes differ between integer model and emulator)")
    print(f"  energy per inference on Loihi (estimate): {r.ops.loihi_energy() * 1e9:.1f} nJ; wrote {ckpt}")
