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

Run time is processor time (single thread), because the machine is shared: under load a
process's wall time mostly measures how long it waited for a core, and a freshly started
process (Brian2's standalone binary) is favoured by the scheduler. Brian2 standalone measures
its main loop with ``std::clock`` (processor time; without process start, loading or writing
arrays); Brian2 runtime: processor time of ``Network.run`` minus its ``before_run`` (code
generation, Cython cache); spikegate: processor time of the whole ``simulate()`` call. Wall
times are printed where they exist. Code generation and compilation (Brian2) and the first
call's extra time (spikegate: numba cache load, index building) are the "setup" column (wall).
Medians of ``--repeats`` runs, the simulators' repeats interleaved.
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
import subprocess
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


class Spikegate:
    """spikegate: the first call pays the numba cache load and index building (setup)."""

    def __init__(self, net, drives, rule, steps: int, seed: int) -> None:
        from spikegate.reservoir import simulate

        self.call = lambda r: simulate(net, steps, poisson=drives, plasticity=rule, generator=seed + r)
        t0 = time.perf_counter()
        self.call(0)
        self.first = time.perf_counter() - t0
        self.times: list[float] = []
        self.walls: list[float] = []

    def repeat(self, r: int) -> None:
        w0, c0 = time.perf_counter(), time.process_time()
        res = self.call(r)
        self.times.append(time.process_time() - c0)
        self.walls.append(time.perf_counter() - w0)
        self.spikes = res.spikes.steps.size

    def setup(self) -> float:
        return max(self.first - statistics.median(self.walls), 0.0)


class Brian2Runtime:
    """Brian2 runtime mode, Cython target: every repeat builds the objects anew (not timed) and
    runs; Brian2's own run time excludes code generation and compilation (its first run pays
    the Cython compilation: that is the setup)."""

    def __init__(self, net, drives, rule, steps: int) -> None:
        import brian2 as b2

        from spikegate.reservoir import brian2 as builder

        self.b2, self.steps = b2, steps
        self.make = lambda: builder.build(net, steps, poisson=drives, poisson_afferents=50, plasticity=rule,
                                          exact=False)
        b2.set_device("runtime")
        b2.prefs.codegen.target = "cython"
        model = self.make()
        t0 = time.perf_counter()
        model.run(steps)
        self.first_setup = time.perf_counter() - t0 - b2.get_device()._last_run_time
        self.times: list[float] = []
        self.walls: list[float] = []

    def repeat(self, r: int) -> None:
        model = self.make()
        before_run, spent = model.net.before_run, [0.0]

        def timed_before_run(namespace):  # code generation, Cython cache look-up: not run time
            c = time.process_time()
            before_run(namespace)
            spent[0] += time.process_time() - c

        model.net.before_run = timed_before_run
        c0 = time.process_time()
        model.run(self.steps)
        self.times.append(time.process_time() - c0 - spent[0])
        self.walls.append(self.b2.get_device()._last_run_time)
        self.spikes = model.spikes().steps.size

    def setup(self) -> float:
        return self.first_setup


class Brian2Standalone:
    """Brian2 C++ standalone: code generation and compilation once (setup); each repeat runs
    the binary; the time is Brian2's measurement of its main loop (results/last_run_info.txt),
    which is processor time (``std::clock``, no OpenMP); no wall time of the loop alone."""

    def __init__(self, net, drives, rule, steps: int, workdir: str) -> None:
        import brian2 as b2

        from spikegate.reservoir import brian2 as builder

        self.directory = os.path.abspath(tempfile.mkdtemp(prefix="standalone_", dir=workdir))
        b2.set_device("cpp_standalone", directory=self.directory, build_on_run=False)
        try:
            t0 = time.perf_counter()
            model = builder.build(net, steps, poisson=drives, poisson_afferents=50, plasticity=rule, exact=False)
            model.run(steps)
            b2.device.build(directory=self.directory, compile=True, run=False, with_output=False)
            self.first_setup = time.perf_counter() - t0
            b2.device.run(directory=self.directory, with_output=False)
            self.spikes = model.spikes().steps.size
            self.walls: list[float] = []
        finally:
            b2.device.reinit()
            b2.device.activate()
            b2.set_device("runtime")
        self.times: list[float] = []

    def repeat(self, r: int) -> None:
        subprocess.run([os.path.join(self.directory, "main")], cwd=self.directory, check=True,
                       stdout=subprocess.DEVNULL)
        with open(os.path.join(self.directory, "results", "last_run_info.txt")) as f:
            self.times.append(float(f.read().split()[0]))

    def setup(self) -> float:
        return self.first_setup

    def close(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


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
    header = (f"{'N':>6} {'dt':>4} {'synapses':>8} {'simulator':<18} {'setup':>8} {'run cpu':>8} {'best':>8} "
              f"{'run wall':>8} {'rate Hz':>8} {'vs spikegate':>12}")
    print(header)
    print("-" * len(header))
    for n in args.sizes:
        for dt in args.dts:
            net, drives = network(n, dt, args.seed)
            steps = int(round(args.duration / dt))
            for plastic in (False, True):
                rule = stdp_rule(n, dt) if plastic else None
                sims = {}
                for sim in args.simulators:  # setups first, then interleaved repeats
                    if sim == "spikegate":
                        sims["spikegate"] = Spikegate(net, drives, rule, steps, args.seed)
                    elif sim == "cython":
                        sims["brian2 cython"] = Brian2Runtime(net, drives, rule, steps)
                    else:
                        sims["brian2 standalone"] = Brian2Standalone(net, drives, rule, steps, args.workdir)
                try:
                    for r in range(args.repeats):
                        for runner in sims.values():
                            runner.repeat(r)
                finally:
                    for runner in sims.values():
                        if hasattr(runner, "close"):
                            runner.close()
                base = statistics.median(sims["spikegate"].times) if "spikegate" in sims else None
                for name, runner in sims.items():
                    med = statistics.median(runner.times)
                    ratio = f"{med / base:11.2f}x" if base else ""
                    wall = f"{statistics.median(runner.walls):8.3f}" if runner.walls else f"{'-':>8}"
                    print(f"{n:>6} {dt:>4g} {'stdp' if plastic else 'static':>8} {name:<18} {runner.setup():8.2f} "
                          f"{med:8.3f} {min(runner.times):8.3f} {wall} {rate_hz(runner.spikes, n, args.duration):8.2f} "
                          f"{ratio:>12}", flush=True)
    print(f"# load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("# 'vs spikegate' = that simulator's median run cpu time / spikegate's (> 1: spikegate is faster)")


if __name__ == "__main__":
    main()
