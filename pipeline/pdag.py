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

import itertools
from collections import Counter, deque
from collections.abc import Iterable
from typing import NamedTuple

from mesalens.pipeline.errors import GraphError, InconsistentGraphError
from mesalens.pipeline.graph import CausalGraph

__all__ = [
    "ChainStructure",
    "Pdag",
    "chain_components",
    "chain_structure",
    "closed_chordal_search",
    "consistent_extension",
    "is_closed_chordal_chain_graph",
    "is_extendable",
    "mcs_earlier_neighbours",
    "meek_closure",
    "orient_and_close",
    "undirected_components",
]


class Pdag:
    """An integer-indexed PDAG, the working form of :class:`CausalGraph` in algorithms.

    ``parents[i]``, ``children[i]`` and ``undirected[i]`` are sets of node
    indices; every edge is recorded at both ends. Change them only through
    the methods: they drop the cached :func:`chain_structure`.
    """

    __slots__ = ("_structure", "children", "n", "parents", "undirected")

    def __init__(self, n: int):
        self.n = n
        self._structure: ChainStructure | None = None
        self.parents: list[set[int]] = [set() for _ in range(n)]
        self.children: list[set[int]] = [set() for _ in range(n)]
        self.undirected: list[set[int]] = [set() for _ in range(n)]

    @classmethod
    def from_graph(
        cls, graph: CausalGraph, operation: str = "this operation on DAGs and PDAGs"
    ) -> Pdag:
        """The PDAG of a :class:`CausalGraph` with only ``-->`` and ``---`` edges.

        Raises
        ------
        GraphError
            Naming the first edge of another kind, and ``operation``.
        """
        arrows = graph.arrowheads()
        if arrows is None:
            graph.require_marks(("-->", "---"), operation)
        pdag = cls(len(graph.nodes))
        children, parents = pdag.children, pdag.parents
        for i, j in arrows:  # type: ignore[union-attr]
            children[i].add(j)
            parents[j].add(i)
        pdag.undirected = [graph.adjacency(i) - children[i] - parents[i] for i in range(pdag.n)]
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
        other._structure = self._structure  # immutable once computed
        return other

    @classmethod
    def from_sets(
        cls, parents: list[set[int]], children: list[set[int]], undirected: list[set[int]]
    ) -> Pdag:
        """A PDAG that takes ownership of these adjacency sets (consistent at both ends)."""
        pdag = cls.__new__(cls)
        pdag.n = len(parents)
        pdag.parents, pdag.children, pdag.undirected = parents, children, undirected
        pdag._structure = None
        return pdag

    def add_directed(self, i: int, j: int) -> None:
        """Add ``i --> j``."""
        self._structure = None
        self.children[i].add(j)
        self.parents[j].add(i)

    def add_undirected(self, i: int, j: int) -> None:
        """Add ``i --- j``."""
        self._structure = None
        self.undirected[i].add(j)
        self.undirected[j].add(i)

    def orient(self, i: int, j: int) -> None:
        """Turn the undirected edge ``i --- j`` into ``i --> j``."""
        self._structure = None
        self.undirected[i].discard(j)
        self.undirected[j].discard(i)
        self.children[i].add(j)
        self.parents[j].add(i)

    def remove_directed(self, i: int, j: int) -> None:
        """Remove ``i --> j``."""
        self._structure = None
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


# ------------------------------------------------------------ chain graphs
# A Meek-closed PDAG whose directed edges join different chain components
# (a chain graph) with chordal components and no induced ``c --> a --- b``
# is the common case (CPDAGs, and the MPDAGs of orienting every edge at one
# node of them, Hauser & Bühlmann, JMLR 2012). Its extensions are exactly the
# independent choices of one acyclic moral orientation (AMO) per component,
# so it needs neither Dor-Tarsi nor a full closure: the functions below
# recognise it in linear time with set operations, and keep it closed after
# the edges at one node are oriented.


class ChainStructure(NamedTuple):
    """The chain components of a PDAG and whether it is a chain graph over them."""

    components: list[set[int]]  # of the undirected part, in order of least node
    owner: list[int]  # the index of each node's component
    chain_graph: bool  # no directed edge inside a component, no directed cycle of them


def chain_structure(g: Pdag) -> ChainStructure:
    """The :class:`ChainStructure` of ``g``, cached on ``g`` until it changes."""
    if g._structure is not None:
        return g._structure
    undirected, children, parents = g.undirected, g.children, g.parents
    owner = [-1] * g.n
    components: list[set[int]] = []
    has_directed = any(children)
    chain_graph = True
    for start in range(g.n):
        if owner[start] >= 0:
            continue
        k = len(components)
        component = {start}
        frontier = undirected[start]
        if frontier:
            while frontier:
                component |= frontier
                reached: set[int] = set()
                for x in frontier:
                    reached |= undirected[x]
                frontier = reached - component
            for v in component:
                owner[v] = k
            if has_directed and chain_graph:
                chain_graph = all(children[v].isdisjoint(component) for v in component)
        else:
            owner[start] = k
        components.append(component)
    if chain_graph and has_directed:
        # Kahn's algorithm on the quotient graph, edges counted with multiplicity.
        indegree = [sum(map(len, map(parents.__getitem__, c))) for c in components]
        ready = [k for k, d in enumerate(indegree) if d == 0]
        done = 0
        while ready:
            k = ready.pop()
            done += 1
            for v in components[k]:
                for w in children[v]:
                    o = owner[w]
                    indegree[o] -= 1
                    if not indegree[o]:
                        ready.append(o)
        chain_graph = done == len(components)
    g._structure = ChainStructure(components, owner, chain_graph)
    return g._structure


def undirected_components(g: Pdag) -> list[set[int]]:
    """The connected components of the undirected part, as sets, in order of least node."""
    return chain_structure(g).components


def mcs_earlier_neighbours(
    g: Pdag, nodes: Iterable[int]
) -> tuple[list[int], dict[int, set[int]]] | None:
    """A maximum cardinality search of the undirected part among ``nodes``, if it is chordal.

    Returns the visit order and, per node, its undirected neighbours visited
    before it; None when the undirected part is not chordal. In an MCS order
    of a chordal graph the earlier neighbours of every node form a clique
    (Tarjan & Yannakakis, SIAM J. Comput. 1984), and the order is chordal
    exactly when, for every node, its earlier neighbours other than the
    latest one are all adjacent to that latest one. Orienting every edge
    from the earlier to the later node then gives an acyclic moral
    orientation of each component.
    """
    undirected = g.undirected
    pending = list(nodes)
    half_degrees = sum(map(len, map(undirected.__getitem__, pending)))
    if len(pending) ** 2 <= 8 * half_degrees:
        return _dense_mcs(undirected, pending)
    weight = dict.fromkeys(pending, 0)
    # by_weight[k] holds the unvisited nodes with k visited neighbours.
    by_weight: list[dict[int, None]] = [dict.fromkeys(pending)]
    position: dict[int, int] = {}
    order: list[int] = []
    earlier: dict[int, set[int]] = {}
    top = 0
    for _ in range(len(pending)):
        while not by_weight[top]:
            top -= 1
        v = next(iter(by_weight[top]))
        del by_weight[top][v]
        del weight[v]
        before = undirected[v] & position.keys()
        if len(before) > 1:
            latest = max(before, key=position.__getitem__)
            if not (before - undirected[latest]) <= {latest}:
                return None
        earlier[v] = before
        position[v] = len(order)
        order.append(v)
        for w in undirected[v] & weight.keys():
            k = weight[w]
            del by_weight[k][w]
            k += 1
            weight[w] = k
            if k == len(by_weight):
                by_weight.append({})
            by_weight[k][w] = None
            if k > top:
                top = k
    return order, earlier


def _dense_mcs(
    undirected: list[set[int]], pending: list[int]
) -> tuple[list[int], dict[int, set[int]]] | None:
    """:func:`mcs_earlier_neighbours` for dense graphs: a C-level scan per step beats buckets."""
    weight: Counter[int] = Counter(dict.fromkeys(pending, 0))
    unvisited = set(pending)
    visited: set[int] = set()
    position: dict[int, int] = {}
    order: list[int] = []
    earlier: dict[int, set[int]] = {}
    for _ in range(len(pending)):
        v = max(unvisited, key=weight.__getitem__)
        unvisited.discard(v)
        around = undirected[v]
        before = around & visited
        if len(before) > 1:
            latest = max(before, key=position.__getitem__)
            if not (before - undirected[latest]) <= {latest}:
                return None
        earlier[v] = before
        position[v] = len(order)
        order.append(v)
        visited.add(v)
        weight.update(around & unvisited)
    return order, earlier


def _no_r1(g: Pdag, nodes: Iterable[int] | None = None) -> bool:
    """Whether no induced ``c --> a --- b`` exists (Meek's R1 applies nowhere).

    In a chain graph (:attr:`ChainStructure.chain_graph`) Meek's R2-R4
    cannot apply: each needs a directed path leaving and re-entering one
    chain component. There, this is closedness under R1-R4. With ``nodes``,
    only those are checked as ``a``.
    """
    children, parents, undirected = g.children, g.parents, g.undirected
    adjacent: dict[int, set[int]] = {}
    for v in range(g.n) if nodes is None else nodes:
        around = undirected[v]
        if around and parents[v]:
            for c in parents[v]:
                # Every parent of v is adjacent to all of v's siblings.
                near = adjacent.get(c)
                if near is None:
                    near = adjacent[c] = undirected[c] | children[c] | parents[c]
                if not around <= near:
                    return False
    return True


def is_closed_chordal_chain_graph(g: Pdag) -> bool:
    """Whether ``g`` is Meek-closed, a chain graph, and has chordal chain components.

    Such a PDAG always has an extension: any acyclic moral orientation of
    each component, combined, is one (no component edge can form a new
    v-structure with a directed edge, since R1 does not apply). CPDAGs are
    of this form; a ``False`` means only that the general algorithms
    (:func:`meek_closure`, :func:`consistent_extension`) are needed.
    """
    return closed_chordal_search(g) is not None


def closed_chordal_search(g: Pdag) -> dict[int, set[int]] | None:
    """An MCS of ``g`` (earlier neighbours) if :func:`is_closed_chordal_chain_graph`, else None.

    The search orients every chain component of ``g``, and of every graph
    that refines ``g`` into a chain graph, acyclically and without
    v-structures (a perfect elimination order stays one on induced subgraphs).
    """
    if not (chain_structure(g).chain_graph and _no_r1(g)):
        return None
    search = mcs_earlier_neighbours(g, range(g.n))
    return None if search is None else search[1]


def orient_and_close(g: Pdag, node: int, parents: Iterable[int]) -> bool:
    """Orient every edge at ``node`` (in from ``parents``) and close ``g`` under Meek's rules.

    For ``g`` a closed chordal chain graph (:func:`is_closed_chordal_chain_graph`)
    and ``parents`` a clique of ``node``'s undirected neighbours, the result
    has an extension, and rules R1 and R2 propagated from the new edges
    close it (checked afterwards: the result must be a chain graph, and R1
    must not apply at any node that gained a parent). ``g`` must be closed.
    Otherwise the full :func:`meek_closure` finishes the job. Returns whether
    the result is known to be a closed chain graph (with chordal components
    when ``g`` had them).
    """
    undirected, children, parents_of = g.undirected, g.children, g.parents
    g._structure = None
    chosen = set(parents)
    work: list[tuple[int, int]] = []
    for other in list(undirected[node]):
        edge = (other, node) if other in chosen else (node, other)
        work.append(edge)
    # R1 can only have become applicable at a node that gained a parent.
    heads = {b for _, b in work}
    for a, b in work:
        undirected[a].discard(b)
        undirected[b].discard(a)
        children[a].add(b)
        parents_of[b].add(a)
    while work:
        a, b = work.pop()
        # R1 with a --> b as the directed edge: b --- y, y not adjacent to a.
        loose = undirected[b] - undirected[a] - children[a] - parents_of[a]
        # R2 with a --> b first: a --> b --> c and a --- c, so a --> c.
        ahead = children[b] & undirected[a]
        # R2 with a --> b second: c --> a --> b and c --- b, so c --> b.
        behind = parents_of[a] & undirected[b]
        for x, y in itertools.chain(
            zip(itertools.repeat(b), loose),
            zip(itertools.repeat(a), ahead),
            zip(behind, itertools.repeat(b)),
        ):
            if y in undirected[x]:
                undirected[x].discard(y)
                undirected[y].discard(x)
                children[x].add(y)
                parents_of[y].add(x)
                work.append((x, y))
                heads.add(y)
    if chain_structure(g).chain_graph and _no_r1(g, heads):
        return True
    meek_closure(g)
    return False
