r"""lava-dl's netx HDF5 format (``.net``): write spikegate networks, read netx files back.

Layout (lava-dl ``netx/hdf5.py``; one group per layer, input to output)::

    layer/<i>/type      b'input' | b'dense' | b'conv' | b'flatten'
    layer/<i>/shape     output shape, [C, H, W] or [N] (netx reverses it to Lava's W, H, C)
    layer/<i>/weight    float32 holding integers: [out, in] (dense), [out, in/groups, kh, kw] (conv)
    layer/<i>/bias      optional, bias mantissa at exponent 6: [out] (dense); [C] per channel or
                        [W, H, C] per neuron (conv)
    layer/<i>/{inFeatures, outFeatures}                                           dense
    layer/<i>/{inChannels, outChannels, kernelSize, stride, padding, dilation, groups}  conv ([h, w])
    layer/<i>/neuron/{type=b'CUBA', iDecay, vDecay, vThMant, refDelay, gradedSpike}

with the neuron mapping of netx: Lava ``du = iDecay - 1``, ``dv = vDecay``, ``vth = vThMant``,
``bias_exp = 6``. Layer 0 is an ``input`` layer with only a shape (spikes enter directly).

netx has no weight exponent and a fixed bias exponent. The writer folds what it can exactly
(a positive weight exponent into the weights when they stay in range; a bias that is a
multiple of 64 state units into a mantissa at exponent 6). Anything else raises, unless
``extensions=True``: then the layer also holds ``weightExp`` and ``biasExp`` datasets (a
spikegate extension that lava-dl ignores, used for the files handed to the Lava runner).

The reader accepts the layers lava-dl's netx builds into LIF networks (``input`` with a
shape only, ``dense``, ``conv``, ``flatten``; CUBA or LOIHI neurons) and raises for the rest
(delays, graded spikes, sigma-delta and resonate-and-fire neurons, pooling, ...).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from spikegate.export.lava.network import Conv, Dense, Flatten, Layer, Network
from spikegate.neurons.loihi import BIAS_MANT_RANGE, WEIGHT_RANGES, LoihiLIFParams, sign_mode

NETX_BIAS_EXP = 6


class NetxUnsupported(NotImplementedError):
    """A netx file uses a lava-dl feature that spikegate's integer network cannot run (graded
    spikes, axonal delays, neuron or layer types other than CUBA/LOIHI dense, conv and flatten)."""


def _str(value: str) -> np.ndarray:
    return np.array([value.encode("ascii")], dtype="S10")


def _read_str(ds: Any) -> str:
    value = ds[()]
    if isinstance(value, np.ndarray):
        value = value.reshape(-1)[0]
    return value.decode("ascii") if isinstance(value, bytes) else str(value)


def _fold_weight_exp(weight: torch.Tensor, weight_exp: int) -> torch.Tensor | None:
    """Weights times ``2^weight_exp`` when that is exact and in the synapse's range, else None."""
    if weight_exp == 0:
        return weight
    if weight_exp < 0:
        return None
    folded = weight << weight_exp
    low, high = WEIGHT_RANGES[sign_mode(folded)]
    if int(folded.min()) < low or int(folded.max()) > high:
        return None
    return folded


def _netx_bias(neuron: LoihiLIFParams, shape: tuple[int, ...]) -> torch.Tensor | None:
    """Mantissa at netx's exponent 6 with the same effective bias, or None if there is none."""
    eff = torch.as_tensor(neuron.bias_mant, dtype=torch.int64) << torch.as_tensor(neuron.bias_exp, dtype=torch.int64)
    eff = eff.expand(shape)
    if bool((eff % (1 << NETX_BIAS_EXP) != 0).any()):
        return None
    mant = eff >> NETX_BIAS_EXP
    if int(mant.min()) < BIAS_MANT_RANGE[0] or int(mant.max()) > BIAS_MANT_RANGE[1]:
        return None
    return mant


def _conv_bias_layout(bias: torch.Tensor) -> np.ndarray:
    """``[C, H, W]`` bias -> ``[C]`` if uniform per channel, else Lava's ``[W, H, C]``."""
    per_channel = bias[:, :1, :1]
    if bool((bias == per_channel).all()):
        return per_channel.flatten().numpy()
    return bias.permute(2, 1, 0).numpy()


def write_netx(net: Network, path: str | os.PathLike, *, extensions: bool = False) -> None:
    """Write ``net`` as a netx HDF5 file (format in the module docstring)."""
    import h5py

    with h5py.File(path, "w") as f:
        layers = f.create_group("layer")
        write_layers(layers, net, extensions=extensions)


def write_layers(group: Any, net: Network, *, extensions: bool = False) -> None:
    """Write the ``layer/<i>`` groups of ``net`` into an open h5py ``group``."""
    g = group.create_group("0")
    g.create_dataset("type", data=_str("input"))
    g.create_dataset("shape", data=np.array(net.input_shape, np.int64))
    for i, (layer, shape) in enumerate(zip(net.layers, net.shapes), start=1):
        g = group.create_group(str(i))
        g.create_dataset("shape", data=np.array(shape, np.int64))
        if isinstance(layer, Flatten):
            g.create_dataset("type", data=_str("flatten"))
            continue
        weight = layer.weight
        if isinstance(layer, Dense):
            g.create_dataset("type", data=_str("dense"))
            g.create_dataset("inFeatures", data=weight.shape[1])
            g.create_dataset("outFeatures", data=weight.shape[0])
            folded = _fold_weight_exp(weight, layer.weight_exp)
            if folded is None:
                if not extensions:
                    raise ValueError(
                        f"layers[{i - 1}] has weight_exp={layer.weight_exp}, which netx cannot store (it has no "
                        "weight exponent and the shifted weights do not fit 8 bits); pass extensions=True to "
                        "store it as spikegate's weightExp (ignored by lava-dl)"
                    )
                g.create_dataset("weightExp", data=layer.weight_exp)
                folded = weight
            weight = folded
        else:
            g.create_dataset("type", data=_str("conv"))
            g.create_dataset("inChannels", data=weight.shape[1] * layer.groups)
            g.create_dataset("outChannels", data=weight.shape[0])
            g.create_dataset("kernelSize", data=np.array(weight.shape[2:], np.int64))
            for name in ("stride", "padding", "dilation"):
                g.create_dataset(name, data=np.array(getattr(layer, name), np.int64))
            g.create_dataset("groups", data=layer.groups)
        g.create_dataset("weight", data=weight.numpy().astype(np.float32))
        neuron = layer.neuron
        bias = _netx_bias(neuron, shape)
        if bias is None:
            if not extensions:
                raise ValueError(
                    f"layers[{i - 1}] has a bias that netx cannot store (netx keeps a 13-bit mantissa at exponent "
                    "6); pass extensions=True to store spikegate's biasExp (ignored by lava-dl)"
                )
            bias = torch.as_tensor(neuron.bias_mant, dtype=torch.int64).expand(shape)
            exp = torch.as_tensor(neuron.bias_exp, dtype=torch.int64).expand(shape)
            exp_data = _conv_bias_layout(exp) if len(shape) == 3 else exp.numpy()
            g.create_dataset("biasExp", data=exp_data.astype(np.int64))
        if bool(bias.ne(0).any()) or "biasExp" in g:
            data = _conv_bias_layout(bias) if len(shape) == 3 else bias.numpy()
            g.create_dataset("bias", data=data.astype(np.float32))
        n = g.create_group("neuron")
        n.create_dataset("type", data=_str("CUBA"))
        n.create_dataset("iDecay", data=neuron.du + 1)
        n.create_dataset("vDecay", data=neuron.dv)
        n.create_dataset("vThMant", data=neuron.vth)
        n.create_dataset("refDelay", data=1)
        n.create_dataset("gradedSpike", data=False)


def _bias_from_file(g: Any, key: str, shape: tuple[int, ...]) -> torch.Tensor:
    data = np.asarray(g[key][()])
    if data.ndim == 0 or data.size == 1:
        return torch.tensor(int(data.reshape(-1)[0]), dtype=torch.int64)
    t = torch.from_numpy(data.astype(np.int64))
    if len(shape) == 3:
        if tuple(t.shape) == (shape[2], shape[1], shape[0]):
            return t.permute(2, 1, 0).contiguous()
        if t.dim() == 1 and t.shape[0] == shape[0]:
            return t.view(-1, 1, 1)
    elif t.numel() == shape[0]:
        return t.flatten()
    raise ValueError(f"{g.name}/{key} of shape {tuple(t.shape)} does not fit the layer shape {shape}")


def _pair(g: Any, key: str, default: int) -> tuple[int, int]:
    if key not in g:
        return (default, default)
    v = np.asarray(g[key][()]).reshape(-1)
    return (int(v[0]), int(v[0])) if v.size == 1 else (int(v[0]), int(v[1]))


def _neuron(g: Any, shape: tuple[int, ...]) -> LoihiLIFParams:
    if "neuron" not in g:
        raise ValueError(
            f"{g.name} has no neuron group; netx then builds a non-leaky integrator (iDecay 0), whose "
            "du = -1 lies outside Loihi's 12-bit range [0, 4095]"
        )
    n = g["neuron"]
    kind = _read_str(n["type"])
    if kind not in ("CUBA", "LOIHI"):
        raise NetxUnsupported(f"{g.name}: neuron type {kind!r} is not supported (CUBA and LOIHI are)")
    if "gradedSpike" in n and bool(np.asarray(n["gradedSpike"][()]).reshape(-1)[0]):
        raise NetxUnsupported(f"{g.name}: graded spikes are not supported")
    bias_mant: int | torch.Tensor = 0
    bias_exp: int | torch.Tensor = NETX_BIAS_EXP
    if "bias" in g:
        bias_mant = _bias_from_file(g, "bias", shape)
        if "biasExp" in g:
            bias_exp = _bias_from_file(g, "biasExp", shape)
    else:
        bias_exp = 0
    scalar = lambda key: int(np.asarray(n[key][()]).reshape(-1)[0])  # noqa: E731
    return LoihiLIFParams(scalar("iDecay") - 1, scalar("vDecay"), scalar("vThMant"), bias_mant, bias_exp)


def read_netx(path: str | os.PathLike, *, drop_input_neurons: bool = False) -> Network:
    """Read a netx file (module docstring) into a :class:`Network`; parameters are checked
    against the chip's limits like any network.

    lava-dl networks often start with an ``input`` layer of neurons that turn graded input
    (pixels) into spikes. spikegate networks take spikes, so such a layer raises, unless
    ``drop_input_neurons``: then it is left out and the network takes that layer's spikes."""
    import h5py

    with h5py.File(path, "r") as f:
        if "layer" not in f:
            raise ValueError(f"{path}: not a netx file (no 'layer' group)")
        return read_layers(f["layer"], drop_input_neurons=drop_input_neurons)


def read_layers(group: Any, *, drop_input_neurons: bool = False) -> Network:
    """Build a :class:`Network` from an open h5py ``layer`` group (see :func:`read_netx`)."""
    keys = sorted(group.keys(), key=int)
    input_shape: tuple[int, ...] | None = None
    layers: list[Layer] = []
    for key in keys:
        g = group[key]
        kind = _read_str(g["type"])
        shape = tuple(int(s) for s in np.asarray(g["shape"][()]).reshape(-1)) if "shape" in g else ()
        if kind == "input":
            if layers or input_shape is not None:
                raise ValueError(f"{g.name}: an input layer must come first")
            if "neuron" in g and not drop_input_neurons:
                raise NetxUnsupported(
                    f"{g.name}: input layers with neurons (netx's graded-input encoder) are not supported; "
                    "spikegate networks take spikes (drop_input_neurons=True takes that layer's spikes instead)"
                )
            input_shape = shape
            continue
        if kind == "flatten":
            layers.append(Flatten())
            continue
        if "delay" in g:
            raise NetxUnsupported(f"{g.name}: axonal delays are not supported")
        if kind == "dense":
            weight = torch.from_numpy(np.asarray(g["weight"][()]).astype(np.int64))
            if weight.dim() == 1:
                weight = weight.view(int(np.prod(shape)), -1)
            if input_shape is None:
                input_shape = (int(weight.shape[1]),)
            exp = int(np.asarray(g["weightExp"][()])) if "weightExp" in g else 0
            layers.append(Dense(weight, _neuron(g, (weight.shape[0],)), exp))
        elif kind == "conv":
            weight = np.asarray(g["weight"][()]).astype(np.int64)
            weight = torch.from_numpy(weight.reshape(weight.shape[:4]))
            if input_shape is None:
                raise ValueError(f"{g.name}: a conv layer needs an input layer with a shape before it")
            out_shape = tuple(shape) if len(shape) == 3 else ()
            groups = int(np.asarray(g["groups"][()]).reshape(-1)[0]) if "groups" in g else 1
            layers.append(Conv(weight, _neuron(g, out_shape), _pair(g, "stride", 1), _pair(g, "padding", 0),
                               _pair(g, "dilation", 1), groups))
        else:
            raise NetxUnsupported(f"{g.name}: layer type {kind!r} is not supported (input, dense, conv, flatten)")
    if input_shape is None:
        raise ValueError(f"{group.name}: no input shape (no input layer and no dense layer)")
    return Network(input_shape, layers)
