"""Graph structure for :mod:`spikegate.export.nir`: inline nested NIR graphs, find the
neuron <-> weight loops that become :class:`~spikegate.neurons.Recurrent`, refuse other
cycles, and order the rest as one chain from Input to Output.

Nodes are told apart by class name, so this module needs no ``nir`` import.
"""

from __future__ import annotations

from typing import Any

NEURON_NODES: tuple[str, ...] = ("LIF", "IF", "CubaLIF", "LI", "I")


def structure(graph: Any) -> tuple[dict[str, Any], list[str], dict[str, Any]]:
    """``(nodes, chain, loops)``: every node by (dotted) name, the names from the Input to
    the Output node, and ``{neuron name: recurrent weight node}``. Raises ``ValueError``
    naming what cannot be mapped to a :class:`~spikegate.neurons.Sequential`."""
    nodes, edges = _flatten_graph(graph, "")
    loops = _take_loops(nodes, edges)
    _check_acyclic(nodes, edges)
    return nodes, _chain(nodes, edges), loops


def _flatten_graph(graph: Any, prefix: str) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Nodes and edges with nested graphs inlined (names ``outer.inner``) and their Input and
    Output nodes spliced out."""
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    entry: dict[str, str] = {}
    exit_: dict[str, str] = {}
    spliced: list[str] = []
    for name, node in graph.nodes.items():
        full = prefix + name
        kind = type(node).__name__
        if kind == "NIRGraph":
            sub_nodes, sub_edges = _flatten_graph(node, full + ".")
            ins = [full + "." + k for k, n in node.nodes.items() if type(n).__name__ == "Input"]
            outs = [full + "." + k for k, n in node.nodes.items() if type(n).__name__ == "Output"]
            if len(ins) != 1 or len(outs) != 1:
                raise ValueError(
                    f"subgraph {full!r} has {len(ins)} Input and {len(outs)} Output nodes; from_nir inlines "
                    "subgraphs with exactly one of each"
                )
            nodes.update(sub_nodes)
            edges += sub_edges
            entry[full], exit_[full] = ins[0], outs[0]
            spliced += [ins[0], outs[0]]
        else:
            nodes[full] = node
    for edge in graph.edges:
        a, b = (str(e) for e in edge)
        for end in (a, b):
            if end not in graph.nodes:
                where = prefix[:-1] or "the graph"
                raise ValueError(f"edge ({a!r}, {b!r}) names {end!r}, which is not a node of {where}")
        new = (exit_.get(prefix + a, prefix + a), entry.get(prefix + b, prefix + b))
        if new in edges:
            raise ValueError(f"edge ({a!r}, {b!r}) appears twice")
        edges.append(new)
    for port in spliced:
        preds = [a for a, b in edges if b == port]
        succs = [b for a, b in edges if a == port]
        edges[:] = [e for e in edges if port not in e] + [(a, b) for a in preds for b in succs]
        del nodes[port]
    return nodes, edges


def _take_loops(nodes: dict[str, Any], edges: list[tuple[str, str]]) -> dict[str, Any]:
    """Find neuron <-> Affine/Linear loops whose weight node touches nothing else; remove their
    weight nodes and two edges from ``nodes`` and ``edges``; return ``{neuron: weight node}``."""
    loops: dict[str, Any] = {}
    for a, b in list(edges):
        if (a, b) not in edges or (b, a) not in edges or a == b:
            continue
        neuron, weight = (a, b) if type(nodes[a]).__name__ in NEURON_NODES else (b, a)
        if (
            type(nodes[neuron]).__name__ in NEURON_NODES
            and type(nodes[weight]).__name__ in ("Affine", "Linear")
            and [e for e in edges if weight in e] in ([(a, b), (b, a)], [(b, a), (a, b)])
        ):
            if neuron in loops:
                raise ValueError(f"NIR node {neuron!r} has two recurrent loops; spikegate's Recurrent holds one")
            loops[neuron] = nodes.pop(weight)
            edges.remove((a, b))
            edges.remove((b, a))
    return loops


def _check_acyclic(nodes: dict[str, Any], edges: list[tuple[str, str]]) -> None:
    """Raise when a cycle is left, naming its nodes: those that remain after repeatedly
    dropping every node without inputs or without outputs."""
    left, live = set(nodes), list(edges)
    while True:
        ends = {n for n in left if all(b != n for _, b in live) or all(a != n for a, _ in live)}
        if not ends:
            break
        left -= ends
        live = [(a, b) for a, b in live if a in left and b in left]
    cyclic = sorted(left)
    if cyclic:
        raise ValueError(
            f"the NIR graph has a cycle through {cyclic} that spikegate cannot map: only a neuron node "
            f"({', '.join(NEURON_NODES)}) with an Affine/Linear node that feeds nothing but back into it "
            "becomes a spikegate.neurons.Recurrent"
        )


def _chain(nodes: dict[str, Any], edges: list[tuple[str, str]]) -> list[str]:
    """Node names from the one Input to the one Output; anything else is refused."""
    ports = {k: [n for n, node in nodes.items() if type(node).__name__ == k] for k in ("Input", "Output")}
    for kind, names in ports.items():
        if len(names) != 1:
            raise ValueError(f"the NIR graph has {len(names)} {kind} nodes; from_nir imports one Input and one Output")
    succ = {n: [b for a, b in edges if a == n] for n in nodes}
    pred = {n: [a for a, b in edges if b == n] for n in nodes}
    chain = ports["Input"]
    while chain[-1] != ports["Output"][0]:
        cur = chain[-1]
        if len(succ[cur]) != 1:
            raise ValueError(
                f"NIR node {cur!r} feeds {len(succ[cur])} nodes {succ[cur]}; from_nir imports a chain "
                "(spikegate.neurons.Sequential) without branches"
            )
        nxt = succ[cur][0]
        if len(pred[nxt]) != 1:
            raise ValueError(f"NIR node {nxt!r} sums {len(pred[nxt])} inputs {pred[nxt]}; from_nir imports a chain")
        chain.append(nxt)
    stray = sorted(set(nodes) - set(chain))
    if stray:
        raise ValueError(f"NIR nodes {stray} are not on the path from Input to Output")
    return chain
