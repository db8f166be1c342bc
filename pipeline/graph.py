"""The one graph representation of mesalens: a mixed graph with endpoint marks.

Every causal graph the tool handles is a set of named nodes and at most one
edge between any two of them, each edge carrying a *mark* at each end:

=========  ==============  =====================================
edge       marks (u, v)    meaning
=========  ==============  =====================================
``u --> v``  tail, arrow     u causes v (DAG, CPDAG, MPDAG, PAG)
``u --- v``  tail, tail      orientation unknown (CPDAG, MPDAG)
``u <-> v``  arrow, arrow    latent confounding (PAG, MAG)
``u o-> v``  circle, arrow   PAG: v is not an ancestor of u
``u o-o v``  circle, circle  PAG: nothing known about the marks
=========  ==============  =====================================

A graph whose edges are all ``-->`` is a DAG when it is acyclic; with ``---``
edges too it is a PDAG (CPDAGs and MPDAGs are PDAGs); with ``<->``, ``o->`` or
``o-o`` it is a PAG or MAG. :meth:`CausalGraph.kind` reports which.

The algorithms in :mod:`mesalens.pipeline` work on integer indices: node ``i``
is ``graph.nodes[i]``. Readers and writers for foreign formats live in
:mod:`mesalens.pipeline.formats`, one module per format.

Examples
--------
>>> g = CausalGraph(["regime", "coin", "value"])
>>> g.add_edge("regime", "coin", "-->")
>>> g.add_edge("coin", "value", "---")
>>> g.kind()
'pdag'
>>> [str(e) for e in g.edges()]
['regime --> coin', 'coin --- value']
"""

from __future__ import annotations

import enum
import itertools
import operator
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from mesalens.pipeline.errors import GraphError

__all__ = ["EDGE_KINDS", "CausalGraph", "Edge", "Mark"]


class Mark(enum.Enum):
    """The mark at one end of an edge."""

    TAIL = "-"
    ARROW = ">"
    CIRCLE = "o"


# The textual edge kinds, as written between the two node names, with the
# marks they put at the (left, right) ends.
EDGE_KINDS: dict[str, tuple[Mark, Mark]] = {
    "-->": (Mark.TAIL, Mark.ARROW),
    "<--": (Mark.ARROW, Mark.TAIL),
    "---": (Mark.TAIL, Mark.TAIL),
    "<->": (Mark.ARROW, Mark.ARROW),
    "o->": (Mark.CIRCLE, Mark.ARROW),
    "<-o": (Mark.ARROW, Mark.CIRCLE),
    "o-o": (Mark.CIRCLE, Mark.CIRCLE),
    "--o": (Mark.TAIL, Mark.CIRCLE),
    "o--": (Mark.CIRCLE, Mark.TAIL),
}
_KIND_OF_MARKS = {marks: kind for kind, marks in EDGE_KINDS.items()}


@dataclass(frozen=True)
class Edge:
    """One edge with its marks: ``mark_u`` sits at ``u``'s end, ``mark_v`` at ``v``'s."""

    u: str
    v: str
    mark_u: Mark
    mark_v: Mark

    @property
    def kind(self) -> str:
        """The edge as text between its nodes, e.g. ``"-->"``."""
        return _KIND_OF_MARKS[(self.mark_u, self.mark_v)]

    def __str__(self) -> str:
        return f"{self.u} {self.kind} {self.v}"


class CausalGraph:
    """A DAG, PDAG (CPDAG/MPDAG) or PAG over named nodes, with endpoint marks.

    Parameters
    ----------
    nodes : iterable of str
        The node names, in a fixed order (the order is part of the graph: it
        fixes the integer indices and every output order, so results are
        deterministic). Names may contain any character; they must be unique.

    Raises
    ------
    GraphError
        If a node name is duplicated or empty.
    """

    def __init__(self, nodes: Iterable[str]):
        self.nodes: tuple[str, ...] = tuple(nodes)
        self.index: dict[str, int] = {}
        for i, name in enumerate(self.nodes):
            if not isinstance(name, str) or name == "":
                raise GraphError(f"node names must be non-empty strings; got {name!r}")
            if name in self.index:
                raise GraphError(
                    f"duplicate node name {name!r}: every node must have a unique name"
                )
            self.index[name] = i
        # _marks[(i, j)] is the mark at j's end of the edge between i and j;
        # both (i, j) and (j, i) are present for every edge.
        self._marks: dict[tuple[int, int], Mark] = {}
        self._adjacent: list[set[int]] = [set() for _ in self.nodes]
        # Edge insertion order, so that edges() is deterministic.
        self._order: dict[frozenset[int], int] = {}

    # ------------------------------------------------------------------ building
    def add_edge(self, u: str, v: str, kind: str = "-->") -> None:
        """Add the edge ``u kind v``, e.g. ``add_edge("a", "b", "o->")``.

        Raises
        ------
        GraphError
            If a node is unknown, ``u == v``, the kind is not one of
            :data:`EDGE_KINDS`, or ``u`` and ``v`` are already adjacent.
        """
        if kind not in EDGE_KINDS:
            raise GraphError(
                f"unknown edge kind {kind!r} between {u!r} and {v!r}; "
                f"use one of {', '.join(EDGE_KINDS)}"
            )
        mark_u, mark_v = EDGE_KINDS[kind]
        self.add_marked_edge(u, v, mark_u, mark_v)

    def add_marked_edge(self, u: str, v: str, mark_u: Mark, mark_v: Mark) -> None:
        """Add an edge between ``u`` and ``v`` with the given end marks."""
        i, j = self._node_index(u), self._node_index(v)
        if i == j:
            raise GraphError(
                f"self-loop at {u!r}: a causal graph has no edge from a node to itself"
            )
        if j in self._adjacent[i]:
            raise GraphError(
                f"{u!r} and {v!r} are already adjacent ({self.edge(u, v)}); "
                "a causal graph has at most one edge between two nodes"
            )
        self._set(i, j, mark_u, mark_v)
        self._order[frozenset((i, j))] = len(self._order)

    def remove_edge(self, u: str, v: str) -> None:
        """Remove the edge between ``u`` and ``v`` (an error if there is none)."""
        i, j = self._node_index(u), self._node_index(v)
        if j not in self._adjacent[i]:
            raise GraphError(f"there is no edge between {u!r} and {v!r} to remove")
        del self._marks[(i, j)], self._marks[(j, i)]
        self._adjacent[i].discard(j)
        self._adjacent[j].discard(i)
        del self._order[frozenset((i, j))]

    def _set(self, i: int, j: int, mark_i: Mark, mark_j: Mark) -> None:
        self._marks[(j, i)] = mark_i
        self._marks[(i, j)] = mark_j
        self._adjacent[i].add(j)
        self._adjacent[j].add(i)

    def copy(self) -> CausalGraph:
        """Return an independent copy."""
        other = CausalGraph(self.nodes)
        other._marks = dict(self._marks)
        other._adjacent = [set(a) for a in self._adjacent]
        other._order = dict(self._order)
        return other

    @classmethod
    def from_index_edges(
        cls,
        nodes: Iterable[str],
        directed: Iterable[tuple[int, int]] = (),
        undirected: Iterable[tuple[int, int]] = (),
    ) -> CausalGraph:
        """Build a PDAG from integer edges: ``(i, j)`` in ``directed`` is ``i --> j``."""
        graph = cls(nodes)
        for i, j in directed:
            graph._add_index_edge(i, j, Mark.TAIL, Mark.ARROW)
        for i, j in undirected:
            graph._add_index_edge(i, j, Mark.TAIL, Mark.TAIL)
        return graph

    def _add_index_edge(self, i: int, j: int, mark_i: Mark, mark_j: Mark) -> None:
        if i == j or j in self._adjacent[i]:
            self.add_marked_edge(self.nodes[i], self.nodes[j], mark_i, mark_j)  # raises
        self._set(i, j, mark_i, mark_j)
        self._order[frozenset((i, j))] = len(self._order)

    # ------------------------------------------------------------------ queries
    def _node_index(self, name: str) -> int:
        try:
            return self.index[name]
        except KeyError:
            raise GraphError(f"unknown node {name!r}; the graph has {self._names_hint()}") from None

    def _names_hint(self) -> str:
        shown = ", ".join(repr(n) for n in self.nodes[:12])
        more = f", ... ({len(self.nodes)} in all)" if len(self.nodes) > 12 else ""
        return f"nodes {shown}{more}" if self.nodes else "no nodes"

    def __contains__(self, name: object) -> bool:
        return name in self.index

    def __len__(self) -> int:
        return len(self.nodes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CausalGraph):
            return NotImplemented
        return set(self.nodes) == set(other.nodes) and set(self._named_marks()) == set(
            other._named_marks()
        )

    __hash__ = None  # mutable

    def _named_marks(self) -> Iterator[tuple[str, str, Mark]]:
        for (i, j), mark in self._marks.items():
            yield self.nodes[i], self.nodes[j], mark

    def mark(self, u: str, v: str) -> Mark | None:
        """The mark at ``v``'s end of the edge ``u ? v``, or None when not adjacent."""
        return self._marks.get((self._node_index(u), self._node_index(v)))

    def mark_at(self, i: int, j: int) -> Mark | None:
        """Index form of :meth:`mark`."""
        return self._marks.get((i, j))

    def edge(self, u: str, v: str) -> Edge | None:
        """The edge between ``u`` and ``v`` as seen from ``u``, or None."""
        i, j = self._node_index(u), self._node_index(v)
        if j not in self._adjacent[i]:
            return None
        return Edge(u, v, self._marks[(j, i)], self._marks[(i, j)])

    def adjacent(self, name: str) -> list[str]:
        """The nodes adjacent to ``name``, in node order."""
        return [self.nodes[j] for j in sorted(self._adjacent[self._node_index(name)])]

    def adjacency(self, i: int) -> set[int]:
        """Index form of :meth:`adjacent` (the live set: do not modify)."""
        return self._adjacent[i]

    def edges(self) -> list[Edge]:
        """All edges, in insertion order, directed ones from tail to head."""
        result = []
        for pair in sorted(self._order, key=self._order.__getitem__):
            i, j = sorted(pair)
            mark_i, mark_j = self._marks[(j, i)], self._marks[(i, j)]
            if mark_i == Mark.ARROW and mark_j != Mark.ARROW:
                i, j, mark_i, mark_j = j, i, mark_j, mark_i
            elif mark_i == Mark.CIRCLE and mark_j == Mark.TAIL:
                i, j, mark_i, mark_j = j, i, mark_j, mark_i
            result.append(Edge(self.nodes[i], self.nodes[j], mark_i, mark_j))
        return result

    def number_of_edges(self) -> int:
        """How many edges the graph has."""
        return len(self._order)

    def directed_index_edges(self) -> list[tuple[int, int]]:
        """Every ``i --> j`` edge as an index pair."""
        return [
            (i, j)
            for (i, j), mark in self._marks.items()
            if mark == Mark.ARROW and self._marks[(j, i)] == Mark.TAIL
        ]

    def undirected_index_edges(self) -> list[tuple[int, int]]:
        """Every ``i --- j`` edge once, as an index pair with ``i < j``."""
        return [
            (i, j)
            for (i, j), mark in self._marks.items()
            if i < j and mark == Mark.TAIL and self._marks[(j, i)] == Mark.TAIL
        ]

    def arrowheads(self) -> list[tuple[int, int]] | None:
        """Every ``(i, j)`` with an arrowhead at ``j``; None when an edge is not ``-->`` or ``---``.

        With only ``-->`` and ``---`` edges, these are the directed edges and
        every other edge is undirected. The scan of the marks runs in C
        (``map`` and ``compress`` over the mark table): reading a CPDAG of
        10^4 edges must not cost more than counting its DAGs.
        """
        marks = self._marks  # (i, j) -> the mark at j's end, both ways for every edge
        if any(map(operator.is_, marks.values(), itertools.repeat(Mark.CIRCLE))):
            return None
        arrows = list(
            itertools.compress(
                marks.keys(), map(operator.is_, marks.values(), itertools.repeat(Mark.ARROW))
            )
        )
        reversed_arrows = zip(
            map(operator.itemgetter(1), arrows), map(operator.itemgetter(0), arrows), strict=True
        )
        if not set(arrows).isdisjoint(reversed_arrows):
            return None  # an arrowhead at both ends: <->
        return arrows

    def kind(self) -> str:
        """``"dag"``, ``"pdag"`` (some ``---``) or ``"pag"`` (some ``<->``, ``o``).

        A graph with only ``-->`` edges is reported as ``"dag"`` even when it
        has a cycle: :meth:`require_acyclic` checks that.
        """
        heads = self.arrowheads()
        if heads is None:
            return "pag"
        # Only --> and --- are left, and each --> has one arrowhead.
        return "dag" if len(heads) == len(self._order) else "pdag"

    def require_marks(self, allowed: Iterable[str], operation: str) -> None:
        """Raise :class:`GraphError` naming the first edge whose kind is not allowed."""
        allowed_marks = {EDGE_KINDS[k] for k in allowed}
        allowed_marks |= {(b, a) for a, b in allowed_marks}
        for edge in self.edges():
            if (edge.mark_u, edge.mark_v) not in allowed_marks:
                raise GraphError(
                    f"edge {edge} has marks that {operation} does not support; "
                    f"it accepts only {', '.join(sorted(set(allowed)))} edges"
                )

    def directed_cycle(self) -> list[str] | None:
        """A directed cycle through ``-->`` edges as node names, or None if there is none."""
        children: list[list[int]] = [[] for _ in self.nodes]
        for i, j in self.directed_index_edges():
            children[i].append(j)
        for lst in children:
            lst.sort()
        state = [0] * len(self.nodes)  # 0 new, 1 on stack, 2 done
        for root in range(len(self.nodes)):
            if state[root]:
                continue
            stack: list[tuple[int, Iterator[int]]] = [(root, iter(children[root]))]
            path = [root]
            state[root] = 1
            while stack:
                node, it = stack[-1]
                nxt = next(it, None)
                if nxt is None:
                    stack.pop()
                    path.pop()
                    state[node] = 2
                elif state[nxt] == 1:
                    cycle = [*path[path.index(nxt) :], nxt]
                    return [self.nodes[k] for k in cycle]
                elif state[nxt] == 0:
                    state[nxt] = 1
                    path.append(nxt)
                    stack.append((nxt, iter(children[nxt])))
        return None

    def require_acyclic(self) -> None:
        """Raise :class:`GraphError` naming a directed cycle if there is one."""
        cycle = self.directed_cycle()
        if cycle is not None:
            raise GraphError(
                "the graph has a directed cycle " + " --> ".join(cycle) + "; "
                "a causal DAG or PDAG must be acyclic: reverse or remove one of these edges"
            )

    def __repr__(self) -> str:
        return (
            f"CausalGraph({len(self.nodes)} nodes, {self.number_of_edges()} edges, {self.kind()})"
        )
