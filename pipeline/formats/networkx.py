"""Convert between :class:`CausalGraph` and networkx graphs.

networkx has no edge marks, so the convention is:

* a DAG becomes a :class:`networkx.DiGraph` with one ``u -> v`` edge per
  ``u --> v``;
* a PDAG also becomes a ``DiGraph``, each ``u --- v`` stored as the two edges
  ``u -> v`` and ``v -> u`` (the same convention as pgmpy's ``PDAG``).

Every edge carries a ``kind`` attribute (``"-->"`` or ``"---"``) so that the
graph converts back exactly. A PAG has marks a ``DiGraph`` cannot hold and is
refused; keep it in a format with marks (Tetrad, JSON, causal-learn).

Going back, :func:`from_networkx` uses the ``kind`` attribute of an edge when
it has one (read from the edge's source to its target), and otherwise reads a
lone ``u -> v`` as ``u --> v`` and a pair ``u -> v``, ``v -> u`` as ``u --- v``.
Every edge of an undirected :class:`networkx.Graph` is ``---``.

Examples
--------
>>> import networkx as nx
>>> g = from_networkx(nx.DiGraph([("a", "b"), ("b", "c"), ("c", "b")]))
>>> [str(e) for e in g.edges()]
['a --> b', 'b --- c']
>>> sorted(to_networkx(g).edges(data="kind"))
[('a', 'b', '-->'), ('b', 'c', '---'), ('c', 'b', '---')]
"""

from __future__ import annotations

from typing import Any

import networkx as nx

from mesalens.pipeline.errors import GraphError
from mesalens.pipeline.formats.json_graph import Link, _graph_from_links
from mesalens.pipeline.graph import CausalGraph

__all__ = ["from_networkx", "to_networkx"]

# Kinds whose marks are the same at both ends: an undirected networkx edge,
# whose (u, v) order networkx does not keep, can carry only these.
_SYMMETRIC_KINDS = frozenset({"---", "<->", "o-o"})


def to_networkx(graph: CausalGraph) -> nx.DiGraph:
    """Convert a DAG or PDAG to a :class:`networkx.DiGraph`.

    Parameters
    ----------
    graph : CausalGraph
        A DAG or PDAG.

    Returns
    -------
    networkx.DiGraph
        Nodes in ``graph.nodes`` order; ``u --> v`` as the edge ``(u, v)`` and
        ``u --- v`` as both ``(u, v)`` and ``(v, u)``, each with a ``kind``
        attribute.

    Raises
    ------
    GraphError
        If ``graph`` is a PAG (it has ``<->`` or circle marks).
    """
    if graph.kind() == "pag":
        graph.require_marks(("-->", "---"), "conversion to a networkx DiGraph")
    digraph = nx.DiGraph()
    digraph.add_nodes_from(graph.nodes)
    for edge in graph.edges():
        digraph.add_edge(edge.u, edge.v, kind=edge.kind)
        if edge.kind == "---":
            digraph.add_edge(edge.v, edge.u, kind=edge.kind)
    return digraph


def _name(node: Any) -> str:
    if isinstance(node, str) and node:
        return node
    if isinstance(node, int) and not isinstance(node, bool):
        return str(node)
    raise GraphError(
        f"networkx node {node!r} is not a non-empty string or an integer; relabel the nodes "
        "with names first (networkx.relabel_nodes)"
    )


def from_networkx(g: nx.Graph) -> CausalGraph:
    """Convert a networkx graph to a :class:`CausalGraph`.

    Parameters
    ----------
    g : networkx.Graph or networkx.DiGraph
        Nodes must be strings or integers (integers become their decimal
        names). A ``kind`` edge attribute, if present, gives the edge kind
        from the edge's source to its target.

    Returns
    -------
    CausalGraph
        Nodes in networkx order.

    Raises
    ------
    GraphError
        If a node is neither a string nor an integer, two nodes get the same
        name, an edge is a self-loop, a ``kind`` is unknown, the two edges of an
        opposite pair disagree, a multigraph has parallel edges, or an edge of
        an undirected graph has a ``kind`` with different marks at its ends.
    """
    names = [_name(node) for node in g.nodes]
    if len(set(names)) != len(names):
        raise GraphError(
            "two networkx nodes have the same name (an integer and its decimal string?); "
            "relabel them"
        )
    directed = g.is_directed()
    links: list[Link] = []
    for u, v, kind in g.edges(data="kind"):
        where = f"networkx edge ({u!r}, {v!r})"
        if kind is not None and not isinstance(kind, str):
            raise GraphError(f"{where}: the kind attribute {kind!r} is not a string")
        if not directed and kind is not None and kind not in _SYMMETRIC_KINDS:
            raise GraphError(
                f"{where} has kind {kind!r}, but an undirected networkx Graph does not keep "
                "which end is the source; use a DiGraph for edges whose ends differ"
            )
        links.append((_name(u), _name(v), kind, where))
    return _graph_from_links(names, links, directed, GraphError)
