"""Runs spikegate networks on Intel Lava's bit-accurate CPU models. Lava side only.

This file is executed by the Python 3.10 interpreter of the Lava environment, as a script::

    python runner.py JOB.h5 RESULT.h5

It imports only numpy, h5py and lava (never torch or spikegate). The main side
(``spikegate.export.lava.lava_run``) writes the job and reads the result. Spikes and states are
recorded by two small processes defined here (:class:`SpikeFile`, :class:`StateFile`) that save
``.npy`` files next to the result.

Job file: ``runs/<r>/layer/...`` is a netx network (``netx.py``, with spikegate's
``weightExp``/``biasExp`` extensions), ``runs/<r>/input`` the spikes ``[B, T, *input_shape]``
(uint8, shapes in spikegate's ``[C, H, W]`` order), and the attributes ``record``
(``output`` | ``spikes`` | ``states``) and ``chunks`` (the samples are run in that many
``run()`` calls, each followed by a progress line; default 1).

Result file: ``runs/<r>/spikes/<k>`` ``[B, T, *shape]`` uint8 for neuron layer ``k`` (every
layer, or the last one only for ``output``), ``runs/<r>/u/<k>`` and ``v/<k>`` int32 for
``states``, and the attributes ``build_s`` and ``run_s`` (seconds).

**One run, many samples.** The B samples are laid end to end in one RingBuffer of
``B·T + L`` steps (``L`` neuron layers, the last ``L`` steps silent) and run with
``Loihi2SimCfg(select_tag="fixed_pt")``: ``Dense`` (``PyDenseModelBitAcc``), ``Conv``
(``PyConvModelFixed``) and ``LIFReset`` (``PyLifResetModelBitAcc``). Lava's time starts at 1;
the source sends sample ``i``'s step ``t`` at global step ``g = iT + t + 1``, and every
synapse delays by one step, so neuron layer ``k = 1..L`` processes it at ``g = iT + t + 1 + k``.
Layer ``k`` is therefore reset (``u = v = 0``) at ``g ≡ k + 1 (mod T)``, the first step of each
of its samples, and its output for ``(i, t)`` is the one its recorder saw at step ``iT + t + k + 1``.
Each layer then sees exactly the per-sample spikes of the layer below, as in spikegate.
Progress goes to stdout as lines ``progress DONE TOTAL`` (samples).
"""

from __future__ import annotations

import os
import sys
import time

import h5py
import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyRefPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, RefPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol


class SpikeFile(AbstractProcess):
    """Receives spikes every step; at step ``steps`` saves them, ``[steps, *shape]`` uint8, to
    ``path`` (from the model's own process: Lava's sinks hand a buffer back one element per
    message, which takes longer than the run itself)."""

    def __init__(self, *, shape: tuple, steps: int, path: str) -> None:
        super().__init__(shape=shape, steps=steps, path=path)
        self.a_in = InPort(shape=shape)


class StateFile(AbstractProcess):
    """Reads ``var`` after every step; at step ``steps`` saves ``[steps, *shape]`` int32 to ``path``."""

    def __init__(self, *, var, steps: int, path: str) -> None:
        super().__init__(shape=var.shape, steps=steps, path=path)
        self.state = RefPort(var.shape)
        self.state.connect_var(var)


class _FileModel(PyLoihiProcessModel):
    dtype: type = np.int32

    def __init__(self, proc_params) -> None:
        super().__init__(proc_params)
        self.steps, self.path = proc_params["steps"], proc_params["path"]
        self.buf = np.zeros((self.steps, *proc_params["shape"]), self.dtype)

    def store(self, data: np.ndarray) -> None:
        self.buf[self.time_step - 1] = data
        if self.time_step == self.steps:
            np.save(self.path, self.buf)


@implements(proc=SpikeFile, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySpikeFileModel(_FileModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32)
    dtype = np.uint8

    def run_spk(self) -> None:
        self.store(self.a_in.recv())


@implements(proc=StateFile, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyStateFileModel(_FileModel):
    state: PyRefPort = LavaPyType(PyRefPort.VEC_DENSE, np.int32)
    dtype = np.int32

    def post_guard(self) -> bool:
        return True

    def run_post_mgmt(self) -> None:
        self.store(self.state.read())


def _str(ds) -> str:
    value = ds[()]
    if isinstance(value, np.ndarray):
        value = value.reshape(-1)[0]
    return value.decode("ascii") if isinstance(value, bytes) else str(value)


def _scalar(ds) -> int:
    return int(np.asarray(ds[()]).reshape(-1)[0])


def _pair(g, key: str, default: int) -> tuple:
    if key not in g:
        return (default, default)
    v = np.asarray(g[key][()]).reshape(-1)
    return (int(v[0]), int(v[0])) if v.size == 1 else (int(v[0]), int(v[1]))


def _bias(g, key: str, lava_shape: tuple, default: int) -> np.ndarray:
    """A bias-like dataset as an array in Lava's order (``[N]`` or ``[W, H, C]``)."""
    if key not in g:
        return np.full(lava_shape, default, np.int64)
    data = np.asarray(g[key][()]).astype(np.int64)
    if data.size == 1:
        return np.full(lava_shape, int(data.reshape(-1)[0]), np.int64)
    if len(lava_shape) == 3 and data.ndim == 1:  # per channel
        return np.broadcast_to(data, lava_shape).copy()
    return data.reshape(lava_shape)


def parse_network(group) -> tuple:
    """``(input_shape, layers)`` from a netx ``layer`` group; each layer a dict."""
    input_shape = None
    layers = []
    for key in sorted(group.keys(), key=int):
        g = group[key]
        kind = _str(g["type"])
        shape = tuple(int(s) for s in np.asarray(g["shape"][()]).reshape(-1)) if "shape" in g else ()
        if kind == "input":
            input_shape = shape
            continue
        if kind == "flatten":
            layers.append({"kind": "flatten"})
            continue
        weight = np.asarray(g["weight"][()]).astype(np.int64)
        lava_shape = (int(np.prod(shape)),) if kind == "dense" else tuple(reversed(shape))
        if kind == "dense" and weight.ndim == 1:
            weight = weight.reshape(lava_shape[0], -1)
        if input_shape is None:
            input_shape = (weight.shape[1],)
        n = g["neuron"]
        has_bias = "bias" in g
        layer = {
            "kind": kind,
            "weight": weight,
            "shape": shape,
            "lava_shape": lava_shape,
            "du": _scalar(n["iDecay"]) - 1,
            "dv": _scalar(n["vDecay"]),
            "vth": _scalar(n["vThMant"]),
            "bias_mant": _bias(g, "bias", lava_shape, 0),
            "bias_exp": _bias(g, "biasExp", lava_shape, 6 if has_bias else 0),
            "weight_exp": _scalar(g["weightExp"]) if "weightExp" in g else 0,
        }
        if kind == "conv":
            layer["weight"] = weight.reshape(weight.shape[:4])
            layer.update(stride=_pair(g, "stride", 1), padding=_pair(g, "padding", 0),
                         dilation=_pair(g, "dilation", 1), groups=_scalar(g["groups"]) if "groups" in g else 1)
        layers.append(layer)
    return input_shape, layers


def _dense(layer: dict):
    from lava.proc.dense.process import Dense

    w = layer["weight"]
    mixed = w.min() < 0 < w.max()
    # Lava truncates the LSB of mixed-sign weights unless they get 9 bits, as netx gives them.
    return Dense(weights=w.astype(np.int32), weight_exp=int(layer["weight_exp"]), num_weight_bits=9 if mixed else 8)


def _conv(layer: dict, in_lava_shape: tuple):
    from lava.proc.conv.process import Conv

    # PyTorch's cross-correlation [out, in, kh, kw] -> Lava's convolution [out, kw, kh, in]
    w = layer["weight"][:, :, ::-1, ::-1].transpose(0, 3, 2, 1)
    rev = lambda p: (p[1], p[0])  # noqa: E731  (h, w) -> Lava's (x, y)
    return Conv(weight=np.ascontiguousarray(w).astype(np.int32), input_shape=in_lava_shape,
                stride=rev(layer["stride"]), padding=rev(layer["padding"]), dilation=rev(layer["dilation"]),
                groups=int(layer["groups"]))


def run_job(group, out_group, scratch: str) -> None:
    """Run one job group; write its result into ``out_group``; ``scratch`` is a folder for the
    recorders' files."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.source import RingBuffer as Source
    from lava.proc.lif.process import LIFReset

    t0 = time.perf_counter()
    record = group.attrs["record"]
    record = record.decode() if isinstance(record, bytes) else str(record)
    input_shape, layers = parse_network(group["layer"])
    x = np.asarray(group["input"][()])
    n_samples, steps = x.shape[:2]
    neuron_layers = [layer for layer in layers if layer["kind"] != "flatten"]
    n_layers = len(neuron_layers)
    total = n_samples * steps + n_layers

    # the source sends in the order the first synapse expects
    first = layers[0]["kind"]
    if len(input_shape) == 3 and first == "conv":
        src = x.transpose(0, 1, 4, 3, 2).reshape(n_samples * steps, *reversed(input_shape))
    else:
        src = x.reshape(n_samples * steps, -1)
    data = np.zeros((*src.shape[1:], total), np.int32)
    data[..., : n_samples * steps] = np.moveaxis(src, 0, -1)
    source = Source(data=data)

    port, port_shape, flatten = source.s_out, tuple(src.shape[1:]), False
    lifs, recorders = [], []
    keep = range(n_layers) if record != "output" else [n_layers - 1]
    for layer in layers:
        if layer["kind"] == "flatten":
            flatten = True
            continue
        if flatten and len(port_shape) == 3:
            port = port.transpose([2, 1, 0]).flatten()
        flatten = False
        syn = _dense(layer) if layer["kind"] == "dense" else _conv(layer, port_shape)
        k = len(lifs) + 1
        lif = LIFReset(shape=layer["lava_shape"], du=layer["du"], dv=layer["dv"], vth=layer["vth"],
                       bias_mant=layer["bias_mant"], bias_exp=layer["bias_exp"],
                       reset_interval=steps, reset_offset=(k + 1) % steps)
        port.connect(syn.s_in)
        syn.a_out.connect(lif.a_in)
        if k - 1 in keep:
            path = os.path.join(scratch, f"{os.getpid()}-{id(lif)}")
            sink = SpikeFile(shape=layer["lava_shape"], steps=total, path=path + "-s.npy")
            lif.s_out.connect(sink.a_in)
            files = {"spikes": path + "-s.npy"}
            if record == "states":
                StateFile(var=lif.u, steps=total, path=path + "-u.npy")
                StateFile(var=lif.v, steps=total, path=path + "-v.npy")
                files.update(u=path + "-u.npy", v=path + "-v.npy")
            recorders.append((k, layer, files))
        lifs.append(lif)
        port, port_shape = lif.s_out, layer["lava_shape"]

    cfg = Loihi2SimCfg(select_tag="fixed_pt")
    chunk = -(-n_samples // int(group.attrs.get("chunks", 1)))
    done = 0
    t1 = time.perf_counter()
    try:
        while done < n_samples:
            n = min(chunk, n_samples - done)
            stop = (done + n) * steps + (n_layers if done + n == n_samples else 0)
            source.run(condition=RunSteps(num_steps=stop - (done * steps)), run_cfg=cfg)
            done += n
            print(f"progress {done} {n_samples}", flush=True)
        t2 = time.perf_counter()
    finally:
        source.stop()

    def aligned(buf: np.ndarray, k: int, layer: dict) -> np.ndarray:
        # buf: [total, *lava_shape]; sample i step t of layer k is global step iT + t + k + 1
        a = buf[k: k + n_samples * steps].reshape(n_samples, steps, *layer["lava_shape"])
        return a.transpose(0, 1, 4, 3, 2) if len(layer["lava_shape"]) == 3 else a

    for k, layer, files in recorders:
        for name, path in files.items():
            data = aligned(np.load(path), k, layer)
            os.unlink(path)
            out_group.create_dataset(f"{name}/{k - 1}", data=data, compression="gzip", compression_opts=1)
    out_group.attrs["build_s"] = t1 - t0
    out_group.attrs["run_s"] = t2 - t1


def main(argv: list) -> int:
    if len(argv) != 2:
        print("usage: runner.py JOB.h5 RESULT.h5", file=sys.stderr)
        return 2
    scratch = os.path.dirname(os.path.abspath(argv[1]))
    with h5py.File(argv[0], "r") as job, h5py.File(argv[1], "w") as out:
        for name in sorted(job["runs"].keys(), key=int):
            run_job(job["runs"][name], out.create_group(f"runs/{name}"), scratch)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
