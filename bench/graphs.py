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


def cpdag_with_roles(
    n: int, seed: int, max_clique: int = 12, extend: float = 0.8, regime_at: str = "world"
):
    """An undirected chordal CPDAG: a large "world" plus the four roles, and their names.

    The world (n nodes) is :func:`random_chordal_edges`. The regime, the
    decision, the mesa and the base objective are attached as simplicial
    nodes (their neighbours form a clique, so the graph stays chordal and
    every edge stays undirected in the CPDAG): the regime to one world node,
    the decision to a clique of three world nodes far from it (a model reads
    a handful of observations), the mesa objective to the decision and one
    of those, the base objective to the decision and the mesa objective.
    """
    rng = random.Random(seed + 1)
    edges = random_chordal_edges(n, seed, max_clique, extend)
    world = [f"x{i}" for i in range(n)]
    graph = CausalGraph(["regime", *world, "decision", "value", "reward"])
    for a, b in edges:
        graph.add_edge(world[a], world[b], "---")
    # The regime shifts either one world variable (making it a root then
    # orients much of the world) or only the mesa objective.
    regime_target = world[rng.randrange(n // 4)] if regime_at == "world" else "value"
    earlier: dict[int, list[int]] = {}
    for a, b in edges:
        earlier.setdefault(b, []).append(a)
    anchor = max(v for v in range(n - n // 4, n) if len(earlier.get(v, [])) >= 2)
    observed = [anchor, *rng.sample(earlier[anchor], 2)]
    for v in observed:
        graph.add_edge(world[v], "decision", "---")
    graph.add_edge(world[observed[0]], "value", "---")
    graph.add_edge("decision", "value", "---")
    graph.add_edge("decision", "reward", "---")
    graph.add_edge("value", "reward", "---")
    graph.add_edge("regime", regime_target, "---")
    inputs = [world[v] for v in observed]
    return graph, {"base": "reward", "mesa": "value", "decision": "decision", "inputs": inputs}
