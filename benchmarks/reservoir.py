"""Reservoir simulation speed: spikegate (numba, event-driven) against Brian2 in the same run.

The network: N heterogeneous Izhikevich neurons (80 % excitatory; Izhikevich 2003 parameter
spread), connection probability 0.1, Dale's law, weights 0.15 U(0,1) (excitatory) and
-1.5 U(0,1) (inhibitory) mV, scaled by 1000 / in-degree; every neuron driven by 50 excitatory and
50 inhibitory Poisson afferents at 10 Hz (jumps of 5 mV onto excitatory, 2 mV onto inhibitory
neurons); 1 s of biological time at dt = 1 ms and 0.1 ms; static synapses, or pair STDP
(all-to-all, additive) on the excitatory-excitatory synapses. Forward Euler, threshold 30 mV.

Simulators, on the same synapses, initial state and drive statistics:

* spikegate ``simulate(..., backend="cpu")``: one numba thread;
* Brian2 runtime mode with the Cython target (its compiled runtime);
* Brian2 C++ standalone mode (``-O3 -ffast-math -march=native``, single thread).

Run time excludes code generation and compilation for Brian2 (reported apart as "setup"; for
standalone the time is Brian2's own measurement of its main loop, without process start or
loading arrays); spikegate's run time is the whole ``simulate()`` call; its setup is the
first call's extra time (numba cache load, index building). Medians of ``--repeats`` runs.
Rates are printed to show that both simulators are in the same regime (the Poisson draws
differ, so spikes do not).

    python benchmarks/reservoir.py                      # the full table (several minutes)
    python benchmarks/reservoir.py --sizes 1000 --dts 1 --repeats 1   # a quick look
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time

import numpy as np


def network(n: int, dt: float, seed: int):
    from spikegate.reservoir import PoissonDrive, izhikevich_reservoir

    k = 0.1 * n
    net = izhikevich_reservoir(int(0.8 * n), n - int(0.8 * n), p=0.1, w_exc=0.15 * 1000 / k, w_inh=1.5 * 1000 / k,
                               dt=dt, generator=seed)
    w = np.where(net.excitatory, 5.0, 2.0)
    drives = [PoissonDrive(500.0, w), PoissonDrive(500.0, -w)]
    return net, drives


def stdp_rule(n: int, dt: float):
    from spikegate.plasticity import PairSTDP

    scale = 1000 / (0.1 * n)
    return PairSTDP(a_plus=0.002 * scale, a_minus=0.0021 * scale, w_max=0.3 * scale, dt=dt)


def rate_hz(n_spikes: int, n: int, duration_ms: float) -> float:
    return n_spikes / n / (duration_ms / 1000)


def run_spikegate(net, drives, rule, steps: int, repeats: int, seed: int) -> dict:
    from spikegate.reservoir import simulate

    times, spikes = [], 0
    t0 = time.perf_counter()
    first = simulate(net, steps, poisson=drives, plasticity=rule, generator=seed)
    first_time = time.perf_counter() - t0
    for r in range(repeats):
        t0 = time.perf_counter()
        res = simulate(net, steps, poisson=drives, plasticity=rule, generator=seed + r)
        times.append(time.perf_counter() - t0)
        spikes = res.spikes.steps.size
    med = statistics.median(times)
    return dict(run=med, best=min(times), setup=max(first_time - med, 0.0), spikes=spikes or first.spikes.steps.size)


def run_brian2_runtime(net, drives, rule, steps: int, repeats: int) -> dict:
    import brian2 as b2

    from spikegate.reservoir import brian2 as builder

    b2.set_device("runtime")
    b2.prefs.codegen.target = "cython"
    times, setups, spikes = [], [], 0
    for _ in range(repeats + 1):  # the first run compiles (Cython cache), then repeats
        t0 = time.perf_counter()
        model = builder.build(net, steps, poisson=drives, poisson_afferents=50, plasticity=rule, exact=False)
        built = time.perf_counter() - t0
        t0 = time.perf_counter()
        model.run(steps)
        total = time.perf_counter() - t0
        run = b2.get_device()._last_run_time
        times.append(run)
        setups.append(built + total - run)
        spikes = model.spikes().steps.size
    first_setup = setups[0]
    times = times[1:]
    return dict(run=statistics.median(times), best=min(times), setup=first_setup, spikes=spikes)


def run_brian2_standalone(net, drives, rule, steps: int, repeats: int, workdir: str) -> dict:
    import brian2 as b2

    from spikegate.reservoir import brian2 as builder

    directory = tempfile.mkdtemp(prefix="standalone_", dir=workdir)
    b2.set_device("cpp_standalone", directory=directory, build_on_run=False)
    try:
        t0 = time.perf_counter()
        model = builder.build(net, steps, poisson=drives, poisson_afferents=50, plasticity=rule, exact=False)
        model.run(steps)
        b2.device.build(directory=directory, compile=True, run=False, with_output=False)
        setup = time.perf_counter() - t0
        times = []
        for _ in range(repeats):
            b2.device.run(directory=directory, with_output=False)
            times.append(b2.device._last_run_time)
        spikes = model.spikes().steps.size
    finally:
        b2.device.reinit()
        b2.device.activate()
        b2.set_device("runtime")
        shutil.rmtree(directory, ignore_errors=True)
    return dict(run=statistics.median(times), best=min(times), setup=setup, spikes=spikes)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--dts", type=float, nargs="+", default=[1.0, 0.1])
    ap.add_argument("--duration", type=float, default=1000.0, help="biological time in ms (default 1000)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--simulators", nargs="+", default=["spikegate", "cython", "standalone"],
                    choices=["spikegate", "cython", "standalone"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", default=os.path.join("runs", "bench_reservoir"))
    args = ap.parse_args()
    import brian2
    import numba
    import torch

    torch.set_num_threads(1)
    os.makedirs(args.workdir, exist_ok=True)
    print(f"# reservoir benchmark: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15 min)")
    print(f"# numba {numba.__version__}, brian2 {brian2.__version__}, numpy {np.__version__}; "
          f"{args.duration:g} ms biological time; median of {args.repeats} runs; times in s")
    header = (f"{'N':>6} {'dt':>4} {'synapses':>8} {'simulator':<18} {'setup':>8} {'run':>8} {'best':>8} "
              f"{'rate Hz':>8} {'vs spikegate':>12}")
    print(header)
    print("-" * len(header))
    for n in args.sizes:
        for dt in args.dts:
            net, drives = network(n, dt, args.seed)
            steps = int(round(args.duration / dt))
            for plastic in (False, True):
                rule = stdp_rule(n, dt) if plastic else None
                results = {}
                for sim in args.simulators:
                    if sim == "spikegate":
                        results[sim] = run_spikegate(net, drives, rule, steps, args.repeats, args.seed)
                    elif sim == "cython":
                        results["brian2 cython"] = run_brian2_runtime(net, drives, rule, steps, args.repeats)
                    else:
                        results["brian2 standalone"] = run_brian2_standalone(net, drives, rule, steps, args.repeats,
                                                                             args.workdir)
                base = results.get("spikegate", {}).get("run")
                for name, r in results.items():
                    ratio = f"{r['run'] / base:11.2f}x" if base else ""
                    print(f"{n:>6} {dt:>4g} {'stdp' if plastic else 'static':>8} {name:<18} {r['setup']:8.2f} "
                          f"{r['run']:8.3f} {r['best']:8.3f} {rate_hz(r['spikes'], n, args.duration):8.2f} {ratio:>12}",
                          flush=True)
    print(f"# load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("# 'vs spikegate' = that simulator's median run time / spikegate's (> 1: spikegate is faster)")


if __name__ == "__main__":
    main()
