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

>>> from mesalens.pipeline.pdag import Pdag
>>> g = Pdag(3)
>>> g.add_undirected(0, 1); g.add_undirected(1, 2)
>>> sorted(sorted(dag) for dag in iter_dag_edges(g))
[[(0, 1), (1, 2)], [(1, 0), (1, 2)], [(1, 0), (2, 1)]]
"""

from __future__ import annotations

from collections.abc import Iterator

from mesalens.pipeline.pdag import Pdag, chain_components

__all__ = ["iter_dag_edges", "iter_topological_orders"]


def iter_topological_orders(g: Pdag) -> Iterator[list[int]]:
    """Yield, for every DAG extending the Meek-closed, extendable PDAG ``g``, one topological order.

    Orienting every undirected edge of ``g`` from the earlier to the later
    node of the order gives the DAG; different yields are different DAGs.
    The list yielded is reused between yields: copy it to keep it.
    """
    n = g.n
    if n == 0:
        yield []
        return
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
    fixed = g.directed_edges()
    # Both orientations of each free edge, built once (tuples are immutable).
    free = [(a, b, (a, b), (b, a)) for a, b in g.undirected_edges()]
    position = [0] * g.n
    for order in iter_topological_orders(g):
        for k, v in enumerate(order):
            position[v] = k
        yield fixed + [ab if position[a] < position[b] else ba for a, b, ab, ba in free]
