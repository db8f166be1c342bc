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
    # In-bucket neighbours (of any edge kind) and in-bucket directed parents.
    neighbours: list[list[int]] = [[] for _ in range(n)]
    in_bucket_parents: list[set[int]] = [set() for _ in range(n)]
    for v in range(n):
        for w in sorted(g.undirected[v] | g.children[v] | g.parents[v]):
            if bucket[w] == bucket[v]:
                neighbours[v].append(w)
        in_bucket_parents[v] = {p for p in g.parents[v] if bucket[p] == bucket[v]}
    unvisited_parents = [len(p) for p in in_bucket_parents]

    # label[v] > 0 while v is unvisited; the visited keep -label so a reset
    # restores it. by_label[L] holds the unvisited nodes of label L, in
    # insertion order (dicts as ordered sets keep the run deterministic).
    label = [1 + (unvisited_parents[v] == 0) for v in range(n)]
    by_label: list[dict[int, None]] = [{} for _ in range(2 * n + 4)]
    for v in range(n):
        by_label[label[v]][v] = None
    top = 2
    order: list[int] = []

    def visit(v: int) -> None:
        nonlocal top
        label[v] = -label[v]
        del by_label[-label[v]][v]
        order.append(v)
        highest = top + 2
        for w in neighbours[v]:
            lw = label[w]
            if lw > 0:
                del by_label[lw][w]
                lw += 2
                if v in in_bucket_parents[w]:
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

    def unvisit(v: int) -> None:
        nonlocal top
        label[v] = -label[v]
        by_label[label[v]][v] = None
        order.pop()
        for w in neighbours[v]:
            lw = label[w]
            if lw > 0:
                del by_label[lw][w]
                lw -= 2
                if v in in_bucket_parents[w]:
                    if unvisited_parents[w] == 0:
                        lw -= 1
                    unvisited_parents[w] += 1
                label[w] = lw
                by_label[lw][w] = None
        top = label[v]

    def branch_alternatives(v: int) -> list[int]:
        # Candidates reachable from v inside the current candidate set.
        candidates = by_label[top]
        seen = {v}
        stack = [v]
        found = []
        while stack:
            x = stack.pop()
            for w in neighbours[x]:
                if w in candidates and w not in seen:
                    seen.add(w)
                    found.append(w)
                    stack.append(w)
        return found

    # Each frame: [alternatives (None until the first branch is done), next index, current node].
    frames: list[list] = []
    while True:
        if len(order) < n:
            v = next(iter(by_label[top]))
            visit(v)
            frames.append([None, 0, v])
            continue
        yield order
        while frames:
            frame = frames[-1]
            unvisit(frame[2])
            if frame[0] is None:
                frame[0] = branch_alternatives(frame[2])
            if frame[1] < len(frame[0]):
                x = frame[0][frame[1]]
                frame[1] += 1
                frame[2] = x
                visit(x)
                break
            frames.pop()
        else:
            return


def iter_dag_edges(g: Pdag) -> Iterator[list[tuple[int, int]]]:
    """Yield every DAG extending the Meek-closed, extendable PDAG ``g`` as ``(i, j)`` edges."""
    fixed = g.directed_edges()
    free = g.undirected_edges()
    position = [0] * g.n
    for order in iter_topological_orders(g):
        for k, v in enumerate(order):
            position[v] = k
        yield fixed + [(a, b) if position[a] < position[b] else (b, a) for a, b in free]
