"""Exact counts of the DAGs that extend a Meek-closed PDAG.

When the PDAG is a *chain graph with chordal chain components* (CPDAGs, and
the interventional essential graphs that arise from orienting every edge at
a node, Hauser & Bühlmann, JMLR 2012), its DAGs are exactly the choices of
one acyclic moral orientation (AMO) per chain component, made independently:
the count is the product of the components' AMO counts. Each of those is
computed in polynomial time by Clique-Picking (Wienöbst, Bannach &
Liśkiewicz, AAAI 2021), through the authors' ``cliquepicking`` package.

``cliquepicking`` trusts its input: it is only ever handed one connected
chordal undirected component, checked here first. Counts are cached per
component, because the checker re-counts graphs that differ from the last
one in a single component.

For other MPDAGs (background knowledge that directs an edge inside a chain
component), counting is #P-hard in general; the count is then taken by
listing the DAGs with :mod:`mesalens.pipeline.enumeration`, which is exact
but takes time proportional to the count.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import cliquepicking

from mesalens.pipeline.enumeration import iter_topological_orders
from mesalens.pipeline.pdag import (
    Pdag,
    chain_structure,
    mcs_earlier_neighbours,
)

__all__ = ["ExtensionCounter", "is_product_form"]


def is_product_form(g: Pdag, components: Iterable[Iterable[int]] | None = None) -> bool:
    """Whether the DAGs of ``g`` are independent AMOs of its chain components.

    True when no directed edge joins two nodes of one chain component and
    the components, with the directed edges between them, form no cycle
    (chordality is checked per component by the counter). ``components``
    defaults to the chain components of ``g``.
    """
    if components is None:
        return chain_structure(g).chain_graph
    parts = [set(c) for c in components]
    children = g.children
    owner = [0] * g.n
    for k, component in enumerate(parts):
        for v in component:
            owner[v] = k
    successors: list[set[int]] = [set() for _ in parts]
    for k, component in enumerate(parts):
        for v in component:
            if children[v]:
                if not children[v].isdisjoint(component):
                    return False
                successors[k].update([owner[w] for w in children[v]])
    # Kahn's algorithm on the quotient graph of the components.
    indegree = [0] * len(parts)
    for succ in successors:
        for b in succ:
            indegree[b] += 1
    ready = [k for k, d in enumerate(indegree) if d == 0]
    seen = 0
    while ready:
        k = ready.pop()
        seen += 1
        for b in successors[k]:
            indegree[b] -= 1
            if indegree[b] == 0:
                ready.append(b)
    return seen == len(parts)


class ExtensionCounter:
    """Counts DAGs extending Meek-closed, extendable PDAGs; caches per component.

    Parameters
    ----------
    one_skeleton : bool
        The caller promises that every graph counted has the same skeleton
        and is Meek-closed and extendable (as within one check). A chain
        component's edges are then the skeleton's edges among its nodes,
        so its nodes alone key the cache, and it is chordal (an extendable
        closed chain graph orients each component acyclically without
        v-structures), so the chordality guard in front of Clique-Picking
        is skipped. Default: key by the edges and guard every component.
    """

    def __init__(self, one_skeleton: bool = False) -> None:
        self._cache: dict[frozenset, int] = {}
        self._one_skeleton = one_skeleton
        self.listed_counts = 0  # how many counts had to be taken by listing

    def count(self, g: Pdag) -> int:
        """The exact number of DAGs extending ``g`` (an arbitrary-precision int)."""
        structure = chain_structure(g)
        if not structure.chain_graph:
            self.listed_counts += 1
            return sum(1 for _ in iter_topological_orders(g))
        total = 1
        for component in structure.components:
            if len(component) > 1:
                total *= self.component_count(g, component)
        return total

    def component_count(self, g: Pdag, component: Iterable[int]) -> int:
        """The number of AMOs of one chordal chain component of ``g``."""
        nodes = component if isinstance(component, set) else set(component)
        size = len(nodes)
        if size <= 2:
            return size if size == 2 else 1
        undirected = g.undirected
        if self._one_skeleton:
            key = frozenset(nodes)
        else:
            # The component's edges, exactly: each node with its neighbours.
            key = frozenset([(v, frozenset(undirected[v])) for v in nodes])
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        n_edges = sum(map(len, map(undirected.__getitem__, nodes))) // 2
        if n_edges == size * (size - 1) // 2:
            result = math.factorial(size)
        elif n_edges == size - 1:
            result = size  # a tree: one AMO per choice of source
        else:
            result = self._clique_picking(g, sorted(nodes), guard=not self._one_skeleton)
        self._cache[key] = result
        return result

    @staticmethod
    def _clique_picking(g: Pdag, nodes: list[int], guard: bool) -> int:
        if guard and mcs_earlier_neighbours(g, nodes) is None:
            # Cannot happen for a Meek-closed extendable PDAG; guard anyway,
            # because Clique-Picking silently miscounts non-chordal input.
            raise ValueError("internal error: a chain component is not chordal")
        local = {v: k for k, v in enumerate(nodes)}
        undirected = g.undirected
        arcs = [(local[a], local[b]) for a in nodes for b in undirected[a]]
        return int(cliquepicking.mec_size(arcs))
