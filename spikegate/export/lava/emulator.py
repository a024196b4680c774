"""spikegate's own Loihi emulator: the integer network on a numba kernel, spike-exact with Lava.

:func:`emulate` takes the same input and returns the same :class:`NetworkRun` as the
reference (:meth:`Network.run`) and the Lava runner (:func:`~spikegate.export.lava.run_lava`);
the kernel is :func:`spikegate.kernels.loihi.cpu.run_network`. Samples are independent (each
starts from rest) and run in parallel on numba's threads.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import Tensor

from spikegate.export.lava.network import RECORD, Dense, Flatten, Network, NetworkRun


def compile_network(net: Network) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, list[int]]:
    """Flatten ``net`` into the kernel's arrays: ``(table, weights, bias, n_state, offsets)``,
    where ``offsets[k]`` is the first state index of neuron layer ``k``."""
    from spikegate.kernels.loihi import cpu

    rows, weights, biases, offsets = [], [], [], []
    w_off = b_off = s_off = 0
    shape = net.input_shape
    for layer, out_shape in zip(net.layers, net.shapes):
        if isinstance(layer, Flatten):
            shape = out_shape
            continue
        row = np.zeros(cpu.N_COLS, np.int64)
        n_in, n_out = int(np.prod(shape)), int(np.prod(out_shape))
        n = layer.neuron
        row[[cpu.COL_NIN, cpu.COL_NOUT, cpu.COL_WOFF, cpu.COL_DU, cpu.COL_DV, cpu.COL_VTH]] = (
            n_in, n_out, w_off, n.du, n.dv, n.vth)
        row[[cpu.COL_BIAS, cpu.COL_STATE, cpu.COL_REC]] = (b_off, s_off, -1)
        if isinstance(layer, Dense):
            row[cpu.COL_TYPE], row[cpu.COL_WEXP] = cpu.DENSE, layer.weight_exp
            w = layer.weight.T.contiguous()
        else:
            row[cpu.COL_TYPE] = cpu.CONV
            row[cpu.COL_CIN:cpu.COL_WIN + 1] = shape
            row[cpu.COL_COUT:cpu.COL_WOUT + 1] = out_shape
            row[[cpu.COL_KH, cpu.COL_KW]] = layer.weight.shape[2:]
            row[[cpu.COL_SH, cpu.COL_SW]] = layer.stride
            row[[cpu.COL_PH, cpu.COL_PW]] = layer.padding
            row[[cpu.COL_DH, cpu.COL_DW]] = layer.dilation
            row[cpu.COL_GROUPS] = layer.groups
            w = layer.weight.contiguous()
        weights.append(w.flatten().numpy().astype(np.int16))
        b = torch.as_tensor(n.bias_mant, dtype=torch.int64) << torch.as_tensor(n.bias_exp, dtype=torch.int64)
        biases.append(b.expand(out_shape).flatten().numpy())
        rows.append(row)
        offsets.append(s_off)
        w_off += weights[-1].size
        b_off += n_out
        s_off += n_out
        shape = out_shape
    return np.stack(rows), np.concatenate(weights), np.concatenate(biases).astype(np.int64), s_off, offsets


def emulate(
    net: Network,
    spikes: Tensor,
    *,
    record: str = "output",
    chunk: int = 256,
    progress: Callable[[int], None] | None = None,
) -> NetworkRun:
    """Run ``spikes: [T, B, *input_shape]`` (0/1) through ``net`` on the numba emulator.

    ``record`` as :meth:`Network.run`; samples go to the kernel ``chunk`` at a time and
    ``progress(n)`` is called after each chunk with the number of samples it held.
    """
    if record not in RECORD:
        raise ValueError(f"record must be one of {', '.join(RECORD)}; got {record!r}")
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk must be a positive int, got {chunk!r}")
    from spikegate.kernels.loihi import cpu

    x = net.check_input(spikes)
    steps, batch = x.shape[:2]
    table, weights, bias, n_state, offsets = compile_network(net)
    sizes = [int(np.prod(net.shapes[i])) for i in net.neuron_layers]
    keep = list(range(len(sizes))) if record != "output" else [len(sizes) - 1]
    n_rec = 0
    for k in keep:
        table[k, cpu.COL_REC] = n_rec
        n_rec += sizes[k]
    xs = np.ascontiguousarray(x.flatten(2).transpose(0, 1).numpy())  # [B, T, n_in]
    states = record == "states"
    spk = np.zeros((batch, steps, n_rec), np.uint8)
    u = np.zeros((batch, steps, n_state) if states else (1, 1, 1), np.int32)
    v = np.zeros_like(u)
    for start in range(0, batch, chunk):
        sl = slice(start, min(start + chunk, batch))
        cpu.run_network(xs[sl], table, weights, bias, n_state, spk[sl], u[sl] if states else u,
                        v[sl] if states else v, states)
        if progress is not None:
            progress(sl.stop - sl.start)

    def split(a: np.ndarray, starts: list[int], ks: list[int]) -> list[Tensor]:
        out = []
        for k, s0 in zip(ks, starts):
            shape = net.shapes[net.neuron_layers[k]]
            part = a[:, :, s0:s0 + sizes[k]].reshape(batch, steps, *shape)
            out.append(torch.from_numpy(np.ascontiguousarray(part.swapaxes(0, 1))))
        return out

    rec_starts = [int(table[k, cpu.COL_REC]) for k in keep]
    spikes_out = split(spk, rec_starts, keep)
    if states:
        all_k = list(range(len(sizes)))
        return NetworkRun(spikes_out, split(u, offsets, all_k), split(v, offsets, all_k))
    return NetworkRun(spikes_out)
