"""Streaming listing of every DAG in a class, with linear delay.

This follows MCS-Enum of Wienöbst, Luttermann, Bannach & Liśkiewicz,
"Efficient Enumeration of Markov Equivalent DAGs" (AAAI 2023), in the form
for MPDAGs (their Theorem 5 and Algorithm 7 of the appendix):

* The *buckets* are the connected components of the undirected part of the
  Meek-closed graph; only edges inside a bucket can change between DAGs.
* A run of Maximum Cardinality Search (MCS) over the buckets, allowed to visit
  a node only once all its in-bucket directed parents are visited, yields a
  topological order τ; orienting every in-bucket edge along τ gives a DAG of
  the class. A visited neighbour adds 2 to a node's label and having no
  unvisited in-bucket parent adds 1, so the nodes MCS may pick are exactly
  those with the largest *even* label.
* Two choices lead to different DAGs exactly when they lie in the same
  connected component of the set ``S`` of candidates (the nodes with the
  largest label): the enumeration branches on the first candidate ``v`` and
  then on every other candidate reachable from ``v`` inside ``S``.

Every branch yields at least one DAG, and a branch costs time linear in the
size of the graph, hence the linear delay. Memory is that of one MCS run:
the generators below never hold more than one DAG.

When the graph is a chain graph whose components are all cliques or trees
(CPDAGs of forests and of complete graphs, and what orienting a node's edges
leaves of them), the DAGs are listed without a search: see "product form"
below. Same guarantees, same set of DAGs, a different order of yields.

>>> from mesalens.pipeline.pdag import Pdag
>>> g = Pdag(3)
>>> g.add_undirected(0, 1); g.add_undirected(1, 2)
>>> sorted(sorted(dag) for dag in iter_dag_edges(g))
[[(0, 1), (1, 2)], [(1, 0), (1, 2)], [(1, 0), (2, 1)]]
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

from mesalens.pipeline.pdag import Pdag, chain_components, chain_structure

__all__ = ["iter_dag_edges", "iter_topological_orders"]


def iter_topological_orders(g: Pdag) -> Iterator[list[int]]:
    """Yield, for every DAG extending the Meek-closed, extendable PDAG ``g``, one topological order.

    Orienting every undirected edge of ``g`` from the earlier to the later
    node of the order gives the DAG; different yields are different DAGs.
    The list yielded is reused between yields: copy it to keep it.
    """
    # Not a generator itself: one level less for every DAG to pass through.
    if g.n == 0:
        return iter([[]])
    plan = _ProductPlan.of(g)
    return plan.orders() if plan is not None else _mcs_enum(g)


def _mcs_enum(g: Pdag) -> Iterator[list[int]]:
    """MCS-Enum proper (see the module docstring); ``g`` has at least one node."""
    n = g.n
    bucket = [0] * n
    for k, component in enumerate(chain_components(g)):
        for v in component:
            bucket[v] = k
    # In-bucket neighbours (of any edge kind) and in-bucket directed children.
    neighbours: list[list[int]] = [[] for _ in range(n)]
    in_bucket_children: list[set[int]] = [set() for _ in range(n)]
    unvisited_parents = [0] * n
    for v in range(n):
        for w in sorted(g.undirected[v] | g.children[v] | g.parents[v]):
            if bucket[w] == bucket[v]:
                neighbours[v].append(w)
        for w in g.children[v]:
            if bucket[w] == bucket[v]:
                in_bucket_children[v].add(w)
                unvisited_parents[w] += 1

    # label[v] > 0 while v is unvisited; the visited keep -label so a reset
    # restores it. by_label[L] holds the unvisited nodes of label L, in
    # insertion order (dicts as ordered sets keep the run deterministic).
    label = [1 + (unvisited_parents[v] == 0) for v in range(n)]
    by_label: list[dict[int, None]] = [{} for _ in range(2 * n + 4)]
    for v in range(n):
        by_label[label[v]][v] = None
    top = 2
    # The search stack, one entry per depth d < depth: order[d] is the node
    # visited there, alternatives[d] the candidates still to branch on
    # (reachable from the first candidate inside the candidate set, hence
    # computed before the first is visited: unvisiting restores that set) and
    # next_index[d] the next one. Preallocated and indexed by depth, and the
    # visits and unvisits inlined: they are the whole inner loop.
    order = [0] * n
    alternatives: list[list[int]] = [[]] * n
    next_index = [0] * n
    no_alternatives: list[int] = []
    depth = 0
    while True:
        if depth < n:
            candidates = by_label[top]
            v = next(iter(candidates))
            found = no_alternatives
            if len(candidates) > 1:
                for w in neighbours[v]:
                    if w in candidates:
                        # Depth-first search from v inside the candidates.
                        found = []
                        seen = {v}
                        stack = [v]
                        while stack:
                            for x in neighbours[stack.pop()]:
                                if x in candidates and x not in seen:
                                    seen.add(x)
                                    found.append(x)
                                    stack.append(x)
                        break
            alternatives[depth] = found
            next_index[depth] = 0
        else:
            yield order
            # Back up to the deepest node with an alternative left, and take it.
            while True:
                if not depth:
                    order.clear()
                    return
                depth -= 1
                v = order[depth]
                lv = -label[v]
                label[v] = lv
                by_label[lv][v] = None
                children = in_bucket_children[v]
                for w in neighbours[v]:
                    lw = label[w]
                    if lw > 0:
                        del by_label[lw][w]
                        lw -= 2
                        if children and w in children:
                            if unvisited_parents[w] == 0:
                                lw -= 1
                            unvisited_parents[w] += 1
                        label[w] = lw
                        by_label[lw][w] = None
                top = lv
                k = next_index[depth]
                found = alternatives[depth]
                if k < len(found):
                    v = found[k]
                    next_index[depth] = k + 1
                    break
        # Visit v at this depth.
        lv = label[v]
        label[v] = -lv
        del by_label[lv][v]
        order[depth] = v
        depth += 1
        highest = top + 2
        children = in_bucket_children[v]
        for w in neighbours[v]:
            lw = label[w]
            if lw > 0:
                del by_label[lw][w]
                lw += 2
                if children and w in children:
                    unvisited_parents[w] -= 1
                    if unvisited_parents[w] == 0:
                        lw += 1
                label[w] = lw
                by_label[lw][w] = None
                if lw > highest and not lw & 1:
                    highest = lw
        top = highest
        while top > 2 and not by_label[top]:
            top -= 2


def iter_dag_edges(g: Pdag) -> Iterator[list[tuple[int, int]]]:
    """Yield every DAG extending the Meek-closed, extendable PDAG ``g`` as ``(i, j)`` edges."""
    plan = _ProductPlan.of(g) if g.n else None
    return plan.edge_lists() if plan is not None else _edges_from_orders(g)


def _edges_from_orders(g: Pdag) -> Iterator[list[tuple[int, int]]]:
    fixed = g.directed_edges()
    # Both orientations of each free edge, built once (tuples are immutable).
    free = [(a, b, (a, b), (b, a)) for a, b in g.undirected_edges()]
    position = [0] * g.n
    for order in iter_topological_orders(g):
        for k, v in enumerate(order):
            position[v] = k
        yield fixed + [ab if position[a] < position[b] else ba for a, b, ab, ba in free]


# ------------------------------------------------------------ product form
# When the graph is a chain graph, its DAGs are the independent choices of one
# acyclic moral orientation (AMO) per chain component, and two kinds of
# component have AMOs that need no search at all: a clique's AMOs are its k!
# orders (itertools.permutations lists them in C), and a tree's are its k
# choices of source, each orienting every edge away from it. Walking the tree
# depth first and moving the source one edge at a time changes one edge per
# DAG, and turns an order for the old source into one for the new by moving
# the new source to the front. The listing is then an odometer over the
# components, with the same guarantees as MCS-Enum: constant memory (one
# order, one iterator per component) and linear delay. Other components
# (chordal, neither clique nor tree) go to MCS-Enum with the whole graph.


class _ProductPlan:
    """The nontrivial chain components of a product-form graph, each a clique or a tree."""

    __slots__ = ("cliques", "g", "order", "slots", "trees")

    def __init__(self, g: Pdag, order: list[int]):
        self.g = g
        self.order = order  # the nodes, each component's in a block of its own
        self.slots: list[tuple[int, int]] = []  # (start, kind) per component: 0 clique, 1 tree
        self.cliques: list[list[int]] = []
        self.trees: list[list[int]] = []

    @classmethod
    def of(cls, g: Pdag) -> _ProductPlan | None:
        """The plan for ``g``, or None when a component needs MCS-Enum."""
        structure = chain_structure(g)
        if not structure.chain_graph:
            return None
        undirected = g.undirected
        components = structure.components
        if any(g.children):
            ranks = _component_ranks(g, structure.owner, len(components))
            components = [components[k] for k in ranks]
        order: list[int] = []
        plan = cls(g, order)
        for component in components:
            size = len(component)
            if size == 1:
                order.extend(component)
                continue
            nodes = sorted(component)
            n_edges = sum(map(len, map(undirected.__getitem__, nodes))) // 2
            if n_edges == size * (size - 1) // 2:
                plan.slots.append((len(order), 0))
                plan.cliques.append(nodes)
            elif n_edges == size - 1:
                plan.slots.append((len(order), 1))
                plan.trees.append(nodes)
            else:
                return None
            order.extend(nodes)
        return plan

    def _listers(self, edges: list[tuple[int, int]] | None) -> list[Callable[[], Iterator[None]]]:
        """One restartable lister per component: each step writes the next AMO in place.

        Orders go into ``self.order``; with ``edges``, the component's
        oriented edges go into its own block of that list as well.
        """
        listers: list[Callable[[], Iterator[None]]] = []
        cliques, trees = iter(self.cliques), iter(self.trees)
        undirected, order = self.g.undirected, self.order
        for start, kind in self.slots:
            nodes = next(cliques) if kind == 0 else next(trees)
            if edges is None:
                block = None
            elif kind == 0:
                block = (len(edges), [(a, b) for a in nodes for b in undirected[a] if a < b])
                edges.extend(block[1])
            else:  # a tree's walk fills its block in the first step
                block = (len(edges), None)
                edges.extend(nodes[1:])
            if kind == 0:
                listers.append(_clique_lister(nodes, start, order, edges, block))
            else:
                listers.append(_tree_lister(nodes, start, order, undirected, edges, block))
        return listers

    def orders(self) -> Iterator[list[int]]:
        """Every DAG as a topological order (one list, reused)."""
        order = self.order
        listers = self._listers(None)
        for _ in listers[0]() if len(listers) == 1 else _odometer(listers):
            yield order
        order.clear()

    def edge_lists(self) -> Iterator[list[tuple[int, int]]]:
        """Every DAG as a new list of ``(i, j)`` edges."""
        children = self.g.children
        fixed = [(i, j) for i in range(self.g.n) for j in children[i]] if any(children) else []
        free: list[tuple[int, int]] = []
        listers = self._listers(free)
        for _ in listers[0]() if len(listers) == 1 else _odometer(listers):
            yield fixed + free


def _component_ranks(g: Pdag, owner: list[int], n_components: int) -> list[int]:
    """The components in a topological order of the directed edges between them."""
    indegree = [0] * n_components
    out: list[list[int]] = [[] for _ in range(n_components)]
    for i in range(g.n):
        for j in g.children[i]:
            out[owner[i]].append(owner[j])
            indegree[owner[j]] += 1
    ready = [k for k in range(n_components) if not indegree[k]]
    ranks = []
    while ready:
        k = ready.pop()
        ranks.append(k)
        for b in out[k]:
            indegree[b] -= 1
            if not indegree[b]:
                ready.append(b)
    return ranks


def _odometer(listers: list[Callable[[], Iterator[None]]]) -> Iterator[None]:
    """Step through every combination of the listers' states, the last one fastest."""
    if not listers:
        yield None
        return
    if len(listers) == 1:
        yield from listers[0]()
        return
    running = [lister() for lister in listers]
    for it in running:
        next(it)
    last = len(running) - 1
    while True:
        yield None
        k = last
        while next(running[k], True):  # exhausted: restart it, advance the one before
            if k == 0:
                return
            running[k] = listers[k]()
            next(running[k])
            k -= 1


def _clique_lister(nodes, start, order, edges, block) -> Callable[[], Iterator[None]]:
    end = start + len(nodes)
    if edges is None:

        def walk() -> Iterator[None]:
            for perm in itertools.permutations(nodes):
                order[start:end] = perm
                yield None

        return walk
    offset, pairs = block
    flips = [(offset + k, (a, b), (b, a), a, b) for k, (a, b) in enumerate(pairs)]
    position = dict.fromkeys(nodes, 0)

    def walk_edges() -> Iterator[None]:
        for perm in itertools.permutations(nodes):
            for k, v in enumerate(perm):
                position[v] = k
            for slot, ab, ba, a, b in flips:
                edges[slot] = ab if position[a] < position[b] else ba
            yield None

    return walk_edges


def _tree_lister(nodes, start, order, undirected, edges, block) -> Callable[[], Iterator[None]]:
    root = nodes[0]
    end = start + len(nodes)
    offset = 0 if block is None else block[0]

    def script() -> tuple[list[int], list[tuple[int, int]], list[tuple]]:
        """One depth-first walk from the root, and the moves of the source along it.

        Returns the preorder (an order for the source root), the tree edges
        oriented away from the root (the k-th discovered in slot k), and per
        step of the walk: the edge's slot, its new orientation, the node that
        becomes the source, and whether that source is new (a DAG to yield)
        or the walk is coming back up.
        """
        preorder = [root]
        away: list[tuple[int, int]] = []
        moves: list[tuple] = []
        stack = [(root, iter(undirected[root]), -1, -1)]
        while stack:
            u, around, back, here = stack[-1]
            w = next(around, None)
            if w is None:
                stack.pop()
                if stack:  # the source moves back from u to its parent
                    moves.append((here, (back, u), back, False))
            elif w != back:
                slot = offset + len(away)
                preorder.append(w)
                away.append((u, w))
                moves.append((slot, (w, u), w, True))
                stack.append((w, iter(undirected[w]), u, slot))
        while moves and not moves[-1][3]:
            moves.pop()  # the way back up after the last DAG
        return preorder, away, moves

    def walk() -> Iterator[None]:
        # Moving the source from u to a neighbour w flips only u --- w, and
        # an order for u becomes one for w by moving w to the front.
        current, _, moves = script()
        order[start:end] = current
        if start == 0 and end == len(order):
            current = order  # the whole order: move nodes in it directly
        yield None
        for _, _, source, new in moves:
            current.remove(source)
            current.insert(0, source)
            if new:
                if current is not order:
                    order[start:end] = current
                yield None

    def walk_edges() -> Iterator[None]:
        _, away, moves = script()
        edges[offset : offset + len(away)] = away
        yield None
        for slot, edge, _, new in moves:
            edges[slot] = edge
            if new:
                yield None

    return walk if edges is None else walk_edges
