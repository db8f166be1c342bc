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
component), counting is #P-hard in general. The count is then split at one
node, the head of such an edge: over its valid parent sets (its parents
plus a clique of its undirected neighbours, each closed under Meek's rules
and kept when it still has a DAG), the parts are disjoint and cover the
DAGs, and each part is counted the same way. Orienting every edge at a node
of a CPDAG-like graph keeps it in product form, so a required edge or two
(the advice's knowledge files) costs a few splits, not a listing of the
class; in the worst case the splitting is exponential, as it must be.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import cliquepicking

from mesalens.pipeline.pdag import (
    ChainStructure,
    Pdag,
    chain_structure,
    closed_chordal_search,
    consistent_extension,
    mcs_earlier_neighbours,
    meek_closure,
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
        # How many counts had to split a graph outside product form.
        self.listed_counts = 0

    def count(self, g: Pdag) -> int:
        """The exact number of DAGs extending ``g`` (an arbitrary-precision int)."""
        structure = chain_structure(g)
        if not structure.chain_graph:
            self.listed_counts += 1
            return self._count_by_splitting(g, structure)
        total = 1
        for component in structure.components:
            if len(component) > 1:
                total *= self.component_count(g, component)
        return total

    def _count_by_splitting(self, g: Pdag, structure: ChainStructure) -> int:
        """Outside product form: the sum over the valid parent sets of one node of their counts."""
        node = _split_node(g, structure)
        total = 0
        for clique in _cliques(g, sorted(g.undirected[node])):
            part = g.copy()
            part.orient_all_at(node, clique)
            meek_closure(part, touched=[node])
            # A closed chordal chain graph always has a DAG; else Dor-Tarsi decides.
            if closed_chordal_search(part) is not None or consistent_extension(part) is not None:
                total += self.count(part)
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


def _split_node(g: Pdag, structure: ChainStructure) -> int:
    """A node to split at: the end of a directed edge inside a component with fewer siblings.

    Its valid parent sets are at most the cliques among its undirected
    neighbours, so the end with fewer of those usually has fewer parts.
    """
    for component in structure.components:
        members = set(component)
        for v in sorted(members):
            inside = g.children[v] & members
            if inside:
                w = min(inside)
                return min((w, v), key=lambda x: (len(g.undirected[x]), x))
    # The components' quotient has a cycle: any node with undirected edges.
    return min(v for v in range(g.n) if g.undirected[v])


def _cliques(g: Pdag, candidates: list[int]) -> list[tuple[int, ...]]:
    """Every clique (the empty one included) among ``candidates``."""
    found: list[tuple[int, ...]] = []

    def extend(chosen: tuple[int, ...], start: int) -> None:
        found.append(chosen)
        for k in range(start, len(candidates)):
            v = candidates[k]
            if all(g.adjacent(v, u) for u in chosen):
                extend((*chosen, v), k + 1)

    extend((), 0)
    return found
