"""NIR export and import: round trips, the meaning of every imported node against a NumPy
forward-Euler simulation of NIR's equations, and the errors for what cannot be mapped."""

from __future__ import annotations

import h5py
import nir
import numpy as np
import pytest
import torch
from torch import nn

from spikegate.export.nir import from_nir, to_nir
from spikegate.layers import ElementwiseAffine, SumPool2d
from spikegate.neurons import LI, LIF, CubaLIF, Izhikevich, Recurrent, Sequential

F64 = torch.float64


pytestmark = pytest.mark.usefixtures("one_thread")


def _rand(*shape, lo=0.0, hi=1.0, gen):
    return torch.rand(*shape, generator=gen, dtype=F64) * (hi - lo) + lo


def _linear(i, o, gen, bias=True, scale=1.0):
    layer = nn.Linear(i, o, bias=bias, dtype=F64)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(o, i, generator=gen, dtype=F64) * scale / i**0.5)
        if bias:
            layer.bias.copy_(torch.randn(o, generator=gen, dtype=F64) * 0.1)
    return layer


def _conv(cls, ci, co, k, gen, **kw):
    layer = cls(ci, co, k, dtype=F64, **kw)
    with torch.no_grad():
        layer.weight.normal_(0, 1.0, generator=gen)
        layer.bias.normal_(0, 0.1, generator=gen)
    return layer


def _lif(n, gen, reset="zero", beta=None):
    beta = _rand(n, lo=0.5, hi=0.99, gen=gen) if beta is None else beta
    return LIF(beta=beta, threshold=_rand(n, lo=0.5, hi=1.5, gen=gen), reset=reset)


def _cuba(n, gen, reset="zero"):
    return CubaLIF(
        alpha=_rand(n, lo=0.3, hi=0.95, gen=gen), beta=_rand(n, lo=0.5, hi=0.99, gen=gen),
        threshold=_rand(n, lo=0.5, hi=1.5, gen=gen), reset=reset,
    )


# Each builder returns (model, input features, reset) covering the node types noted.
def _dense(gen):  # Affine, Linear, LIF, IF, CubaLIF, LI, I
    return Sequential(
        _linear(12, 16, gen, scale=3), _lif(16, gen), _linear(16, 14, gen, bias=False, scale=3),
        LIF(beta=1.0, threshold=1.2, reset="zero"), _linear(14, 10, gen, scale=3), _cuba(10, gen),
        _linear(10, 8, gen), LI(beta=_rand(8, lo=0.6, hi=0.95, gen=gen)), _linear(8, 4, gen), LI(beta=1.0),
    ), (12,), "zero"


def _conv2d(gen):  # Conv2d (padding int and "same"), SumPool2d, AvgPool2d, Flatten
    return Sequential(
        _conv(nn.Conv2d, 2, 4, 3, gen, padding=1), LIF(beta=0.8, threshold=1.0, reset="zero"), SumPool2d(2),
        _conv(nn.Conv2d, 4, 6, 3, gen, padding="same", stride=1), _lif((6, 4, 4), gen), nn.AvgPool2d(2),
        nn.Flatten(), _linear(24, 5, gen, scale=3), _lif(5, gen),
    ), (2, 8, 8), "zero"


def _conv1d(gen):  # Conv1d, partial Flatten
    return Sequential(
        _conv(nn.Conv1d, 3, 4, 3, gen, stride=2), _lif((4, 5), gen), nn.Flatten(1, 2),
        _linear(20, 6, gen, scale=3), _lif(6, gen),
    ), (3, 11), "zero"


def _recurrent(gen):  # neuron <-> Linear loops, also with an Affine bias and an IF cell
    return Sequential(
        _linear(10, 12, gen, scale=3), _rec(_cuba(12, gen), torch.randn(12, 12, generator=gen, dtype=F64)),
        _linear(12, 8, gen, scale=3), ElementwiseAffine(1.0, _rand(8, lo=-0.2, hi=0.2, gen=gen)),
        _rec(LIF(beta=1.0, reset="zero"), torch.randn(8, 8, generator=gen, dtype=F64) * 0.3),
    ), (10,), "zero"


def _rec(cell, weight):
    rec = Recurrent(cell, weight.shape[0], weight=torch.zeros_like(weight)).to(F64)
    with torch.no_grad():
        rec.weight.copy_(weight)  # Recurrent stores the default dtype; keep every float64 bit
    return rec


def _subtract_and_gains(gen):  # subtract reset, Scale, input gain and leak folded into r and v_leak
    return Sequential(
        _linear(9, 10, gen, scale=3), _lif(10, gen, reset="subtract"),
        ElementwiseAffine(_rand(10, lo=0.5, hi=2, gen=gen)), _linear(10, 7, gen, scale=3),
        ElementwiseAffine(_rand(7, lo=0.5, hi=2, gen=gen), _rand(7, lo=-0.1, hi=0.1, gen=gen)),
        _lif(7, gen, reset="subtract"), ElementwiseAffine(1.5), _cuba(7, gen, reset="subtract"),
    ), (9,), "subtract"


BUILDERS = [_dense, _conv2d, _conv1d, _recurrent, _subtract_and_gains]


def _kinds(model):
    return [type(m).__name__ for m in model.layers] + [
        type(m.cell).__name__ for m in model.layers if isinstance(m, Recurrent)
    ]


def _spike_rates(model, x):
    rates = []
    with torch.no_grad():
        for layer in model.layers:
            x, _ = Sequential(layer)(x)
            if isinstance(layer, (LIF, CubaLIF, Recurrent)):
                rates.append(x.mean().item())
    return rates


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__.strip("_"))
def test_round_trip_through_a_file_gives_identical_outputs(builder, tmp_path):
    gen = torch.Generator().manual_seed(7)
    model, features, reset = builder(gen)
    path = tmp_path / "net.nir"
    to_nir(model, path, dt=1e-3, input_shape=features, reset=reset)
    assert isinstance(nir.read(path), nir.NIRGraph)  # nir's own reader, with its type check
    back = from_nir(path, dt=1e-3, reset=reset, dtype=F64)
    assert _kinds(back) == _kinds(model)
    x = torch.randn(40, 3, *features, generator=gen, dtype=F64) * 2
    with torch.no_grad():
        y0, _ = model(x)
        y1, _ = back(x)
    assert torch.equal(y0, y1)
    rates = _spike_rates(model, x)
    assert rates and 0.01 < min(rates) and max(rates) < 0.95, rates  # every spiking layer was active
    before, after = model.state_dict(), back.state_dict()
    assert list(after) == list(before)
    for key, p0 in before.items():  # weights and thresholds exactly; decays and folded gains within 1e-15
        rtol = 0.0 if key.endswith(("weight", "threshold.value")) else 1e-15
        torch.testing.assert_close(*torch.broadcast_tensors(after[key].to(F64), p0.to(F64)), rtol=rtol, atol=0)


def test_to_nir_names_nodes_and_records_dt_as_advice(tmp_path):
    gen = torch.Generator().manual_seed(0)
    inner = Sequential(_linear(4, 3, gen), LIF(beta=0.9, reset="zero"))
    to_nir(Sequential(inner, nn.Identity()), tmp_path / "net.nir", dt=2e-3)
    graph = nir.read(tmp_path / "net.nir")
    assert sorted(graph.nodes) == ["0_linear", "1_lif", "input", "output"]
    lif = graph.nodes["1_lif"]
    np.testing.assert_allclose(lif.tau, 2e-3 / (1 - 0.9), rtol=1e-15)
    np.testing.assert_allclose(lif.r, lif.tau / 2e-3, rtol=0)
    assert graph.metadata == {"spikegate_dt": 2e-3, "spikegate_reset": "zero"}
    with pytest.warns(UserWarning, match="written by spikegate with dt=0.002"):
        from_nir(tmp_path / "net.nir", dt=1e-3)


# ---------------------------------------------------------------------------------------------
# The meaning of imported nodes, against NIR's equations integrated by forward Euler in NumPy


def _euler_reference(chain, x, dt, loops=None):
    """NIR semantics: v += dt/tau (v_leak - v + r I); spike when v > v_th; v <- v_reset.
    ``loops[i]`` is an Affine feeding node i's previous output back into its input."""
    loops = loops or {}
    state: dict[int, dict[str, np.ndarray]] = {i: {} for i in range(len(chain))}
    out = []
    for xt in x:
        h = xt
        for i, node in enumerate(chain):
            s, kind = state[i], type(node).__name__
            if kind == "Affine":
                h = h @ node.weight.T + node.bias
                continue
            if i in loops:
                h = h + s.get("out", np.zeros_like(h)) @ loops[i].weight.T + loops[i].bias
            v = s.get("v", np.zeros_like(h))
            if kind in ("LIF", "LI"):
                v = v + dt / node.tau * (node.v_leak - v + node.r * h)
            elif kind in ("IF", "I"):
                v = v + dt * node.r * h
            else:
                i_syn = s.get("i", np.zeros_like(h))
                s["i"] = i_syn = i_syn + dt / node.tau_syn * (-i_syn + node.w_in * h)
                v = v + dt / node.tau_mem * (node.v_leak - v + node.r * i_syn)
            if kind in ("LI", "I"):
                s["v"] = h = v
                continue
            z = v > node.v_threshold
            s["v"] = np.where(z, node.v_reset, v)
            s["out"] = h = z.astype(np.float64)
        out.append(h)
    return np.stack(out)


def test_imported_nodes_follow_nir_equations_with_explicit_dt():
    rng = np.random.default_rng(3)
    dt, n = 1e-3, 16

    def u(lo, hi, size=n):
        return rng.uniform(lo, hi, size)

    def affine(i, o, scale):
        return nir.Affine(weight=rng.normal(0, scale / i**0.5, (o, i)), bias=rng.normal(0, 0.1, o))

    chain = [
        affine(n, n, 1.0),
        nir.LIF(tau=u(5e-3, 3e-2), r=u(2, 30), v_leak=u(-0.5, 0.5), v_threshold=u(0.5, 1.5), v_reset=np.zeros(n)),
        affine(n, n, 4.0),
        nir.CubaLIF(tau_syn=u(2e-3, 1e-2), tau_mem=u(5e-3, 3e-2), r=u(5, 30), v_leak=np.zeros(n),
                    v_threshold=u(0.5, 1.5), w_in=u(1, 8), v_reset=np.zeros(n)),
        affine(n, n, 4.0),
        nir.IF(r=u(200, 900), v_threshold=u(0.5, 1.5), v_reset=np.zeros(n)),
        affine(n, n, 1.0),
        nir.LI(tau=u(5e-3, 3e-2), r=u(2, 30), v_leak=u(-0.5, 0.5)),
        affine(n, n, 1.0),
        nir.I(r=u(100, 900)),
    ]
    graph = nir.NIRGraph.from_list(nir.Input(input_type=np.array([n])), *chain, nir.Output(output_type=np.array([n])))
    x = rng.normal(0, 1.5, (60, 4, n))
    model = from_nir(graph, dt=dt, dtype=F64)
    assert _kinds(model).count("ElementwiseAffine") == 5  # every neuron: r != tau/dt (1/dt), v_leak, w_in
    with torch.no_grad():
        for k in range(1, len(chain) + 1):
            want = _euler_reference(chain[:k], x, dt)
            got, _ = from_nir(nir.NIRGraph.from_list(*chain[:k]), dt=dt, dtype=F64)(torch.from_numpy(x))
            if type(chain[k - 1]).__name__ in ("LIF", "CubaLIF", "IF"):
                assert 0.02 < want.mean() < 0.9
                assert np.array_equal(got.numpy(), want), type(chain[k - 1]).__name__
            else:
                np.testing.assert_allclose(got.numpy(), want, rtol=1e-9, atol=1e-9)


def test_imported_recurrent_loop_feeds_back_the_previous_spikes():
    rng = np.random.default_rng(5)
    dt, n = 1e-4, 12
    tau_syn, tau_mem = rng.uniform(2e-4, 1e-3, n), rng.uniform(5e-4, 3e-3, n)
    cell = nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, r=tau_mem / dt, v_leak=np.zeros(n),
                       v_threshold=rng.uniform(0.5, 1.5, n), w_in=tau_syn / dt)
    feed = nir.Affine(weight=rng.normal(0, 1, (n, 8)), bias=rng.normal(0, 0.1, n))
    loop = nir.Affine(weight=rng.normal(0, 0.5, (n, n)), bias=rng.normal(0, 0.1, n))
    graph = nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([8])), "feed": feed, "cell": cell, "loop": loop,
               "output": nir.Output(output_type=np.array([n]))},
        edges=[("input", "feed"), ("feed", "cell"), ("cell", "loop"), ("loop", "cell"), ("cell", "output")],
    )
    model = from_nir(graph, dt=dt, dtype=F64)
    assert _kinds(model) == ["Linear", "ElementwiseAffine", "Recurrent", "CubaLIF"]
    x = rng.normal(0, 1.0, (80, 4, 8))
    want = _euler_reference([feed, cell], x, dt, loops={1: loop})
    with torch.no_grad():
        got, _ = model(torch.from_numpy(x))
    assert 0.02 < want.mean() < 0.9
    assert np.array_equal(got.numpy(), want)


def test_threshold_comparison_is_spikegates_at_exact_ties():
    """Documented difference: NIR fires on v > v_th, spikegate on U >= threshold."""
    graph = nir.NIRGraph.from_list(nir.IF(r=np.full(1, 1e3), v_threshold=np.ones(1)))
    spikes, _ = from_nir(graph, dt=1e-3, dtype=F64)(torch.ones(1, 1, 1, dtype=F64))
    assert spikes.item() == 1.0  # v = r dt I = 1.0 equals the threshold: NIR would not fire


def _nested(graph, neuron, weight):
    """Move ``neuron`` and its loop ``weight`` into a subgraph, as snnTorch's RLeaky export does."""
    sub = nir.NIRGraph(
        nodes={"in": nir.Input(input_type=np.array([12])), "cell": graph.nodes.pop(neuron),
               "w": graph.nodes.pop(weight), "out": nir.Output(output_type=np.array([12]))},
        edges=[("in", "cell"), ("cell", "w"), ("w", "cell"), ("cell", "out")],
        type_check=False,
    )
    graph.nodes["sub"] = sub
    ren = {neuron: "sub"}
    graph.edges = [(ren.get(a, a), ren.get(b, b)) for a, b in graph.edges if weight not in (a, b)]
    return graph


def test_nested_subgraph_imports_like_the_flat_graph():
    gen = torch.Generator().manual_seed(1)
    model, features, _ = _recurrent(gen)
    flat = from_nir(to_nir(model, dt=1e-3), dt=1e-3, dtype=F64)
    nested = from_nir(_nested(to_nir(model, dt=1e-3), "1_cubalif", "1_w_rec"), dt=1e-3, dtype=F64)
    x = torch.randn(30, 2, *features, generator=gen, dtype=F64) * 2
    with torch.no_grad():
        assert torch.equal(flat(x)[0], nested(x)[0])


# ---------------------------------------------------------------------------------------------
# What cannot be mapped


def _graph(nodes, edges):
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def _lif_node(n=3):
    return nir.LIF(tau=np.full(n, 0.02), r=np.full(n, 20.0), v_leak=np.zeros(n), v_threshold=np.ones(n))


def _io(n=3):
    return {"input": nir.Input(input_type=np.array([n])), "output": nir.Output(output_type=np.array([n]))}


def _aff(n=3):
    return nir.Affine(weight=np.eye(n), bias=np.zeros(n))


BAD_GRAPHS = {
    "unknown node": (
        lambda: _graph({**_io(), "d": nir.Delay(delay=np.ones(3))}, [("input", "d"), ("d", "output")]),
        r"'d' \(Delay\): has no spikegate equivalent",
    ),
    "threshold node": (
        lambda: _graph({**_io(), "t": nir.Threshold(threshold=np.ones(3))}, [("input", "t"), ("t", "output")]),
        r"'t' \(Threshold\)",
    ),
    "cycle of two neurons": (
        lambda: _graph({**_io(), "a": _lif_node(), "b": _lif_node()},
                       [("input", "a"), ("a", "b"), ("b", "a"), ("a", "output")]),
        r"cycle through \['a', 'b'\] that spikegate cannot map: only a neuron node",
    ),
    "loop of two weights": (
        lambda: _graph({**_io(), "a": _aff(), "b": _aff()}, [("input", "a"), ("a", "b"), ("b", "a"), ("a", "output")]),
        r"cycle through \['a', 'b'\]",
    ),
    "loop weight that also feeds on": (
        lambda: _graph({**_io(), "n": _lif_node(), "w": _aff()},
                       [("input", "n"), ("n", "w"), ("w", "n"), ("w", "output")]),
        r"cycle through \['n', 'w'\]",
    ),
    "self loop": (
        lambda: _graph({**_io(), "n": _lif_node()}, [("input", "n"), ("n", "n"), ("n", "output")]),
        r"cycle through \['n'\]",
    ),
    "branch": (
        lambda: _graph({**_io(), "a": _aff(), "b": _aff()},
                       [("input", "a"), ("input", "b"), ("a", "output"), ("b", "output")]),
        r"'input' feeds 2 nodes",
    ),
    "two inputs": (
        lambda: _graph({**_io(), "in2": nir.Input(input_type=np.array([3])), "a": _aff()},
                       [("input", "a"), ("in2", "a"), ("a", "output")]),
        r"2 Input nodes",
    ),
    "stray node": (
        lambda: _graph({**_io(), "a": _aff(), "b": _aff()}, [("input", "a"), ("a", "output")]),
        r"\['b'\] are not on the path",
    ),
    "edge to nowhere": (
        lambda: _graph({**_io(), "a": _aff()}, [("input", "a"), ("a", "zz"), ("a", "output")]),
        r"names 'zz'",
    ),
    "v_reset": (
        lambda: nir.NIRGraph.from_list(nir.LIF(tau=np.full(3, 0.02), r=np.full(3, 20.0), v_leak=np.zeros(3),
                                               v_threshold=np.ones(3), v_reset=np.full(3, -0.2))),
        r"\(LIF\): v_reset must be 0",
    ),
    "cuba v_leak": (
        lambda: nir.NIRGraph.from_list(nir.CubaLIF(tau_syn=np.full(3, 5e-3), tau_mem=np.full(3, 0.02), r=np.ones(3),
                                                   v_leak=np.full(3, 0.1), v_threshold=np.ones(3))),
        r"v_leak != 0 is not representable",
    ),
    "tau below dt": (
        lambda: nir.NIRGraph.from_list(nir.LI(tau=np.full(3, 5e-4), r=np.ones(3), v_leak=np.zeros(3))),
        r"tau must be finite and larger than dt=0.001",
    ),
    "gain inside a loop": (
        lambda: _graph({**_io(), "n": nir.LIF(tau=np.full(3, 0.02), r=np.full(3, 5.0), v_leak=np.zeros(3),
                                             v_threshold=np.ones(3)), "w": _aff()},
                       [("input", "n"), ("n", "w"), ("w", "n"), ("n", "output")]),
        r"recurrent loop needs a unit input gain",
    ),
    "shapes that do not chain": (
        lambda: _graph({**_io(), "a": nir.Affine(weight=np.ones((3, 5)), bias=np.zeros(3))},
                       [("input", "a"), ("a", "output")]),
        r"'a' \(Affine\): it does not accept its input of features \(3,\)",
    ),
}


@pytest.mark.parametrize("case", BAD_GRAPHS, ids=str)
def test_unmappable_graphs_are_refused_with_a_clear_error(case):
    make, message = BAD_GRAPHS[case]
    with pytest.raises(ValueError, match=message):
        from_nir(make(), dt=1e-3)


def test_foreign_and_broken_files_are_refused(tmp_path):
    text = tmp_path / "notes.nir"
    text.write_text("not a NIR file")
    with pytest.raises(ValueError, match="not an HDF5 file"):
        from_nir(text, dt=1e-3)
    other = tmp_path / "recording.h5"
    with h5py.File(other, "w") as f:
        f["spikes"] = np.zeros(3)
    with pytest.raises(ValueError, match="without /node/type"):
        from_nir(other, dt=1e-3)
    with pytest.raises(FileNotFoundError, match="no NIR file"):
        from_nir(tmp_path / "missing.nir", dt=1e-3)
    unknown = tmp_path / "unknown.nir"
    to_nir(Sequential(nn.Linear(3, 2), LIF(reset="zero")), unknown, dt=1e-3)
    with h5py.File(unknown, "r+") as f:
        del f["node/nodes/1_lif/type"]
        f["node/nodes/1_lif/type"] = b"Mystery"
    with pytest.raises(ValueError, match="Mystery"):
        from_nir(unknown, dt=1e-3)
    with pytest.raises(TypeError, match="source must be"):
        from_nir(42, dt=1e-3)


@pytest.mark.parametrize(
    "model, kwargs, error, message",
    [
        (Sequential(nn.Linear(3, 3), LIF(reset="subtract")), {}, ValueError,
         r"layer 1 \(LIF\): it uses reset='subtract'"),
        (Sequential(nn.Linear(3, 3), LIF(reset="none")), {"reset": "zero"}, ValueError, "reset='none'"),
        (Sequential(nn.Linear(3, 3), LIF(reset="zero", refractory=2)), {}, ValueError, "refractory period"),
        (Sequential(nn.Linear(2, 2), LIF(beta=torch.tensor([1.0, 0.5]), reset="zero")), {}, ValueError,
         "mixes beta = 1"),
        (Sequential(nn.Linear(3, 3), CubaLIF(alpha=1.0, reset="zero")), {}, ValueError, "alpha = 1"),
        (Sequential(nn.Linear(3, 3), Izhikevich()), {}, TypeError, r"layer 1 \(Izhikevich\): it has no NIR equivalent"),
        (Sequential(nn.Conv2d(2, 2, (3, 5))), {"input_shape": (2, 8, 8)}, ValueError, "square kernel"),
        (Sequential(nn.Conv2d(2, 2, 3)), {}, ValueError, "input_shape is required"),
        (Sequential(nn.Linear(3, 3), ElementwiseAffine(1.0, 0.5)), {}, ValueError, "adds a bias"),
        (Sequential(nn.Linear(3, 3), LIF(reset="zero")), {"dt": 0.0}, ValueError, "dt must be > 0"),
        (Sequential(nn.Linear(3, 3), LIF(reset="zero")), {"reset": "none"}, ValueError, "reset must be one of"),
        ("not a module", {}, TypeError, "model must be a torch.nn.Module"),
    ],
    ids=["reset mismatch", "reset none", "refractory", "mixed beta", "alpha 1", "izhikevich", "conv kernel",
         "no input shape", "bias alone", "dt", "reset arg", "not a module"],
)
def test_unexportable_models_are_refused_with_a_clear_error(model, kwargs, error, message):
    kwargs = {"dt": 1e-3, **kwargs}
    with pytest.raises(error, match=message):
        to_nir(model, **kwargs)
