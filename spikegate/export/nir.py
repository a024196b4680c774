r"""NIR in and out: spikegate networks to NIR graphs and HDF5 files, and back.

NIR (the Neuromorphic Intermediate Representation, package ``nir``, imported lazily) describes
a network as a graph of continuous-time nodes and stores **no time step**; spikegate runs in
discrete time. :func:`to_nir` and :func:`from_nir` therefore take ``dt`` as a required
argument, in the time unit of the file's time constants. NIR files in the wild use seconds
(snnTorch writes :math:`\Delta t = 10^{-4}` s, NIR's Lava mapping reads with the same);
``dt`` is also written to the graph's metadata as advice (``spikegate_dt``), never read as a
fact, since NIR forbids relying on metadata.

**Discretisation: forward Euler**, as snnTorch, Norse and NIR's Lava mapping use. A NIR LIF

.. math::

    \tau \dot v = (v_{leak} - v) + R I, \qquad z = [v > v_{th}], \qquad z \Rightarrow v \leftarrow v_{reset}

becomes :math:`v[n] = (1 - \Delta t/\tau) v[n-1] + (R\Delta t/\tau) I[n] + v_{leak}\Delta t/\tau`,
which is spikegate's ``U[n] = β V[n-1] + X[n]`` with

===============  =====================================================================
NIR node          spikegate layers and parameters
===============  =====================================================================
``LIF``           [``ElementwiseAffine(g, c)``] + ``LIF``:  β = 1 − Δt/τ,
                  g = R Δt/τ, c = v_leak Δt/τ, threshold = v_threshold
``IF``            [``ElementwiseAffine(g)``] + ``LIF(beta=1)``: g = R Δt
``LI`` / ``I``    as LIF / IF, into :class:`~spikegate.neurons.LI` (no threshold)
``CubaLIF``       [``ElementwiseAffine(g)``] + ``CubaLIF``: α = 1 − Δt/τ_syn, β = 1 − Δt/τ_mem,
                  g = (w_in Δt/τ_syn)(R Δt/τ_mem); spikegate's current is
                  I_sg = (R Δt/τ_mem) I_NIR, and v[n] takes I[n] of the same step
                  (semi-implicit, as snnTorch; Norse takes I[n−1]). v_leak must be 0
                  (an offset would pass through the synaptic filter)
``Affine``        ``nn.Linear``; ``Linear`` → ``nn.Linear(bias=False)``
``Conv1d/2d``     ``nn.Conv1d/2d`` (zero padding)
``Flatten``       ``nn.Flatten``: NIR counts dims without the batch, torch dim = NIR dim + 1
``SumPool2d``     :class:`spikegate.layers.SumPool2d`
``AvgPool2d``     ``nn.AvgPool2d`` (padding 0 only: NIR does not say if pads count)
``Scale``         ``ElementwiseAffine(scale)``
neuron ↔ Affine   :class:`~spikegate.neurons.Recurrent`: the neuron receives
/Linear loop      x[n] + W s[n−1]; an Affine bias becomes ``ElementwiseAffine(1, b)``
                  before the loop. Needs g = 1 and v_leak = 0.
===============  =====================================================================

The ``ElementwiseAffine`` is left out when g = 1 and c = 0. g is computed as
R / (τ/Δt) in the precision the file stores, so a file written with R = τ/Δt (snnTorch and
spikegate both write that) gives g = 1 exactly. Export is the inverse, with snnTorch's
conventions: τ = Δt/(1 − β), R = τ/Δt, w_in = τ_syn/Δt, v_leak = 0, v_reset = 0; β = 1
exports as ``IF`` / ``I`` with R = 1/Δt; an ``ElementwiseAffine`` right before a neuron is
folded back into its R, w_in and v_leak. Weights survive the round trip exactly, a decay
to within 2.2e-16 (one float64 ulp of 1; exactly for float32 values in [0.5, 1)). Files that
store τ in float32 (snnTorch's default) cannot tell neighbouring float32 decays apart: about
7% come back one float32 ulp off, which moves a spike only when a membrane lies that close
to its threshold.
Spikegate's own ``LIF(tau_mem=τ, dt=Δt)`` uses β = exp(−Δt/τ), so its NIR τ is
Δt/(1 − e^{−Δt/τ}) ≈ τ + Δt/2: the NIR τ is the one whose Euler step has the same β.

**Reset.** NIR neurons reset to ``v_reset``; spikegate's ``reset="zero"`` is that with
``v_reset = 0`` (any other value is refused). snnTorch's default ``Leaky``/``Synaptic``
subtract the threshold instead but still write ``v_reset = 0``, so the ``reset`` argument
says which reset a file's neurons mean: ``"zero"`` (NIR's semantics, the default) or
``"subtract"`` (snnTorch's default). snnTorch's ``reset_delay=False`` neurons equal
spikegate's subtract reset as long as no membrane stays above threshold after its reset:
snnTorch then subtracts the threshold once more before the next spike decision.

**Threshold.** NIR (and snnTorch) fire when :math:`v > v_{th}`, spikegate when
:math:`U \ge \vartheta`. The threshold is taken unchanged, so the two differ only on steps
where the membrane equals the threshold exactly.

**Not representable** (a clear ``ValueError`` naming the node or layer): refractory
periods, ``reset="none"``, ``v_reset != 0``, τ ≤ Δt (β ≤ 0), CubaLIF ``v_leak != 0``, a
layer mixing β = 1 with β < 1, graphs that are not a chain from one Input to one Output,
cycles other than a neuron ↔ Affine/Linear loop, and the nodes ``Delay``, ``Threshold``,
``CubaLI``.
"""

from __future__ import annotations

import numbers
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from spikegate._validate import check_choice, check_positive
from spikegate.export._nir_graph import NEURON_NODES, structure
from spikegate.layers import ElementwiseAffine, SumPool2d
from spikegate.neurons import LI, LIF, CubaLIF, Recurrent, Sequential

if TYPE_CHECKING:
    import nir

RESETS: tuple[str, ...] = ("zero", "subtract")
LAYER_NODES: tuple[str, ...] = ("Affine", "Linear", "Conv1d", "Conv2d", "Flatten", "SumPool2d", "AvgPool2d", "Scale")
_NEURONS = (LIF, CubaLIF, LI)


def _nir() -> Any:
    try:
        import nir
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("NIR support needs the 'nir' package: pip install 'spikegate[nir]'") from e
    return nir


def _check_common(dt: float, reset: str) -> None:
    if isinstance(dt, bool) or not isinstance(dt, numbers.Real):
        raise TypeError(f"dt must be a number (the step in the file's time unit), got {type(dt).__name__}")
    check_positive(dt, "dt")
    check_choice(reset, "reset", RESETS)


# ============================================================================================
# Export


def to_nir(
    model: nn.Module,
    path: str | os.PathLike | None = None,
    *,
    dt: float,
    input_shape: Sequence[int] | None = None,
    reset: str = "zero",
) -> "nir.NIRGraph":
    """Export ``model`` to a NIR graph, and write it to ``path`` (HDF5, ``nir.write``) if given.

    Args:
        model: a :class:`~spikegate.neurons.Sequential` (nested ones and ``nn.Sequential`` of
            stateless layers are flattened) or a single layer, built from ``nn.Linear``,
            ``nn.Conv1d/2d``, ``nn.Flatten``, ``nn.AvgPool2d``, :class:`~spikegate.layers.SumPool2d`,
            :class:`~spikegate.layers.ElementwiseAffine`, ``LIF`` (β = 1 is IF), ``CubaLIF``,
            ``LI`` and :class:`~spikegate.neurons.Recurrent` around one of those neurons.
        path: file to write, or ``None``.
        dt: the time step, in the unit of the time constants written (NIR convention: s).
        input_shape: features of one time step (no T, B); inferred when the model starts with
            ``nn.Linear``, ``Recurrent`` or a neuron built with ``shape``.
        reset: the reset the model's spiking neurons use and NIR's ``v_reset = 0`` will stand
            for: ``"zero"`` (NIR's semantics) or ``"subtract"`` (snnTorch's convention).

    Returns the graph ``input -> 0_<kind> -> 1_<kind> ... -> output`` (see the module doc for
    the parameter mapping).
    """
    nir = _nir()
    _check_common(dt, reset)
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    layers = _flat_layers(model)
    shape = _input_shape(layers, input_shape)
    nodes: dict[str, Any] = {"input": nir.Input(input_type=np.array(shape))}
    edges: list[tuple[str, str]] = []
    prev, i = "input", 0
    while i < len(layers):
        layer, fold = layers[i], None
        before_neuron = i + 1 < len(layers) and isinstance(layers[i + 1], (*_NEURONS, Recurrent))
        if isinstance(layer, ElementwiseAffine) and before_neuron:
            fold, i = layer, i + 1
            layer = layers[i]
        name = f"{i}_{type(getattr(layer, 'cell', layer)).__name__.lower()}"
        try:
            if isinstance(layer, Recurrent):
                nodes[name], nodes[f"{i}_w_rec"] = _export_recurrent(nir, layer, shape, dt, reset, fold)
                edges += [(name, f"{i}_w_rec"), (f"{i}_w_rec", name)]
            elif isinstance(layer, _NEURONS):
                gain, offset = (fold.scale, fold.bias) if fold else (1.0, 0.0)
                nodes[name] = _export_neuron(nir, layer, shape, dt, reset, _full(gain, shape), _full(offset, shape))
            else:
                nodes[name] = _export_layer(nir, layer, shape)
                shape = _out_shape(layer, shape)
        except (ValueError, TypeError) as e:
            raise type(e)(f"model layer {i} ({type(layer).__name__}): {e}") from e
        edges.append((prev, name))
        prev, i = name, i + 1
    nodes["output"] = nir.Output(output_type=np.array(shape))
    edges.append((prev, "output"))
    try:
        graph = nir.NIRGraph(nodes=nodes, edges=edges, metadata={"spikegate_dt": float(dt), "spikegate_reset": reset})
    except ValueError as e:
        raise ValueError(f"nir {getattr(nir, '__version__', '')} rejects the exported graph: {e}") from e
    if path is not None:
        nir.write(path, graph)
    return graph


def _flat_layers(model: nn.Module) -> list[nn.Module]:
    if isinstance(model, (Sequential, nn.Sequential)):
        children = model.layers if isinstance(model, Sequential) else model
        return [m for child in children for m in _flat_layers(child)]
    return [] if isinstance(model, nn.Identity) else [model]


def _input_shape(layers: list[nn.Module], input_shape: Sequence[int] | None) -> tuple[int, ...]:
    if input_shape is not None:
        shape = tuple(int(s) for s in input_shape)
        if not shape or min(shape) < 1:
            raise ValueError(f"input_shape must be a non-empty sequence of positive ints, got {input_shape!r}")
        return shape
    first = next((m for m in layers if not isinstance(m, ElementwiseAffine)), None)
    if isinstance(first, nn.Linear):
        return (first.in_features,)
    if isinstance(first, Recurrent):
        return (first.n,)
    if isinstance(first, _NEURONS) and first.shape is not None:
        return first.shape
    raise ValueError(
        "input_shape is required (the features of one time step, without T and B) when the model starts with "
        + (type(first).__name__ if first is not None else "no layer")
    )


def _full(value: Tensor | float, shape: Sequence[int]) -> np.ndarray:
    """A parameter as a float64 array of the layer's full feature shape (NIR types nodes by it)."""
    v = torch.as_tensor(value).detach().cpu().to(torch.float64).numpy()
    try:
        return np.broadcast_to(v, tuple(shape)).copy()
    except ValueError as e:
        raise ValueError(f"a parameter of shape {v.shape} does not fit the features {tuple(shape)}") from e


def _tau(decay: np.ndarray, dt: float, name: str) -> np.ndarray:
    if not bool((decay < 1).all()):
        raise ValueError(f"{name} = 1 (no decay) has no finite NIR time constant")
    return dt / (1 - decay)


def _export_neuron(
    nir: Any, layer: nn.Module, shape: tuple[int, ...], dt: float, reset: str,
    gain: np.ndarray, offset: np.ndarray,
) -> Any:
    """One neuron layer (input gain g and offset c folded in) as a NIR node."""
    zero = np.zeros(shape)
    if isinstance(layer, (LIF, CubaLIF)) and layer.reset == "none":
        raise ValueError("it uses reset='none', which has no NIR form (NIR neurons always reset to v_reset)")
    if isinstance(layer, (LIF, CubaLIF)) and layer.reset != reset:
        raise ValueError(
            f"it uses reset={layer.reset!r}, but the file's neurons are to mean reset={reset!r} "
            f"(NIR neurons reset to v_reset; pass reset={layer.reset!r} if all spiking layers use it)"
        )
    if isinstance(layer, LIF) and layer.refractory:
        raise ValueError(f"it has a refractory period ({layer.refractory} steps), which NIR cannot express")
    p = layer.params()
    if isinstance(layer, CubaLIF):
        if bool((offset != 0).any()):
            raise ValueError("an input offset before a CubaLIF has no NIR form (CubaLIF v_leak acts on v)")
        tau_syn = _tau(_full(p.alpha, shape), dt, "alpha")
        tau_mem = _tau(_full(p.beta, shape), dt, "beta")
        return nir.CubaLIF(
            tau_syn=tau_syn, tau_mem=tau_mem, r=tau_mem / dt, v_leak=zero,
            v_threshold=_full(p.threshold, shape), v_reset=zero, w_in=gain * (tau_syn / dt),
        )
    beta = _full(p.beta, shape)
    if bool((beta == 1).all()):
        if bool((offset != 0).any()):
            raise ValueError("NIR's IF and I nodes have no leak potential for the input offset")
        r = gain * (1.0 / dt)
        if isinstance(layer, LIF):
            return nir.IF(r=r, v_threshold=_full(p.threshold, shape), v_reset=zero)
        return nir.I(r=r)
    if not bool((beta < 1).all()):
        raise ValueError("it mixes beta = 1 with beta < 1, which no single NIR node expresses")
    tau = _tau(beta, dt, "beta")
    k = tau / dt
    if isinstance(layer, LIF):
        return nir.LIF(tau=tau, r=gain * k, v_leak=offset * k, v_threshold=_full(p.threshold, shape), v_reset=zero)
    return nir.LI(tau=tau, r=gain * k, v_leak=offset * k)


def _export_recurrent(
    nir: Any, layer: Recurrent, shape: tuple[int, ...], dt: float, reset: str,
    fold: ElementwiseAffine | None,
) -> tuple[Any, Any]:
    if tuple(shape) != (layer.n,):
        raise ValueError(f"it expects {layer.n} features, but receives {tuple(shape)}")
    if not isinstance(layer.cell, _NEURONS):
        raise TypeError(f"it wraps a {type(layer.cell).__name__}, which has no NIR node")
    ones, zeros = np.ones(shape), np.zeros(shape)
    node = _export_neuron(nir, layer.cell, shape, dt, reset, ones, zeros)
    weight = layer.weight.detach().cpu().numpy()
    if fold is None:
        return node, nir.Linear(weight=weight)
    if not bool((_full(fold.scale, shape) == 1).all()):
        raise ValueError("an input gain before a recurrent loop has no NIR form (it would scale the loop too)")
    return node, nir.Affine(weight=weight, bias=_full(fold.bias, shape))


def _pair(v: Any) -> np.ndarray:
    return np.array(v if isinstance(v, (tuple, list)) else (v, v), dtype=np.int64)


def _export_layer(nir: Any, layer: nn.Module, shape: tuple[int, ...]) -> Any:
    """A stateless layer as a NIR node (``shape``: its input features)."""
    if isinstance(layer, nn.Linear):
        w = layer.weight.detach().cpu().numpy()
        if layer.bias is None:
            return nir.Linear(weight=w)
        return nir.Affine(weight=w, bias=layer.bias.detach().cpu().numpy())
    if isinstance(layer, (nn.Conv1d, nn.Conv2d)):
        if layer.padding_mode != "zeros":
            raise ValueError(f"it pads with {layer.padding_mode!r}; NIR convolutions pad with zeros")
        if layer.groups != 1 or len(set(layer.kernel_size)) != 1:
            # nir 1.0.8 types a Conv node by weight.shape[1] input channels and by
            # weight.shape[2] for every kernel dimension, so its own type check rejects these.
            raise ValueError("NIR (nir 1.0.8) types only convolutions with groups=1 and a square kernel")
        w = layer.weight.detach().cpu().numpy()
        bias = np.zeros(w.shape[0], w.dtype) if layer.bias is None else layer.bias.detach().cpu().numpy()
        padding = layer.padding if isinstance(layer.padding, str) else np.array(layer.padding)
        common = dict(
            weight=w, stride=np.array(layer.stride), padding=padding,
            dilation=np.array(layer.dilation), groups=layer.groups, bias=bias,
        )
        if isinstance(layer, nn.Conv1d):
            return nir.Conv1d(input_shape=int(shape[-1]), **common)
        return nir.Conv2d(input_shape=tuple(int(s) for s in shape[-2:]), **common)
    if isinstance(layer, nn.Flatten):
        if layer.start_dim == 0 or layer.end_dim == 0:
            raise ValueError("it flattens the batch dimension, which NIR does not see")
        dims = [d - 1 if d > 0 else d for d in (layer.start_dim, layer.end_dim)]
        return nir.Flatten(input_type={"input": np.array(shape)}, start_dim=dims[0], end_dim=dims[1])
    if isinstance(layer, nn.AvgPool2d):
        if layer.ceil_mode:
            raise ValueError("ceil_mode=True, which NIR pooling does not express")
        stride = layer.kernel_size if layer.stride is None else layer.stride
        if layer.divisor_override == 1:
            return nir.SumPool2d(
                kernel_size=_pair(layer.kernel_size), stride=_pair(stride), padding=_pair(layer.padding)
            )
        if layer.divisor_override is not None or bool(_pair(layer.padding).any()):
            raise ValueError("NIR's AvgPool2d is exported only without padding and divisor_override")
        return nir.AvgPool2d(kernel_size=_pair(layer.kernel_size), stride=_pair(stride), padding=_pair(0))
    if isinstance(layer, ElementwiseAffine):
        if bool((layer.bias != 0).any()):
            raise ValueError("it adds a bias, which NIR expresses only inside a following neuron's v_leak")
        return nir.Scale(scale=_full(layer.scale, shape))
    raise TypeError(
        "it has no NIR equivalent; to_nir exports Linear, Conv1d/2d, Flatten, AvgPool2d, SumPool2d, "
        "ElementwiseAffine, LIF, CubaLIF, LI and Recurrent"
    )


def _out_shape(layer: nn.Module, shape: Sequence[int], dtype: torch.dtype | None = None) -> tuple[int, ...]:
    """Features after a stateless layer, by running it on one zero sample."""
    if dtype is None:
        dtype = next((p.dtype for p in layer.parameters()), torch.get_default_dtype())
    try:
        with torch.no_grad():
            return tuple(layer(torch.zeros((1, *shape), dtype=dtype)).shape[1:])
    except RuntimeError as e:
        raise ValueError(f"it does not accept its input of features {tuple(shape)}: {e}") from e


# ============================================================================================
# Import


def from_nir(
    source: "nir.NIRGraph | str | os.PathLike",
    *,
    dt: float,
    reset: str = "zero",
    dtype: torch.dtype | None = None,
) -> Sequential:
    """Build a spikegate network from a NIR graph or a NIR HDF5 file.

    Args:
        source: a ``nir.NIRGraph`` or the path of a file written by ``nir.write``.
        dt: the time step, in the unit of the file's time constants (snnTorch files: 1e-4 s
            unless the network was built for another step).
        reset: what the file's neurons do on a spike: ``"zero"`` (NIR's semantics, the value
            ``v_reset`` which must be 0) or ``"subtract"`` (snnTorch's default neurons).
        dtype: dtype of the weights (default ``torch.get_default_dtype()``); neuron
            parameters keep float64 and are cast to the input's dtype when run.

    Returns a :class:`~spikegate.neurons.Sequential` whose layers follow the graph's chain
    from its Input to its Output; ``forward(x: [T, B, *input], state=None) -> (y, states)``.
    Neuron parameters are fixed (not learnable); weights are ``nn.Parameter``.
    """
    nir = _nir()
    _check_common(dt, reset)
    dtype = torch.get_default_dtype() if dtype is None else dtype
    graph = _load(nir, source)
    _check_metadata(graph, dt, reset)
    nodes, chain, loops = structure(graph)
    input_type = (nodes[chain[0]].input_type or {}).get("input")
    if input_type is None:
        raise ValueError(f"the NIR graph's Input node {chain[0]!r} has no shape")
    shape = tuple(int(s) for s in np.atleast_1d(input_type))
    layers: list[nn.Module] = []
    for name in chain[1:-1]:
        node = nodes[name]
        kind = type(node).__name__
        where = f"NIR node {name!r} ({kind})"
        try:
            if kind in NEURON_NODES:
                new = _import_neuron(node, kind, shape, dt, reset, loops.get(name), dtype)
            elif kind in LAYER_NODES:
                layer = _import_layer(node, kind, dtype)
                shape = _out_shape(layer, shape, dtype)
                new = [layer]
            else:
                raise ValueError(
                    f"has no spikegate equivalent; from_nir reads {', '.join(NEURON_NODES + LAYER_NODES)}, "
                    "Input, Output and nested NIRGraph"
                )
        except (ValueError, TypeError) as e:
            raise ValueError(f"{where}: {e}") from e
        layers += new
    return Sequential(*layers)


def _load(nir: Any, source: Any) -> Any:
    if isinstance(source, nir.NIRGraph):
        return source
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"source must be a nir.NIRGraph or the path of a NIR file, got {type(source).__name__}")
    import h5py

    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"source: no NIR file at {path}")
    if not h5py.is_hdf5(path):
        raise ValueError(f"source {path} is not an HDF5 file, so not a NIR file")
    known = {n for n in dir(nir) if isinstance(getattr(nir, n), type) and issubclass(getattr(nir, n), nir.NIRNode)}
    with h5py.File(path, "r") as f:
        if "node" not in f or "type" not in f["node"]:
            raise ValueError(f"source {path} is an HDF5 file without /node/type: not a NIR graph")
        groups = [("node", f["node"])]
        f["node"].visititems(lambda name, obj: groups.append((f"node/{name}", obj)))
        for name, group in groups:
            if isinstance(group, h5py.Group) and "type" in group and not name.endswith("metadata"):
                kind = group["type"][()]
                kind = kind.decode() if isinstance(kind, bytes) else str(kind)
                if kind not in known:
                    raise ValueError(
                        f"source {path}: /{name} has node type {kind!r}, which nir {nir.__version__} does not know"
                    )
    try:
        graph = nir.read(path, type_check=False)
    except (ValueError, KeyError, TypeError, AssertionError, AttributeError) as e:
        raise ValueError(f"source {path}: nir cannot read it as a NIR graph: {e!r}") from e
    if not isinstance(graph, nir.NIRGraph):
        raise ValueError(f"source {path} holds a single {type(graph).__name__} node, not a NIRGraph")
    return graph


def _check_metadata(graph: Any, dt: float, reset: str) -> None:
    """Warn when spikegate's own advice in the file disagrees with the arguments."""
    meta = graph.metadata if isinstance(graph.metadata, dict) else {}
    for key, given in (("spikegate_dt", dt), ("spikegate_reset", reset)):
        if key in meta:
            stored = meta[key]
            stored = stored.decode() if isinstance(stored, bytes) else stored
            stored = float(stored) if key == "spikegate_dt" else str(stored)
            same = stored == (float(given) if key == "spikegate_dt" else given)
            if not same:
                warnings.warn(
                    f"the file was written by spikegate with {key[10:]}={stored!r}, but from_nir was given "
                    f"{key[10:]}={given!r}; the network will not behave as the one exported",
                    stacklevel=3,
                )


def _floats(*values: Any) -> list[np.ndarray]:
    """Parameters in the precision the file stores (at least float32), so that derived
    quantities are computed as the writer computed them."""
    arrays = [np.asarray(v) for v in values]
    dtype = np.result_type(np.float32, *arrays)
    return [a.astype(dtype) for a in arrays]


def _compact(a: np.ndarray) -> Tensor:
    """A float64 tensor; one scalar when all entries are equal."""
    a = np.asarray(a, dtype=np.float64)
    if a.size and bool((a == a.flat[0]).all()):
        return torch.tensor(float(a.flat[0]), dtype=torch.float64)
    return torch.from_numpy(a.copy())


def _euler(tau: np.ndarray, dt: float, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Forward Euler decay 1 - dt/tau and tau/dt (the r that gives a unit input gain)."""
    if not bool(np.isfinite(tau).all()) or not bool((tau > dt).all()):
        raise ValueError(
            f"{name} must be finite and larger than dt={dt:g} (forward Euler decay 1 - dt/{name} in (0, 1)); "
            f"got values in [{tau.min():g}, {tau.max():g}]: pass a smaller dt"
        )
    return 1 - dt / tau, tau / dt


def _import_neuron(
    node: Any, kind: str, shape: tuple[int, ...], dt: float, reset: str, loop: Any, dtype: torch.dtype
) -> list[nn.Module]:
    """A neuron node as [ElementwiseAffine(gain, offset)], neuron; or as Recurrent."""
    if kind in ("LIF", "IF", "CubaLIF"):
        (v_reset,) = _floats(node.v_reset)
        if bool((v_reset != 0).any()):
            worst = abs(v_reset).max()
            raise ValueError(f"v_reset must be 0 for spikegate's reset={reset!r}, got values up to {worst:g}")
    if kind in ("LIF", "LI"):
        tau, r, v_leak = _floats(node.tau, node.r, node.v_leak)
        beta, k = _euler(tau, dt, "tau")
        gain, offset, decays = r / k, v_leak / k, {"beta": beta}
    elif kind in ("IF", "I"):
        (r,) = _floats(node.r)
        gain, offset, decays = r / (r.dtype.type(1) / dt), np.zeros_like(r), {"beta": np.ones_like(r)}
    else:
        tau_syn, tau_mem, r, v_leak, w_in = _floats(node.tau_syn, node.tau_mem, node.r, node.v_leak, node.w_in)
        if bool((v_leak != 0).any()):
            raise ValueError("v_leak != 0 is not representable: spikegate's CubaLIF has no constant drive on v")
        alpha, ks = _euler(tau_syn, dt, "tau_syn")
        beta, km = _euler(tau_mem, dt, "tau_mem")
        gain, offset, decays = (w_in / ks) * (r / km), np.zeros_like(r), {"alpha": alpha, "beta": beta}
    arrays = [gain, offset, *decays.values()] + ([np.asarray(node.v_threshold)] if kind not in ("LI", "I") else [])
    for a in arrays:
        try:
            fits = np.broadcast_shapes(a.shape, shape) == tuple(shape)
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"its parameters of shape {a.shape} do not fit its input of features {tuple(shape)}")
    params = {k: _compact(v) for k, v in decays.items()}
    if kind in ("LI", "I"):
        cell: nn.Module = LI(**params)
    else:
        (threshold,) = _floats(node.v_threshold)
        cls = CubaLIF if kind == "CubaLIF" else LIF
        cell = cls(**params, threshold=_compact(threshold), reset=reset)
    unit = bool((gain == 1).all()) and bool((offset == 0).all())
    if loop is None:
        return ([] if unit else [ElementwiseAffine(_compact(gain), _compact(offset))]) + [cell]
    if not unit:
        raise ValueError(
            "a recurrent loop needs a unit input gain (r = tau/dt, w_in = tau_syn/dt) and v_leak = 0, "
            "since the gain would also scale the loop"
        )
    weight = np.asarray(loop.weight)
    n = weight.shape[0]
    if weight.shape != (n, n) or tuple(shape) != (n,):
        raise ValueError(
            f"its recurrent weight has shape {weight.shape}; a loop on features {tuple(shape)} needs a square one"
        )
    rec = Recurrent(cell, n, weight=torch.zeros(n, n)).to(dtype)
    with torch.no_grad():
        rec.weight.copy_(torch.from_numpy(weight))
    bias = np.asarray(getattr(loop, "bias", 0.0))
    return ([ElementwiseAffine(1.0, _compact(bias))] if bool((bias != 0).any()) else []) + [rec]


def _ints(v: Any) -> tuple[int, ...]:
    return tuple(int(x) for x in np.atleast_1d(v))


def _import_layer(node: Any, kind: str, dtype: torch.dtype) -> nn.Module:
    """A stateless NIR node as a torch layer."""
    if kind in ("Affine", "Linear"):
        weight = np.asarray(node.weight)
        if weight.ndim != 2:
            raise ValueError(f"weight must be 2-D (out, in), got shape {weight.shape}")
        layer = nn.Linear(weight.shape[1], weight.shape[0], bias=kind == "Affine", dtype=dtype)
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(weight))
            if kind == "Affine":
                layer.bias.copy_(torch.from_numpy(np.broadcast_to(np.asarray(node.bias), weight.shape[:1]).copy()))
        return layer
    if kind in ("Conv1d", "Conv2d"):
        weight = np.asarray(node.weight)
        groups = int(node.groups)
        padding = node.padding if isinstance(node.padding, str) else _ints(node.padding)
        cls = nn.Conv1d if kind == "Conv1d" else nn.Conv2d
        layer = cls(
            weight.shape[1] * groups, weight.shape[0], weight.shape[2:], stride=_ints(node.stride),
            padding=padding, dilation=_ints(node.dilation), groups=groups, dtype=dtype,
        )
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(weight))
            layer.bias.copy_(torch.from_numpy(np.broadcast_to(np.asarray(node.bias), weight.shape[:1]).copy()))
        return layer
    if kind == "Flatten":
        start, end = (int(d) + 1 if int(d) >= 0 else int(d) for d in (node.start_dim, node.end_dim))
        return nn.Flatten(start, end)
    if kind == "SumPool2d":
        return SumPool2d(_ints(node.kernel_size), _ints(node.stride), _ints(node.padding))
    if kind == "AvgPool2d":
        if any(_ints(node.padding)):
            raise ValueError("padding != 0 is refused: NIR does not say whether padded zeros count in the mean")
        return nn.AvgPool2d(_ints(node.kernel_size), _ints(node.stride))
    return ElementwiseAffine(_compact(_floats(node.scale)[0]), 0.0)
