"""Partially directed graphs: Meek's rules and consistent extensions.

A PDAG stands for the set of DAGs that *extend* it: DAGs with the same
skeleton and the same v-structures that keep every directed edge. CPDAGs
(Markov equivalence classes) and MPDAGs (classes with background knowledge)
are PDAGs closed under Meek's rules.

Meek's rules (Meek, UAI 1995) orient an undirected edge ``a --- b`` as
``a --> b`` when every extension must do so:

R1  ``c --> a --- b`` and ``c``, ``b`` not adjacent (else a new v-structure);
R2  ``a --> c --> b`` and ``a --- b`` (else a directed cycle);
R3  ``a --- c --> b``, ``a --- d --> b``, ``c``, ``d`` not adjacent (else R1/R2
    would force a cycle through ``a``);
R4  ``a --- d --> c --> b``, ``a`` adjacent to ``c``, ``d``, ``b`` not adjacent.

R1-R3 suffice for CPDAGs; R4 is needed with background knowledge. The
closure here is a worklist algorithm: orienting ``x --> y`` can only enable a
rule on an undirected edge that touches ``x`` or ``y`` (R1-R4), or on an edge
``u --- w`` with ``w`` a child of ``y`` and ``u --- x`` (R4), so only those are
re-examined.

Whether a PDAG has any extension at all is decided by the algorithm of Dor &
Tarsi ("A simple algorithm to construct a consistent extension of a partially
oriented graph", 1992): repeatedly remove a *sink candidate*, a node with no
outgoing directed edge whose undirected neighbours are adjacent to all its
other neighbours, orienting its undirected edges into it. The order of
removal yields one extension.

>>> g = Pdag(3)
>>> g.add_directed(0, 1); g.add_undirected(1, 2)
>>> meek_closure(g)
>>> sorted(g.children[1])
[2]
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from mesalens.pipeline.errors import GraphError, InconsistentGraphError
from mesalens.pipeline.graph import CausalGraph

__all__ = [
    "Pdag",
    "chain_components",
    "consistent_extension",
    "is_extendable",
    "meek_closure",
]


class Pdag:
    """An integer-indexed PDAG, the working form of :class:`CausalGraph` in algorithms.

    ``parents[i]``, ``children[i]`` and ``undirected[i]`` are sets of node
    indices; every edge is recorded at both ends.
    """

    __slots__ = ("children", "n", "parents", "undirected")

    def __init__(self, n: int):
        self.n = n
        self.parents: list[set[int]] = [set() for _ in range(n)]
        self.children: list[set[int]] = [set() for _ in range(n)]
        self.undirected: list[set[int]] = [set() for _ in range(n)]

    @classmethod
    def from_graph(cls, graph: CausalGraph) -> Pdag:
        """The PDAG of a :class:`CausalGraph` with only ``-->`` and ``---`` edges."""
        if graph.kind() == "pag":
            graph.require_marks(("-->", "---"), "this operation on DAGs and PDAGs")
        pdag = cls(len(graph.nodes))
        for i, j in graph.directed_index_edges():
            pdag.add_directed(i, j)
        for i, j in graph.undirected_index_edges():
            pdag.add_undirected(i, j)
        return pdag

    def to_graph(self, names: Iterable[str]) -> CausalGraph:
        """The :class:`CausalGraph` with these node names."""
        return CausalGraph.from_index_edges(
            names, directed=self.directed_edges(), undirected=self.undirected_edges()
        )

    def copy(self) -> Pdag:
        """An independent copy."""
        other = Pdag.__new__(Pdag)
        other.n = self.n
        other.parents = [set(s) for s in self.parents]
        other.children = [set(s) for s in self.children]
        other.undirected = [set(s) for s in self.undirected]
        return other

    def add_directed(self, i: int, j: int) -> None:
        """Add ``i --> j``."""
        self.children[i].add(j)
        self.parents[j].add(i)

    def add_undirected(self, i: int, j: int) -> None:
        """Add ``i --- j``."""
        self.undirected[i].add(j)
        self.undirected[j].add(i)

    def orient(self, i: int, j: int) -> None:
        """Turn the undirected edge ``i --- j`` into ``i --> j``."""
        self.undirected[i].discard(j)
        self.undirected[j].discard(i)
        self.children[i].add(j)
        self.parents[j].add(i)

    def remove_directed(self, i: int, j: int) -> None:
        """Remove ``i --> j``."""
        self.children[i].discard(j)
        self.parents[j].discard(i)

    def adjacent(self, i: int, j: int) -> bool:
        """Whether ``i`` and ``j`` share an edge of any kind."""
        return j in self.undirected[i] or j in self.children[i] or j in self.parents[i]

    def neighbours(self, i: int) -> set[int]:
        """Every node adjacent to ``i``."""
        return self.parents[i] | self.children[i] | self.undirected[i]

    def directed_edges(self) -> list[tuple[int, int]]:
        """Every ``i --> j`` as ``(i, j)``, sorted."""
        return sorted((i, j) for i in range(self.n) for j in self.children[i])

    def undirected_edges(self) -> list[tuple[int, int]]:
        """Every ``i --- j`` once as ``(i, j)`` with ``i < j``, sorted."""
        return sorted((i, j) for i in range(self.n) for j in self.undirected[i] if i < j)

    def has_undirected(self) -> bool:
        """Whether any edge is undirected (False for a DAG)."""
        return any(self.undirected)

    def orient_all_at(self, node: int, parents: Iterable[int]) -> None:
        """Orient every undirected edge at ``node``: in from ``parents``, out to the others."""
        chosen = set(parents)
        for other in list(self.undirected[node]):
            if other in chosen:
                self.orient(other, node)
            else:
                self.orient(node, other)

    def key(self) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]:
        """A hashable, canonical form (for tests and caches)."""
        return tuple(self.directed_edges()), tuple(self.undirected_edges())


def _meek_rule_applies(g: Pdag, a: int, b: int) -> bool:
    """Whether one of Meek's rules R1-R4 orients the undirected edge ``a --- b`` as ``a --> b``."""
    # R1: c --> a --- b with c, b not adjacent.
    for c in g.parents[a]:
        if not g.adjacent(c, b):
            return True
    # R2: a --> c --> b.
    if not g.children[a].isdisjoint(g.parents[b]):
        return True
    common = g.undirected[a] & g.parents[b]
    # R3: a --- c --> b and a --- d --> b with c, d not adjacent.
    if len(common) >= 2:
        ordered = sorted(common)
        for k, c in enumerate(ordered):
            for d in ordered[k + 1 :]:
                if not g.adjacent(c, d):
                    return True
    # R4: a --- d --> c --> b with a adjacent to c, d and b not adjacent.
    for c in g.parents[b]:
        if c == a or not g.adjacent(a, c):
            continue
        for d in g.parents[c] & g.undirected[a]:
            if not g.adjacent(d, b):
                return True
    return False


def meek_closure(g: Pdag, touched: Iterable[int] | None = None) -> None:
    """Close ``g`` in place under Meek's rules R1-R4.

    Parameters
    ----------
    g : Pdag
        The graph; it must have an extension (see :func:`is_extendable`) for
        the result to be meaningful.
    touched : iterable of int, optional
        When only the edges at these nodes changed since ``g`` was last
        closed, only the undirected edges near them are examined first (the
        worklist grows as orientations propagate). Default: every edge.
    """
    queue: deque[tuple[int, int]] = deque()
    queued: set[tuple[int, int]] = set()

    def push_edges_at(node: int) -> None:
        for other in g.undirected[node]:
            for pair in ((node, other), (other, node)):
                if pair not in queued:
                    queued.add(pair)
                    queue.append(pair)

    if touched is None:
        queue.extend((a, b) for a in range(g.n) for b in g.undirected[a])
        queued.update(queue)
    else:
        for i in touched:
            push_edges_at(i)
            for j in g.neighbours(i):
                push_edges_at(j)
    while queue:
        a, b = queue.popleft()
        queued.discard((a, b))
        if b not in g.undirected[a]:
            continue
        if _meek_rule_applies(g, a, b):
            g.orient(a, b)
            push_edges_at(a)
            push_edges_at(b)
            # R4 with the new edge as its d --> c: only u --- w with w a
            # child of b and u an undirected neighbour of both w and a.
            for w in g.children[b]:
                for u in g.undirected[w] & g.undirected[a]:
                    if (u, w) not in queued:
                        queued.add((u, w))
                        queue.append((u, w))


def _is_sink_candidate(g: Pdag, x: int, removed: list[bool]) -> bool:
    """Dor & Tarsi's test on the graph with the ``removed`` nodes deleted."""
    for c in g.children[x]:
        if not removed[c]:
            return False
    around = [y for y in g.neighbours(x) if not removed[y]]
    for y in g.undirected[x]:
        if removed[y]:
            continue
        for z in around:
            if z != y and not g.adjacent(y, z):
                return False
    return True


def consistent_extension(g: Pdag) -> list[int] | None:
    """A removal order of Dor & Tarsi's algorithm, or None if ``g`` has no extension.

    The returned list holds the nodes from the last sink to the first:
    reversed, it is a topological order of an extension (orient every
    undirected edge from the earlier to the later node of that order).
    """
    removed = [False] * g.n
    order: list[int] = []
    pending = deque(range(g.n))
    in_queue = [True] * g.n
    # Whether x is a sink candidate depends only on x's neighbourhood, so a
    # node that fails needs another look only after a neighbour is removed.
    while pending:
        x = pending.popleft()
        in_queue[x] = False
        if removed[x]:
            continue
        if _is_sink_candidate(g, x, removed):
            removed[x] = True
            order.append(x)
            for y in g.neighbours(x):
                if not removed[y] and not in_queue[y]:
                    in_queue[y] = True
                    pending.append(y)
    if len(order) != g.n:
        return None
    return order


def extension_dag(g: Pdag) -> Pdag:
    """One DAG extending ``g`` (raises :class:`InconsistentGraphError` if there is none)."""
    order = consistent_extension(g)
    if order is None:
        raise InconsistentGraphError("the partially directed graph has no consistent DAG extension")
    position = {node: k for k, node in enumerate(reversed(order))}
    dag = Pdag(g.n)
    for i, j in g.directed_edges():
        dag.add_directed(i, j)
    for i, j in g.undirected_edges():
        if position[i] < position[j]:
            dag.add_directed(i, j)
        else:
            dag.add_directed(j, i)
    return dag


def is_extendable(g: Pdag) -> bool:
    """Whether ``g`` has at least one consistent DAG extension."""
    return consistent_extension(g) is not None


def chain_components(g: Pdag) -> list[list[int]]:
    """The connected components of the undirected part, each sorted, in order of least node."""
    seen = [False] * g.n
    components = []
    for start in range(g.n):
        if seen[start]:
            continue
        seen[start] = True
        component = [start]
        stack = [start]
        while stack:
            x = stack.pop()
            for y in g.undirected[x]:
                if not seen[y]:
                    seen[y] = True
                    component.append(y)
                    stack.append(y)
        components.append(sorted(component))
    return components


def require_extendable(g: Pdag, names: tuple[str, ...]) -> None:
    """Raise :class:`InconsistentGraphError`, naming where it fails, if ``g`` has no extension."""
    order = consistent_extension(g)
    if order is not None:
        return
    cycle = g.to_graph(names).directed_cycle()
    if cycle is not None:
        raise GraphError(
            "the graph has a directed cycle " + " --> ".join(cycle) + "; "
            "a causal DAG or PDAG must be acyclic: reverse or remove one of these edges"
        )
    raise InconsistentGraphError(
        "the partially directed graph has no consistent DAG extension: every way of orienting "
        "its undirected edges creates a directed cycle or a v-structure the graph does not have "
        "(an undirected cycle of four or more nodes without a chord is the usual cause); "
        "check the graph, or orient some of its edges"
    )
