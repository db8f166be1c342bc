"""Convert between :class:`CausalGraph` and causal-learn's ``GeneralGraph``.

causal-learn's search algorithms (``pc``, ``fci``, ``ges``, ...) return a
:class:`causallearn.graph.GeneralGraph.GeneralGraph`, whose endpoint matrix
``G.graph`` stores, for every pair of nodes, the mark at each end:

    ``G.graph[i, j]`` is the mark at node ``i`` of the edge between ``i`` and ``j``,

coded as causal-learn's :class:`~causallearn.graph.Endpoint.Endpoint` values
(``-1`` tail, ``1`` arrow, ``2`` circle, ``0`` no edge). So

=====================================  ============
matrix                                 edge
=====================================  ============
``G[i, j] = -1``, ``G[j, i] = 1``      ``i --> j``
``G[i, j] = G[j, i] = -1``             ``i --- j``
``G[i, j] = G[j, i] = 1``              ``i <-> j``
``G[i, j] = 2``, ``G[j, i] = 1``       ``i o-> j``
``G[i, j] = G[j, i] = 2``              ``i o-o j``
=====================================  ============

(causal-learn's docs describe the directed case as ``G[j, i] = 1`` and
``G[i, j] = -1``: the same thing.) The other endpoint codes -- ``STAR``,
``NULL``, and ``TAIL_AND_ARROW`` / ``ARROW_AND_ARROW``, which causal-learn
uses for two edges between one pair -- have no counterpart here and are
refused with an error naming the pair.

causal-learn names nodes ``X1``, ``X2``, ... unless told otherwise; pass the
data's column names as ``names`` to :func:`from_causallearn` to get them back.

Examples
--------
>>> import numpy as np
>>> g = from_causallearn_matrix(np.array([[0, -1], [1, 0]]), ["rain", "wet"])
>>> [str(e) for e in g.edges()]
['rain --> wet']
>>> to_causallearn(g).graph.tolist()
[[0, -1], [1, 0]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from causallearn.graph.Edge import Edge as ClEdge
from causallearn.graph.Endpoint import Endpoint
from causallearn.graph.GeneralGraph import GeneralGraph
from causallearn.graph.GraphNode import GraphNode

from mesalens.pipeline.errors import GraphError
from mesalens.pipeline.graph import CausalGraph, Mark

__all__ = ["from_causallearn", "from_causallearn_matrix", "to_causallearn"]

_ENDPOINT_OF_MARK = {
    Mark.TAIL: Endpoint.TAIL,
    Mark.ARROW: Endpoint.ARROW,
    Mark.CIRCLE: Endpoint.CIRCLE,
}
_MARK_OF_CODE = {endpoint.value: mark for mark, endpoint in _ENDPOINT_OF_MARK.items()}


def to_causallearn(graph: CausalGraph) -> GeneralGraph:
    """Convert ``graph`` to a causal-learn ``GeneralGraph``.

    Parameters
    ----------
    graph : CausalGraph
        Any graph (DAG, PDAG or PAG).

    Returns
    -------
    causallearn.graph.GeneralGraph.GeneralGraph
        One ``GraphNode`` per node, named and ordered as ``graph.nodes``, so
        that index ``i`` of the endpoint matrix is ``graph.nodes[i]``.

    Raises
    ------
    GraphError
        If causal-learn refuses an edge (it should accept every kind).
    """
    nodes = [GraphNode(name) for name in graph.nodes]
    general = GeneralGraph(list(nodes))
    for edge in graph.edges():
        u, v, mark_u, mark_v = graph.index[edge.u], graph.index[edge.v], edge.mark_u, edge.mark_v
        if mark_u == Mark.CIRCLE and mark_v == Mark.TAIL:
            # GeneralGraph.add_edge silently drops "o--" but takes the same edge as "--o".
            u, v, mark_u, mark_v = v, u, mark_v, mark_u
        added = general.add_edge(
            ClEdge(nodes[u], nodes[v], _ENDPOINT_OF_MARK[mark_u], _ENDPOINT_OF_MARK[mark_v])
        )
        if added is False:  # causal-learn returns None on some successes
            raise GraphError(f"causal-learn's GeneralGraph refused the edge {edge}")
    return general


def _mark(code: Any, i: int, j: int, names: Sequence[str]) -> Mark:
    value = float(code)
    if value.is_integer() and int(value) in _MARK_OF_CODE:
        return _MARK_OF_CODE[int(value)]
    try:
        label = Endpoint(int(value)).name if value.is_integer() else repr(code)
    except ValueError:
        label = repr(code)
    raise GraphError(
        f"the edge between {names[i]!r} and {names[j]!r} has endpoint {label} (code {code}) "
        f"at {names[i]!r}; only TAIL (-1), ARROW (1) and CIRCLE (2) map to edge marks"
    )


def from_causallearn_matrix(matrix: Any, names: Sequence[str]) -> CausalGraph:
    """Build a graph from a causal-learn endpoint matrix.

    Parameters
    ----------
    matrix : array-like of shape (n, n)
        ``matrix[i, j]`` is the causal-learn endpoint code of the mark at node
        ``i`` of the edge between ``i`` and ``j`` (0 when not adjacent), as in
        ``GeneralGraph.graph``.
    names : sequence of str
        The ``n`` node names, in matrix order.

    Returns
    -------
    CausalGraph
        The graph, edges ordered by ``(i, j)`` with ``i < j``.

    Raises
    ------
    GraphError
        If the matrix is not square, does not match ``names``, has a non-zero
        diagonal, only one non-zero entry for a pair, or an endpoint code other
        than -1, 1 or 2.
    """
    array = np.asarray(matrix)
    names = list(names)
    if array.ndim != 2 or array.shape[0] != array.shape[1]:
        raise GraphError(f"a causal-learn endpoint matrix must be square; got shape {array.shape}")
    if array.shape[0] != len(names):
        raise GraphError(
            f"the endpoint matrix is {array.shape[0]} x {array.shape[1]} but {len(names)} names "
            "were given; pass one name per row"
        )
    graph = CausalGraph(names)
    for i in range(len(names)):
        if array[i, i] != 0:
            raise GraphError(
                f"the endpoint matrix has {array[i, i]} on the diagonal at {names[i]!r}; "
                "a causal graph has no self-loops"
            )
        for j in range(i + 1, len(names)):
            at_i, at_j = array[i, j], array[j, i]
            if at_i == 0 and at_j == 0:
                continue
            if at_i == 0 or at_j == 0:
                raise GraphError(
                    f"the endpoint matrix has a mark at only one end of the edge between "
                    f"{names[i]!r} and {names[j]!r} (G[i, j] = {at_i}, G[j, i] = {at_j}); "
                    "an edge needs a non-zero code at both ends"
                )
            graph.add_marked_edge(
                names[i], names[j], _mark(at_i, i, j, names), _mark(at_j, j, i, names)
            )
    return graph


def from_causallearn(
    general_graph: GeneralGraph, names: Sequence[str] | None = None
) -> CausalGraph:
    """Convert a causal-learn ``GeneralGraph`` to a :class:`CausalGraph`.

    Parameters
    ----------
    general_graph : causallearn.graph.GeneralGraph.GeneralGraph
        For example ``pc(data).G`` or ``fci(data)[0]``.
    names : sequence of str, optional
        Names for the nodes in causal-learn's node order, replacing
        causal-learn's own (``X1``, ``X2``, ... when the search was not given
        ``node_names``).

    Returns
    -------
    CausalGraph
        The graph, nodes in causal-learn's order.

    Raises
    ------
    GraphError
        If ``names`` has the wrong length, or an edge has an endpoint other
        than TAIL, ARROW or CIRCLE (the message names the edge).
    """
    own = general_graph.get_node_names()
    if names is None:
        names = own
    elif len(names) != len(own):
        raise GraphError(
            f"{len(names)} names were given for a causal-learn graph with {len(own)} nodes "
            f"({', '.join(own[:6])}{', ...' if len(own) > 6 else ''}); pass one name per node"
        )
    return from_causallearn_matrix(general_graph.graph, names)
