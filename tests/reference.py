"""Brute-force references for the graph algorithms: they try every orientation.

Nothing here shares code with mesalens.pipeline: d-separation comes from
networkx, the class from trying all 2^k orientations of the undirected edges.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field

import networkx as nx
from hypothesis import strategies as st


def v_structures(directed: set[tuple[int, int]], adjacent) -> set[tuple[int, int, int]]:
    """Unshielded colliders a --> c <-- b (a < b) among the directed edges."""
    into: dict[int, list[int]] = defaultdict(list)
    for a, c in directed:
        into[c].append(a)
    found = set()
    for c, parents in into.items():
        for a, b in itertools.combinations(sorted(parents), 2):
            if not adjacent(a, b):
                found.add((a, b, c))
    return found


def all_extensions(
    n: int, directed: list[tuple[int, int]], undirected: list[tuple[int, int]]
) -> list[frozenset[tuple[int, int]]]:
    """Every DAG (edge set) with the PDAG's skeleton, directed edges and v-structures."""
    skeleton = {frozenset(e) for e in directed} | {frozenset(e) for e in undirected}

    def adjacent(a, b):
        return frozenset((a, b)) in skeleton

    pattern = v_structures(set(directed), adjacent)
    result = []
    for flips in itertools.product((False, True), repeat=len(undirected)):
        edges = set(directed)
        for (a, b), flip in zip(undirected, flips, strict=True):
            edges.add((b, a) if flip else (a, b))
        g = nx.DiGraph()
        g.add_nodes_from(range(n))
        g.add_edges_from(edges)
        if not nx.is_directed_acyclic_graph(g):
            continue
        if v_structures(edges, adjacent) != pattern:
            continue
        result.append(frozenset(edges))
    return result


def cpdag_of(n: int, dag_edges: list[tuple[int, int]]):
    """(directed, undirected) of the CPDAG of a DAG, by brute force over its MEC."""
    skeleton = sorted(tuple(sorted(e)) for e in dag_edges)
    adjacent_set = {frozenset(e) for e in dag_edges}
    pattern_directed = set()
    vs = v_structures(set(dag_edges), lambda a, b: frozenset((a, b)) in adjacent_set)
    for a, b, c in vs:
        pattern_directed |= {(a, c), (b, c)}
    undirected = [
        e for e in skeleton if e not in pattern_directed and e[::-1] not in pattern_directed
    ]
    mec = all_extensions(n, sorted(pattern_directed), undirected)
    return common_orientation(skeleton, mec)


def common_orientation(skeleton, dags):
    """Edges oriented the same way in every DAG (directed) and the others (undirected)."""
    directed, undirected = [], []
    for a, b in skeleton:
        ways = {(a, b) in d for d in dags}
        if ways == {True}:
            directed.append((a, b))
        elif ways == {False}:
            directed.append((b, a))
        else:
            undirected.append((a, b))
    return sorted(directed), sorted(undirected)


@st.composite
def moral_dags(draw, min_nodes=2, max_nodes=7, extra_edges=2):
    """A random DAG with few v-structures: each node's parents mostly form a clique.

    Such DAGs have CPDAGs with many undirected edges, where the interesting
    cases live; a few extra edges add v-structures.
    """
    n = draw(st.integers(min_nodes, max_nodes))
    order = draw(st.permutations(range(n)))
    parents: dict[int, set[int]] = {order[0]: set()}
    edges = set()
    for k in range(1, n):
        v = order[k]
        anchor = order[draw(st.integers(0, k - 1))]
        clique = sorted(parents[anchor] | {anchor})
        chosen = set(draw(st.lists(st.sampled_from(clique), unique=True, min_size=1)))
        parents[v] = chosen
        edges |= {(p, v) for p in chosen}
    pairs = [(order[i], order[j]) for i in range(n) for j in range(i + 1, n)]
    extra = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=extra_edges))
    edges |= set(extra)
    return n, sorted(edges)


@st.composite
def random_dags(draw, min_nodes=2, max_nodes=7, max_edges=11):
    """A random DAG on 0..n-1 as (n, edges), edges respecting a random order."""
    n = draw(st.integers(min_nodes, max_nodes))
    order = draw(st.permutations(range(n)))
    pairs = [(order[i], order[j]) for i in range(n) for j in range(i + 1, n)]
    chosen = (
        draw(st.lists(st.sampled_from(pairs), unique=True, max_size=max_edges)) if pairs else []
    )
    return n, sorted(chosen)


@dataclass
class BruteParentSet:
    n_dags: int = 0
    n_hold: int = 0
    n_fail: int = 0
    n_invalid: int = 0
    n_c1: int = 0
    n_c2: int = 0
    n_disagree: int = 0
    dags: list = field(default_factory=list)


def brute_force_check(n, dags, s, base, mesa, decisions, inputs):
    """Per joint parent set of the decisions: the brute-force counts over ``dags``."""
    results: dict[tuple, BruteParentSet] = defaultdict(BruteParentSet)
    for edges in dags:
        g = nx.DiGraph()
        g.add_nodes_from(range(n))
        g.add_edges_from(edges)
        if g.in_degree(s) != 0:
            continue
        key = tuple(tuple(sorted(g.predecessors(d))) for d in decisions)
        entry = results[key]
        entry.n_dags += 1
        entry.dags.append(edges)
        sigma = g.copy()
        if inputs is not None:
            for d in decisions:
                sigma.remove_edges_from(list(sigma.in_edges(d)))
                sigma.add_edges_from((p, d) for p in inputs)
        if not nx.is_directed_acyclic_graph(sigma):
            entry.n_invalid += 1
            continue
        holds = nx.is_d_separator(sigma, {s}, set(base), set(mesa))
        c1 = any(nx.has_path(sigma, m, b) for m in mesa for b in base)
        pruned = sigma.copy()
        pruned.remove_nodes_from(mesa)
        c2 = not any(nx.has_path(pruned, s, b) for b in base)
        entry.n_hold += holds
        entry.n_fail += not holds
        entry.n_c1 += c1
        entry.n_c2 += c2
        entry.n_disagree += (c1 and c2) != holds
    return dict(results)


def assert_d_connecting(sigma_edges, path, given):
    """Assert that ``path`` is a simple path of the DAG that is d-connecting given ``given``."""
    g = nx.DiGraph()
    g.add_edges_from(sigma_edges)
    g.add_nodes_from(path)
    assert len(set(path)) == len(path), f"path {path} repeats a node"
    for a, b in itertools.pairwise(path):
        assert g.has_edge(a, b) or g.has_edge(b, a), f"{a} and {b} are not adjacent in {path}"
    given = set(given)
    anc = set(given)
    for z in given:
        if z in g:
            anc |= nx.ancestors(g, z)
    for prev, node, nxt in zip(path, path[1:], path[2:], strict=False):
        collider = g.has_edge(prev, node) and g.has_edge(nxt, node)
        if collider:
            assert node in anc, f"collider {node} on {path} is not an ancestor of {given}"
        else:
            assert node not in given, f"non-collider {node} on {path} is conditioned on"
    assert path[0] not in given and path[-1] not in given
