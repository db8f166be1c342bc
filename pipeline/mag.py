"""Maximal ancestral graphs (MAGs): m-separation, one MAG of a PAG, all MAGs of a PAG.

A DAG over observed *and* latent variables, marginalised to the observed
ones, is represented by a **maximal ancestral graph** (Richardson & Spirtes,
Ann. Stat. 2002): a mixed graph with directed edges ``a --> b`` (``a`` is an
ancestor of ``b``) and bidirected edges ``a <-> b`` (neither is an ancestor
of the other: a latent common cause). It is

* *ancestral*: no directed cycle and no *almost directed cycle* (``a <-> b``
  while ``a`` is an ancestor of ``b``), and
* *maximal*: every two non-adjacent nodes are m-separated by some set.

(Selection bias, which would add undirected edges, is assumed absent.)

**m-separation** generalises d-separation to mixed graphs: a path is
m-connecting given ``Z`` when every *collider* on it (a node with an arrowhead
on both of its path edges, ``*-> v <-*``) is an ancestor of ``Z`` (or in it)
and every other node on it is outside ``Z``. The test here is Bayes-Ball over
the states (node, whether it was entered through an arrowhead), as
:mod:`mesalens.pipeline.dsep` does for DAGs.

Markov equivalent MAGs form a class, which FCI learns as a **PAG** (partial
ancestral graph): the marks shared by every MAG of the class are shown, the
others are circles ``o``. Two MAGs are Markov equivalent exactly when they
have the same adjacencies, the same unshielded colliders, and the same
collider status of every node on a path that is *discriminating* for it in
both (Spirtes & Richardson, AISTATS 1996; Ali, Richardson & Spirtes,
Ann. Stat. 2009).

**One MAG of a PAG** (Zhang, "On the completeness of orientation rules for
causal discovery in the presence of latent confounders and selection bias",
Artificial Intelligence 2008, Theorem 2): orient every ``o->`` as ``-->``, and
orient the circle component (the ``o-o`` edges, a chordal graph in a valid
PAG) as a DAG without unshielded colliders. A maximum cardinality search
order does the latter: in it the earlier neighbours of every node form a
clique (Tarjan & Yannakakis, SIAM J. Comput. 1984), so orienting each edge
from the earlier to the later end makes no unshielded collider.

**All MAGs of a PAG**: :func:`iter_mags` is an orientation search over the
circle marks (each becomes a tail or an arrowhead, never a tail at both
ends), pruned as soon as a partial orientation has a directed or almost
directed cycle or an unshielded collider the class does not have; a complete
orientation is kept when it is maximal and Markov equivalent to Zhang's MAG.
It lists the same set as the algorithm of Wang, Du & Zhou (ICML 2024,
"Characterising the Markov equivalence class of MAGs") — the tests prove it
against brute force on small PAGs — but in exponential worst-case time, so
it has a budget (:data:`MAX_SEARCH_STEPS`).

**The soft intervention in a MAG** (:func:`sigma_mag`): a policy that reads
``inputs`` replaces the mechanism of each decision ``D``: every edge with an
arrowhead at ``D`` (``p --> D`` and ``p <-> D``: its parents and its latent
confounding) is removed and ``p --> D`` is added for every input ``p``. When
that makes a directed cycle (an input is a descendant of ``D``) the policy is
impossible in that MAG. An *almost* directed cycle is no impossibility:
``p <-> q`` with ``q`` a descendant of ``D`` says a latent variable confounds
``p`` and ``q``, and reading ``p`` makes ``p`` an ancestor of ``q``. The
intervened graph is then an acyclic directed mixed graph that is not
ancestral, and m-separation in it is d-separation in its canonical DAG (each
``<->`` a latent common parent; Richardson, Scand. J. Stat. 2003). This is
the construction of ``spec/criterion.md``; no published calculus proves it
complete for MAGs, so verdicts built on it are sound approximations.

>>> g = CausalGraph(["s", "m", "b"])
>>> g.add_edge("s", "m", "-->"); g.add_edge("m", "b", "<->")
>>> m_connecting_path(g, {"s"}, {"b"}, {"m"})
['s', 'm', 'b']
>>> m_connecting_path(g, {"s"}, {"b"}, set()) is None
True
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import networkx as nx

from mesalens.pipeline.dsep import cut_loops, walk_back
from mesalens.pipeline.errors import ClassTooLargeError, GraphError
from mesalens.pipeline.graph import CausalGraph, Mark

__all__ = [
    "MAX_SEARCH_STEPS",
    "MixedGraph",
    "ancestral_violation",
    "chordless_cycle",
    "count_circles",
    "is_m_separated",
    "is_maximal",
    "iter_mags",
    "m_connecting_indices",
    "m_connecting_path",
    "markov_equivalent",
    "maximality_gaps",
    "mcs_order",
    "pag_to_mag",
    "sigma_mag",
    "zhang_mag",
]

#: What to do about an invalid PAG. FCI on finite data can return one (its
#: tests contradict each other), and running it again gives the same graph.
_INVALID_PAG_ADVICE = (
    "fix these edges in the PAG file (a PAG that `mesalens run --method fci` learns is "
    "repaired when its CI tests contradict each other, see pipeline/pag_repair.py)"
)

TAIL, ARROW, CIRCLE = Mark.TAIL, Mark.ARROW, Mark.CIRCLE

# How many partial orientations the MAG search may visit before it stops
# with advice (each costs a cycle test; 200,000 take a few seconds).
MAX_SEARCH_STEPS = 200_000


class MixedGraph:
    """An index-based mixed graph: ``mark[(i, j)]`` is the mark at ``j``'s end of edge ``i, j``.

    Parameters
    ----------
    n : int
        The number of nodes, ``0 .. n - 1``.
    """

    def __init__(self, n: int):
        self.n = n
        self.adj: list[set[int]] = [set() for _ in range(n)]
        self.mark: dict[tuple[int, int], Mark] = {}

    @classmethod
    def from_graph(cls, graph: CausalGraph) -> MixedGraph:
        """The index form of ``graph`` (node ``i`` is ``graph.nodes[i]``)."""
        g = cls(len(graph.nodes))
        for i in range(g.n):
            for j in graph.adjacency(i):
                g.adj[i].add(j)
                g.mark[(i, j)] = graph.mark_at(i, j)  # type: ignore[assignment]
        return g

    def to_graph(self, names: tuple[str, ...]) -> CausalGraph:
        """The named form, edges in index order."""
        graph = CausalGraph(names)
        for i in range(self.n):
            for j in sorted(self.adj[i]):
                if i < j:
                    graph.add_marked_edge(names[i], names[j], self.mark[(j, i)], self.mark[(i, j)])
        return graph

    def copy(self) -> MixedGraph:
        """An independent copy."""
        other = MixedGraph(self.n)
        other.adj = [set(a) for a in self.adj]
        other.mark = dict(self.mark)
        return other

    def set_edge(self, i: int, j: int, mark_i: Mark, mark_j: Mark) -> None:
        """Add or overwrite the edge ``i, j``: ``mark_i`` at ``i``, ``mark_j`` at ``j``."""
        self.adj[i].add(j)
        self.adj[j].add(i)
        self.mark[(j, i)] = mark_i
        self.mark[(i, j)] = mark_j

    def remove_edge(self, i: int, j: int) -> None:
        """Remove the edge between ``i`` and ``j``."""
        self.adj[i].discard(j)
        self.adj[j].discard(i)
        del self.mark[(i, j)], self.mark[(j, i)]

    def is_directed(self, i: int, j: int) -> bool:
        """Whether ``i --> j``."""
        return self.mark.get((i, j)) == ARROW and self.mark[(j, i)] == TAIL

    def parents(self, j: int) -> list[int]:
        """The ``i`` with ``i --> j``, sorted."""
        return sorted(i for i in self.adj[j] if self.is_directed(i, j))

    def children(self, i: int) -> list[int]:
        """The ``j`` with ``i --> j``, sorted."""
        return sorted(j for j in self.adj[i] if self.is_directed(i, j))

    def ancestors(self, nodes: Iterable[int]) -> set[int]:
        """The nodes with a directed path into ``nodes``, ``nodes`` included."""
        found = set(nodes)
        stack = list(found)
        while stack:
            v = stack.pop()
            for p in self.adj[v]:
                if p not in found and self.is_directed(p, v):
                    found.add(p)
                    stack.append(p)
        return found


# ------------------------------------------------------------------ m-separation
def m_connecting_indices(g: MixedGraph, x: set[int], y: set[int], z: set[int]) -> list[int] | None:
    """A simple m-connecting path from ``x`` to ``y`` given ``z`` (indices), or None."""
    open_colliders = g.ancestors(z)
    # A state is (node, entered through an arrowhead); sources are entered by none.
    came_from: dict[tuple[int, bool], tuple[int, bool] | None] = {}
    queue: deque[tuple[int, bool]] = deque()
    for source in sorted(x):
        came_from[(source, False)] = None
        queue.append((source, False))
    found = None
    while queue:
        state = queue.popleft()
        v, into = state
        if v in y:
            found = state
            break
        for w in sorted(g.adj[v]):
            collider = into and g.mark[(w, v)] == ARROW
            if (v in open_colliders) if collider else (v not in z):
                nxt = (w, g.mark[(v, w)] == ARROW)
                if nxt not in came_from:
                    came_from[nxt] = state
                    queue.append(nxt)
    if found is None:
        return None
    path = cut_loops(walk_back(came_from, found))
    if _is_m_connecting(g, path, z, open_colliders):
        return path
    # Cutting a loop can turn an open collider into a closed non-collider in
    # a mixed graph; a connecting path exists (the walk proves it), so search
    # the simple paths for one, shortest first.
    return _simple_connecting_path(g, x, y, z, open_colliders)


def _is_m_connecting(g: MixedGraph, path: list[int], z: set[int], open_colliders: set[int]) -> bool:
    if len(set(path)) != len(path):
        return False
    if path[0] in z or path[-1] in z:
        return False
    for a, v, b in zip(path, path[1:], path[2:], strict=False):
        collider = g.mark[(a, v)] == ARROW and g.mark[(b, v)] == ARROW
        if (v not in open_colliders) if collider else (v in z):
            return False
    return True


def _simple_connecting_path(
    g: MixedGraph, x: set[int], y: set[int], z: set[int], open_colliders: set[int]
) -> list[int] | None:
    """The first m-connecting simple path in breadth-first order (short paths first)."""
    queue = deque([source] for source in sorted(x))
    while queue:
        path = queue.popleft()
        for w in sorted(g.adj[path[-1]]):
            if w in path:
                continue
            if len(path) >= 2:
                a, v = path[-2], path[-1]
                collider = g.mark[(a, v)] == ARROW and g.mark[(w, v)] == ARROW
                if (v not in open_colliders) if collider else (v in z):
                    continue
            if w in y:
                return [*path, w]
            if w not in z or w in open_colliders:
                queue.append([*path, w])
    return None


def m_connecting_path(
    graph: CausalGraph, x: Iterable[str], y: Iterable[str], z: Iterable[str]
) -> list[str] | None:
    """A simple path from ``x`` to ``y`` that is m-connecting given ``z``, or None if separated.

    Parameters
    ----------
    graph : CausalGraph
        A DAG or an ancestral graph (``-->`` and ``<->`` edges).
    x, y, z : iterable of str
        Disjoint sets of node names.

    Returns
    -------
    list of str or None
        The path's nodes from a node of ``x`` to one of ``y``.

    Raises
    ------
    GraphError
        If ``graph`` has circle or undirected marks.
    """
    graph.require_marks(("-->", "<->"), "m-separation (ancestral graphs)")
    g = MixedGraph.from_graph(graph)
    idx = graph.index
    path = m_connecting_indices(g, {idx[v] for v in x}, {idx[v] for v in y}, {idx[v] for v in z})
    return None if path is None else [graph.nodes[i] for i in path]


def is_m_separated(
    graph: CausalGraph, x: Iterable[str], y: Iterable[str], z: Iterable[str]
) -> bool:
    """Whether ``x`` and ``y`` are m-separated given ``z`` (see :func:`m_connecting_path`)."""
    return m_connecting_path(graph, x, y, z) is None


# ------------------------------------------------------------------ ancestral, maximal
def ancestral_violation(g: MixedGraph) -> list[int] | None:
    """A directed cycle, or an almost directed cycle ``[a, ..., b]`` with ``b <-> a``, or None.

    A directed cycle is returned closed (first node repeated at the end).
    """
    for v in range(g.n):
        for w in g.children(v):
            # A directed path w ... v closes a cycle through v --> w.
            path = _directed_path(g, w, v)
            if path is not None:
                return [v, *path]
    for a in range(g.n):
        for b in sorted(g.adj[a]):
            if g.mark[(a, b)] == ARROW and g.mark[(b, a)] == ARROW:
                path = _directed_path(g, a, b)
                if path is not None:
                    return path
    return None


def _directed_path(g: MixedGraph, start: int, goal: int) -> list[int] | None:
    previous: dict[int, int | None] = {start: None}
    queue = deque([start])
    while queue:
        v = queue.popleft()
        if v == goal:
            path = [v]
            while previous[path[-1]] is not None:
                path.append(previous[path[-1]])  # type: ignore[arg-type]
            return path[::-1]
        for w in g.children(v):
            if w not in previous:
                previous[w] = v
                queue.append(w)
    return None


def maximality_gaps(g: MixedGraph) -> Iterator[tuple[int, int]]:
    r"""The non-adjacent pairs ``(a, b)``, ``a < b``, of ancestral ``g`` that no set separates.

    Non-adjacent ``a``, ``b`` of an ancestral graph are m-separated by some
    set exactly when no inducing path joins them, and then
    ``An({a, b}) \ {a, b}`` separates them (Richardson & Spirtes 2002,
    Theorem 4.2 and its corollary).
    """
    for a in range(g.n):
        for b in range(a + 1, g.n):
            if b in g.adj[a]:
                continue
            z = g.ancestors({a, b}) - {a, b}
            if m_connecting_indices(g, {a}, {b}, z) is not None:
                yield a, b


def is_maximal(g: MixedGraph) -> bool:
    """Whether the ancestral graph ``g`` is maximal: no pair without a separating set."""
    return next(maximality_gaps(g), None) is None


# ------------------------------------------------------------------ equivalence
def _is_collider(g: MixedGraph, a: int, v: int, b: int) -> bool:
    return g.mark[(a, v)] == ARROW and g.mark[(b, v)] == ARROW


def _unshielded_triples(g: MixedGraph) -> list[tuple[int, int, int]]:
    return [
        (a, v, b)
        for v in range(g.n)
        for a, b in itertools.combinations(sorted(g.adj[v]), 2)
        if b not in g.adj[a]
    ]


def _discriminating_paths(g: MixedGraph) -> Iterator[list[int]]:
    """Every path ``[x, ..., w, v, y]`` discriminating for ``v`` (Zhang 2008, Definition 4).

    ``x`` is not adjacent to ``y``, the path has at least three edges, and
    every node strictly between ``x`` and ``v`` is a collider on the path and
    a parent of ``y``.
    """
    for v in range(g.n):
        for y in sorted(g.adj[v]):
            for w in sorted(g.adj[v]):
                if w == y or not g.is_directed(w, y) or g.mark[(v, w)] != ARROW:
                    continue
                # Extend backwards from w: stack of paths [front, ..., w, v, y].
                stack = [[w, v, y]]
                while stack:
                    path = stack.pop()
                    front = path[0]
                    for x in sorted(g.adj[front]):
                        if x in path or g.mark[(x, front)] != ARROW:
                            continue
                        if x not in g.adj[y]:
                            yield [x, *path]
                        elif g.is_directed(x, y) and g.mark[(front, x)] == ARROW:
                            # x is a collider on the path and a parent of y: go on.
                            stack.append([x, *path])


def _discriminates(g: MixedGraph, path: list[int]) -> bool:
    """Whether ``path`` is discriminating in ``g`` for its second-to-last node."""
    x, y = path[0], path[-1]
    if y in g.adj[x]:
        return False
    for k in range(1, len(path) - 2):
        node = path[k]
        if not (_is_collider(g, path[k - 1], node, path[k + 1]) and g.is_directed(node, y)):
            return False
    return True


def markov_equivalent(g1: MixedGraph, g2: MixedGraph) -> bool:
    """Whether two MAGs are Markov equivalent (Spirtes & Richardson 1996, Theorem 3.2)."""
    if g1.adj != g2.adj:
        return False
    for a, v, b in _unshielded_triples(g1):
        if _is_collider(g1, a, v, b) != _is_collider(g2, a, v, b):
            return False
    for path in _discriminating_paths(g1):
        if _discriminates(g2, path):
            w, v, y = path[-3], path[-2], path[-1]
            if _is_collider(g1, w, v, y) != _is_collider(g2, w, v, y):
                return False
    return True


# ------------------------------------------------------------------ PAG -> MAG
def _require_pag_marks(graph: CausalGraph) -> None:
    for edge in graph.edges():
        if TAIL in (edge.mark_u, edge.mark_v) and ARROW not in (edge.mark_u, edge.mark_v):
            raise GraphError(
                f"edge {edge} has a tail without an arrowhead at its other end, which in a PAG "
                "means selection bias; mesalens assumes none: give a PAG with only -->, <->, "
                "o-> and o-o edges"
            )


def pag_to_mag(pag: CausalGraph) -> CausalGraph:
    """One MAG of the PAG's class (Zhang 2008, Theorem 2).

    Parameters
    ----------
    pag : CausalGraph
        A PAG with ``-->``, ``<->``, ``o->`` and ``o-o`` edges (no selection bias).

    Returns
    -------
    CausalGraph
        A MAG (``-->`` and ``<->`` edges) Markov equivalent to the PAG's MAGs.

    Raises
    ------
    GraphError
        If the PAG has undirected or tail-circle edges, its circle component is
        not chordal, or the result is not a MAG: then the input is not a
        valid (complete) PAG.
    """
    _require_pag_marks(pag)
    g, circle = zhang_mag(pag)
    if circle.number_of_edges() and not nx.is_chordal(circle):
        hole = chordless_cycle(circle)
        raise GraphError(
            "the o-o edges of the PAG do not form a chordal graph (chordless cycle "
            + " o-o ".join(pag.nodes[i] for i in hole)
            + f"), so it is not a valid PAG; {_INVALID_PAG_ADVICE}"
        )
    violation = ancestral_violation(g)
    if violation is not None:
        raise GraphError(
            "the PAG is not valid: its canonical MAG (Zhang 2008, Theorem 2) has the "
            "directed or almost directed cycle "
            + " ~ ".join(pag.nodes[i] for i in violation)
            + f"; {_INVALID_PAG_ADVICE}"
        )
    if not is_maximal(g):
        raise GraphError(
            "the PAG is not valid: its canonical MAG (Zhang 2008, Theorem 2) is not maximal "
            f"(two non-adjacent nodes cannot be separated); {_INVALID_PAG_ADVICE}"
        )
    return g.to_graph(pag.nodes)


def zhang_mag(pag: CausalGraph) -> tuple[MixedGraph, nx.Graph]:
    """Zhang's MAG of ``pag`` (Theorem 2), built whether or not the PAG is valid.

    ``o->`` (and ``-o``, read ``-->``) become ``-->``; the ``o-o`` edges (and
    ``---`` ones: selection bias is assumed absent) are oriented along a
    maximum cardinality search order of their component, which makes them
    a DAG without unshielded colliders when that component is chordal.
    :func:`pag_to_mag` checks the result; the PAG repair
    (:mod:`mesalens.pipeline.pag_repair`) starts from it when it fails.

    Returns
    -------
    (MixedGraph, networkx.Graph)
        The MAG candidate, and the circle component it oriented.
    """
    g = MixedGraph.from_graph(pag)
    circle = nx.Graph()
    for i in range(g.n):
        for j in sorted(g.adj[i]):
            if j < i:
                continue
            at_i, at_j = g.mark[(j, i)], g.mark[(i, j)]
            if at_i == ARROW and at_j == ARROW:
                continue
            if at_j == ARROW or (at_i == TAIL and at_j == CIRCLE):
                g.set_edge(i, j, TAIL, ARROW)
            elif at_i == ARROW or (at_i == CIRCLE and at_j == TAIL):
                g.set_edge(j, i, TAIL, ARROW)
            else:  # o-o, or --- (selection bias, assumed absent)
                circle.add_edge(i, j)
    position = {v: k for k, v in enumerate(mcs_order(circle))}
    for i, j in circle.edges():
        a, b = (i, j) if position[i] < position[j] else (j, i)
        g.set_edge(a, b, TAIL, ARROW)
    return g, circle


def mcs_order(graph: nx.Graph) -> list[int]:
    """A maximum cardinality search order, ties broken by the smallest index."""
    weight = dict.fromkeys(sorted(graph.nodes), 0)
    order = []
    while weight:
        v = max(weight, key=lambda u: (weight[u], -u))
        del weight[v]
        order.append(v)
        for u in graph.neighbors(v):
            if u in weight:
                weight[u] += 1
    return order


def chordless_cycle(graph: nx.Graph) -> list[int]:
    """A chordless cycle of more than three nodes of ``graph`` (one that is not chordal)."""
    for cycle in nx.chordless_cycles(graph):
        if len(cycle) > 3:
            return list(cycle)
    return []  # pragma: no cover - nx.is_chordal said there is one


# ------------------------------------------------------------------ all MAGs
def count_circles(pag: CausalGraph) -> int:
    """How many circle marks ``pag`` has."""
    return sum(1 for e in pag.edges() for m in (e.mark_u, e.mark_v) if m == CIRCLE)


@dataclass
class _Search:
    g: MixedGraph
    reference: MixedGraph
    edges: list[tuple[int, int]]
    options: list[list[tuple[Mark, Mark]]]
    triples_of: list[list[tuple[int, int, int]]]
    steps: int = 0


def iter_mags(
    pag: CausalGraph,
    reference: CausalGraph | None = None,
    max_steps: int = MAX_SEARCH_STEPS,
) -> Iterator[CausalGraph]:
    """Every MAG of the PAG's Markov equivalence class whose marks agree with the PAG.

    Parameters
    ----------
    pag : CausalGraph
        A PAG (``-->``, ``<->``, ``o->``, ``o-o`` edges). Marks it shows are
        kept, so a PAG with extra marks fixed by background knowledge (such
        as a regime made a root) lists only the MAGs that agree with them.
    reference : CausalGraph, optional
        A MAG of the class, defining the equivalence; defaults to
        :func:`pag_to_mag` of ``pag`` (pass the MAG of the PAG *before*
        extra marks were fixed: that one is in the class).
    max_steps : int
        How many partial orientations the search may visit.

    Yields
    ------
    CausalGraph
        The MAGs, in a deterministic order.

    Raises
    ------
    GraphError
        If the PAG is not valid (see :func:`pag_to_mag`).
    ClassTooLargeError
        If the search needs more than ``max_steps`` steps.
    """
    _require_pag_marks(pag)
    ref_graph = reference if reference is not None else pag_to_mag(pag)
    ref = MixedGraph.from_graph(ref_graph)
    g = MixedGraph.from_graph(pag)
    if g.adj != ref.adj:
        raise GraphError("the reference MAG has other adjacencies than the PAG")
    edges: list[tuple[int, int]] = []
    options: list[list[tuple[Mark, Mark]]] = []
    # Visit the edges breadth-first from the lowest index, so that edges
    # sharing a node are decided together and the pruning bites early.
    seen: set[frozenset[int]] = set()
    for start in range(g.n):
        queue = deque([start])
        visited = {start}
        while queue:
            v = queue.popleft()
            for w in sorted(g.adj[v]):
                key = frozenset((v, w))
                if key not in seen:
                    seen.add(key)
                    marks_v = (g.mark[(w, v)],) if g.mark[(w, v)] != CIRCLE else (TAIL, ARROW)
                    marks_w = (g.mark[(v, w)],) if g.mark[(v, w)] != CIRCLE else (TAIL, ARROW)
                    choices = [
                        (a, b) for a in marks_v for b in marks_w if not (a == TAIL and b == TAIL)
                    ]
                    if CIRCLE in (g.mark[(w, v)], g.mark[(v, w)]):
                        edges.append((v, w))
                        options.append(choices)
                if w not in visited:
                    visited.add(w)
                    queue.append(w)
    triples = _unshielded_triples(g)
    edge_number = {frozenset(e): k for k, e in enumerate(edges)}
    triples_of: list[list[tuple[int, int, int]]] = [[] for _ in edges]
    for a, v, b in triples:
        # Check a triple when the later of its two undecided edges is set.
        numbers = [edge_number.get(frozenset(p), -1) for p in ((a, v), (v, b))]
        last = max(numbers)
        if last >= 0:
            triples_of[last].append((a, v, b))
        elif _is_collider(g, a, v, b) != _is_collider(ref, a, v, b):
            return  # the PAG's own marks contradict the reference: empty class
    search = _Search(g, ref, edges, options, triples_of)
    for mag in _orient(search, 0, max_steps, pag):
        yield mag.to_graph(pag.nodes)


def _orient(search: _Search, k: int, max_steps: int, pag: CausalGraph) -> Iterator[MixedGraph]:
    g = search.g
    if k == len(search.edges):
        # Unshielded colliders and cycles through decided edges were checked
        # on the way; a cycle of the PAG's own fixed edges was not.
        if (
            ancestral_violation(g) is None
            and is_maximal(g)
            and markov_equivalent(g, search.reference)
        ):
            yield g.copy()
        return
    i, j = search.edges[k]
    saved = (g.mark[(j, i)], g.mark[(i, j)])
    for mark_i, mark_j in search.options[k]:
        search.steps += 1
        if search.steps > max_steps:
            raise ClassTooLargeError(
                f"listing the MAGs of this PAG needs more than {max_steps} search steps "
                f"({count_circles(pag)} circle marks); orient edges with background knowledge "
                "(tiers, required edges) or use --policy-inputs keep"
            )
        g.mark[(j, i)], g.mark[(i, j)] = mark_i, mark_j
        if _consistent(search, k, i, j):
            yield from _orient(search, k + 1, max_steps, pag)
    g.mark[(j, i)], g.mark[(i, j)] = saved


def _consistent(search: _Search, k: int, i: int, j: int) -> bool:
    g = search.g
    for a, v, b in search.triples_of[k]:
        if _is_collider(g, a, v, b) != _is_collider(search.reference, a, v, b):
            return False
    # Directed and almost directed cycles among the decided edges (circles
    # are neither tails nor arrows, so undecided edges are not directed).
    if g.is_directed(i, j) or g.is_directed(j, i):
        tail, head = (i, j) if g.is_directed(i, j) else (j, i)
        below = _descendants(g, head)
        if tail in below:
            return False
        above = g.ancestors({tail})
        for u in above:
            for w in g.adj[u]:
                if w in below and g.mark[(u, w)] == ARROW and g.mark[(w, u)] == ARROW:
                    return False
    elif g.mark[(i, j)] == ARROW and g.mark[(j, i)] == ARROW:
        if j in g.ancestors({i}) or i in g.ancestors({j}):
            return False
    return True


def _descendants(g: MixedGraph, v: int) -> set[int]:
    found = {v}
    stack = [v]
    while stack:
        u = stack.pop()
        for w in g.adj[u]:
            if w not in found and g.is_directed(u, w):
                found.add(w)
                stack.append(w)
    return found


# ------------------------------------------------------------------ the σ-graph
def sigma_mag(
    mag: CausalGraph, decisions: Iterable[str], inputs: Iterable[str]
) -> tuple[CausalGraph, list[str] | None]:
    """The intervened MAG of a policy reading ``inputs`` at each decision.

    Every edge with an arrowhead at a decision (``p --> D`` or ``p <-> D``)
    is removed, then ``p --> D`` is added for each input ``p``. The result
    may have almost directed cycles (it is then an acyclic directed mixed
    graph, not a MAG; m-separation is still defined, see the module
    docstring); only a directed cycle makes the policy impossible.

    Returns
    -------
    (CausalGraph, list of str or None)
        The intervened graph, and ``None`` when it has no directed cycle,
        else the directed cycle (closed: first node repeated at the end) that
        makes the policy impossible in this MAG (the graph is then returned
        as far as it was built).
    """
    g = MixedGraph.from_graph(mag)
    idx = mag.index
    decision_ids = [idx[d] for d in decisions]
    input_ids = [idx[p] for p in inputs]
    for d in decision_ids:
        for p in sorted(g.adj[d]):
            if g.mark[(p, d)] == ARROW:
                g.remove_edge(p, d)
    for d in decision_ids:
        for p in input_ids:
            if p in g.adj[d]:
                # The remaining edge is d --> p: reading p closes a 2-cycle.
                return g.to_graph(mag.nodes), [mag.nodes[d], mag.nodes[p], mag.nodes[d]]
            g.set_edge(p, d, TAIL, ARROW)
    # Only edges into the decisions were added, so a new directed cycle runs
    # from a decision down to one of its inputs. An almost directed cycle
    # (an input <-> a descendant of its decision) is a latent confounder that
    # the policy does not touch, not an impossible policy.
    for d in decision_ids:
        for p in input_ids:
            path = _directed_path(g, d, p)
            if path is not None:
                return g.to_graph(mag.nodes), [mag.nodes[v] for v in [*path, d]]
    return g.to_graph(mag.nodes), None
