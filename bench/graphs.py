"""Graph generators shared by the benchmarks (deterministic for a seed)."""

from __future__ import annotations

import random

from mesalens.pipeline.graph import CausalGraph


def random_chordal_edges(n: int, seed: int, max_clique: int = 12, extend: float = 0.8):
    """A connected chordal graph on 0..n-1 built along a perfect elimination order.

    Each new node joins a subset of a clique formed by an earlier node and
    that node's chosen earlier neighbours, so the earlier neighbours of every
    node form a clique: the graph is chordal, hence a CPDAG. Mostly the new
    node extends the latest clique (dropping its oldest member once it has
    ``max_clique`` nodes): long runs of large overlapping cliques are what
    make equivalence classes astronomically large.
    """
    rng = random.Random(seed)
    earlier: list[list[int]] = [[]]
    edges = []
    for v in range(1, n):
        if rng.random() < extend:
            chosen = ([*earlier[v - 1], v - 1])[-(max_clique - 1) :]
        else:
            anchor = rng.randrange(max(0, v - 3 * max_clique), v)
            clique = [*earlier[anchor], anchor]
            chosen = sorted(rng.sample(clique, rng.randint(1, len(clique))))
        earlier.append(chosen)
        edges.extend((u, v) for u in chosen)
    return edges


def cpdag_with_roles(n: int, seed: int, max_clique: int = 12, extend: float = 0.8):
    """An undirected chordal CPDAG on n nodes plus a regime node, and role names.

    The regime points into one node of the component (a CPDAG edge that is
    undirected before the regime is made a root); the decision, mesa and base
    objectives are picked far from it so that the regime's orientation does
    not settle their edges.
    """
    rng = random.Random(seed + 1)
    edges = random_chordal_edges(n, seed, max_clique, extend)
    names = ["regime", *(f"x{i}" for i in range(n))]
    graph = CausalGraph(names)
    for a, b in edges:
        graph.add_edge(f"x{a}", f"x{b}", "---")
    graph.add_edge("regime", f"x{rng.randrange(n)}", "---")
    # Roles deep in the graph, far from the regime's node; the decision is a
    # node of low degree (a model's decision reads a handful of inputs: the
    # number of its possible parent sets is what the check enumerates).
    degree = {v: len(graph.adjacent(v)) for v in graph.nodes}
    late = [f"x{i}" for i in range(n - n // 4, n)]
    decision = min(late, key=lambda v: (degree[v], v))
    mesa, base = rng.sample([v for v in late if v != decision], 2)
    return graph, {"base": base, "mesa": mesa, "decision": decision}
