"""Convert between :class:`CausalGraph` and pgmpy's ``DAG`` and ``PDAG``.

pgmpy's graphs are networkx ``DiGraph`` subclasses. A
:class:`pgmpy.base.DAG` holds ``u --> v`` as the edge ``(u, v)``. A
:class:`pgmpy.base.PDAG` holds an undirected edge ``u --- v`` as the two
edges ``(u, v)`` and ``(v, u)``, and keeps which is which in the sets
``directed_edges`` and ``undirected_edges`` (the latter with one orientation
per edge). pgmpy has no partial ancestral graphs, so a PAG cannot be
converted.

The node order is kept both ways: pgmpy's ``PDAG`` constructor builds its
graph from a set of edges, which would order the nodes by string hash, so
:func:`to_pgmpy` adds the nodes first and then the edges.

Examples
--------
>>> from mesalens.pipeline.graph import CausalGraph
>>> g = CausalGraph(["a", "b", "c"])
>>> g.add_edge("a", "b", "-->")
>>> g.add_edge("b", "c", "---")
>>> model = to_pgmpy(g)
>>> type(model).__name__, sorted(model.directed_edges), sorted(model.undirected_edges)
('PDAG', [('a', 'b')], [('b', 'c')])
>>> from_pgmpy(model) == g
True
"""

from __future__ import annotations

from typing import Any

from pgmpy.base import DAG, PDAG

from mesalens.pipeline.errors import GraphError
from mesalens.pipeline.formats.networkx import _name
from mesalens.pipeline.graph import CausalGraph

__all__ = ["from_pgmpy", "to_pgmpy"]


def to_pgmpy(graph: CausalGraph) -> DAG | PDAG:
    """Convert a DAG to a pgmpy ``DAG`` and a PDAG to a pgmpy ``PDAG``.

    Parameters
    ----------
    graph : CausalGraph
        An acyclic DAG or PDAG.

    Returns
    -------
    pgmpy.base.DAG or pgmpy.base.PDAG
        ``DAG`` when every edge is ``-->``, else ``PDAG``; nodes in
        ``graph.nodes`` order.

    Raises
    ------
    GraphError
        If ``graph`` is a PAG or has a directed cycle.
    """
    kind = graph.kind()
    if kind == "pag":
        graph.require_marks(("-->", "---"), "conversion to pgmpy")
    graph.require_acyclic()
    directed = [(e.u, e.v) for e in graph.edges() if e.kind == "-->"]
    if kind == "dag":
        dag = DAG()
        dag.add_nodes_from(graph.nodes)
        dag.add_edges_from(directed)
        return dag
    undirected = [(e.u, e.v) for e in graph.edges() if e.kind == "---"]
    pdag = PDAG()
    pdag.add_nodes_from(graph.nodes)
    for edge in graph.edges():
        pdag.add_edge(edge.u, edge.v)
        if edge.kind == "---":
            pdag.add_edge(edge.v, edge.u)
    pdag.directed_edges = set(directed)
    pdag.undirected_edges = set(undirected)
    return pdag


def from_pgmpy(model: Any) -> CausalGraph:
    """Convert a pgmpy ``DAG`` (or a Bayesian network) or ``PDAG``.

    Parameters
    ----------
    model : pgmpy.base.DAG or pgmpy.base.PDAG
        Latent nodes of a ``DAG`` are kept as ordinary nodes.

    Returns
    -------
    CausalGraph
        Nodes in pgmpy's order; edges in pgmpy's edge order.

    Raises
    ------
    GraphError
        If ``model`` is neither, a node is not a string or an integer, or a
        ``PDAG``'s ``directed_edges`` / ``undirected_edges`` do not match its
        edges.
    """
    if isinstance(model, PDAG):
        graph = CausalGraph(_name(node) for node in model.nodes)
        directed, undirected = set(model.directed_edges), set(model.undirected_edges)
        listed = set(directed)
        for u, v in undirected:
            listed.update(((u, v), (v, u)))
        actual = set(model.edges())
        if listed != actual:
            extra = sorted(map(repr, actual - listed))[:3]
            missing = sorted(map(repr, listed - actual))[:3]
            raise GraphError(
                "the PDAG's directed_edges and undirected_edges do not match its edges "
                f"(edges not listed: {', '.join(extra) or 'none'}; listed but absent: "
                f"{', '.join(missing) or 'none'}); call model.calibrate_directed_undirected_edges()"
            )
        for u, v in model.edges():
            if (u, v) in directed:
                if (v, u) in actual:
                    raise GraphError(
                        f"the PDAG lists {u!r} -> {v!r} as directed but also has {v!r} -> {u!r}; "
                        "call model.calibrate_directed_undirected_edges()"
                    )
                graph.add_edge(_name(u), _name(v), "-->")
            elif graph.mark(_name(u), _name(v)) is None:
                graph.add_edge(_name(u), _name(v), "---")
        return graph
    if isinstance(model, DAG):
        graph = CausalGraph(_name(node) for node in model.nodes)
        for u, v in model.edges():
            if model.has_edge(v, u):
                raise GraphError(
                    f"the pgmpy DAG has both {u!r} -> {v!r} and {v!r} -> {u!r}; a DAG has at "
                    "most one edge between two nodes"
                )
            graph.add_edge(_name(u), _name(v), "-->")
        return graph
    raise GraphError(
        f"expected a pgmpy DAG or PDAG but got {type(model).__name__}; convert a networkx "
        "graph with from_networkx instead"
    )
