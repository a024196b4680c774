"""spikegate's Loihi emulator against Intel Lava's CPU emulator, measured in the same run.

A 1024-512-10 CUBA LIF network (random mixed-sign 8-bit weights, even mantissas as trained
networks have them) receives 100 samples x 100 steps of Bernoulli input spikes (10 % per step).
The same integer network runs on

* Lava 0.10, ``Loihi2SimCfg(select_tag="fixed_pt")`` (bit-accurate Dense and LIF models), all
  samples streamed through ONE ``run()`` with resets between them (spikegate's Lava runner);
* spikegate's numba emulator (after one warm-up call that loads or compiles the kernel);
* spikegate's integer reference in PyTorch (the pure step function in a loop, one thread).

The output spikes of all three must be identical. Prints a table of wall-clock and CPU seconds
(CPU: all threads of this process; for Lava, all its processes, from ``getrusage`` of the
children) and the speed-up of the emulator over Lava's ``run()`` time and over Lava's whole
job (interpreter start, process graph compilation and run). On a busy machine wall-clock
times stretch with the load; CPU times do not. Usage::

    python benchmarks/loihi_emulator.py [--samples 100] [--steps 100] [--density 0.1]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import torch


def build(seed: int):
    from spikegate.export.lava import Dense, Network
    from spikegate.neurons.loihi import LoihiLIFParams

    g = torch.Generator().manual_seed(seed)
    w1 = torch.randint(-48, 48, (512, 1024), generator=g) * 2
    w2 = torch.randint(-64, 64, (10, 512), generator=g) * 2
    neuron = LoihiLIFParams(du=1023, dv=256, vth=200)  # current decay 1/4, voltage decay 1/16
    return Network(1024, [Dense(w1, neuron), Dense(w2, neuron)])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", type=int, default=100)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--density", type=float, default=0.1, help="input spike probability per step")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, default=3, help="emulator timings (best is reported)")
    args = p.parse_args(argv)

    import numba

    from spikegate.export.lava import emulate, run_lava_jobs

    net = build(args.seed)
    g = torch.Generator().manual_seed(args.seed + 1)
    x = (torch.rand(args.steps, args.samples, 1024, generator=g) < args.density).to(torch.uint8)
    n = args.samples * args.steps
    print(f"network 1024-512-10, {args.samples} samples x {args.steps} steps, input density {args.density:g}, "
          f"emulator threads (numba) {numba.get_num_threads()}, reference threads (torch) 1")

    t0 = time.perf_counter()
    emulate(net, x[:, :2])
    first = time.perf_counter() - t0
    times, cpus = [], []
    for _ in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        emu = emulate(net, x, record="spikes")
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    t_emu, c_emu = min(times), min(cpus)

    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    ((lava, timing),) = run_lava_jobs([(net, x)], record="spikes")
    t_lava_total = time.perf_counter() - t0
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    c_lava = (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # its tensors are small: one thread is fastest on a shared machine
    t0, c0 = time.perf_counter(), time.process_time()
    ref = net.run(x, record="spikes")
    t_ref, c_ref = time.perf_counter() - t0, time.process_time() - c0
    torch.set_num_threads(threads)

    same_lava = all(torch.equal(a, b) for a, b in zip(emu.spikes, lava.spikes, strict=True))
    same_ref = all(torch.equal(a, b) for a, b in zip(emu.spikes, ref.spikes, strict=True))
    rates = ", ".join(f"{float(s.float().mean()):.3f}" for s in emu.spikes)
    print(f"firing probability per step: hidden, output = {rates}; output spikes: {int(emu.output.sum())}")
    print()
    head = f"{'back end':<44}{'wall s':>9}{'us/sample-step':>16}{'speed-up':>10}{'CPU s':>9}{'speed-up':>10}"
    print(head)
    print("-" * len(head))
    rows = [
        ("Lava fixed_pt, run() only", timing.run_s, None),
        ("Lava fixed_pt, whole job (start+compile+run)", t_lava_total, c_lava),
        ("spikegate integer reference (PyTorch)", t_ref, c_ref),
        (f"spikegate emulator (numba), best of {args.repeats}", t_emu, c_emu),
    ]
    for name, t, c in rows:
        cpu = f"{c:>9.3f}{c / c_emu:>9.1f}x" if c is not None else f"{'':>9}{'':>10}"
        print(f"{name:<44}{t:>9.3f}{t / n * 1e6:>16.2f}{t / t_emu:>9.1f}x{cpu}")
    print(f"(emulator first call incl. kernel load/compile: {first:.2f} s; Lava graph build: {timing.build_s:.2f} s)")
    print()
    print(f"spikes identical, emulator vs Lava (all layers, all steps): {same_lava}")
    print(f"spikes identical, emulator vs integer reference:            {same_ref}")
    print(f"emulator speed-up over Lava: {timing.run_s / t_emu:.0f}x wall-clock against run() alone, "
          f"{t_lava_total / t_emu:.0f}x against the whole job, {c_lava / c_emu:.0f}x in CPU time (goal >= 100x)")
    return 0 if same_lava and same_ref else 1


if __name__ == "__main__":
    sys.exit(main())
