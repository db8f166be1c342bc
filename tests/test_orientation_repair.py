"""PC's contradictory orientations are repaired into a class, and the run goes on."""

from __future__ import annotations

import itertools

import dask
from hypothesis import given, settings
from hypothesis import strategies as st

from mesalens.connectors.random_scm import SCMFamily, loaded_from_frames
from mesalens.pipeline.analysis import DiscoverySettings, EvidenceSettings, analyze
from mesalens.pipeline.graph import CausalGraph
from mesalens.pipeline.orientation_repair import (
    colliders,
    is_consistent_pattern,
    repair_orientations,
)
from mesalens.pipeline.roles import Roles
from tests.reference import all_extensions


def _graph(nodes, directed=(), undirected=()):
    graph = CausalGraph(nodes)
    for u, v in directed:
        graph.add_edge(u, v, "-->")
    for u, v in undirected:
        graph.add_edge(u, v, "---")
    return graph


def _skeleton(graph):
    return {frozenset((e.u, e.v)) for e in graph.edges()}


def _no_evidence(x, z, y):
    return 1.0


def test_a_consistent_cpdag_is_left_as_it_is():
    # s --> a --> b <-- c, b --> d: the CPDAG of its DAGs with s a root.
    graph = _graph(["s", "a", "b", "c", "d"], directed=[("s", "a"), ("a", "b"), ("c", "b")])
    graph.add_edge("b", "d", "-->")
    assert is_consistent_pattern(graph, "s")
    repair = repair_orientations(graph, regime="s", forced=[], collider_evidence=_no_evidence)
    assert repair.extendable and not repair.dropped and not repair.added
    assert {str(e) for e in repair.graph.edges()} == {str(e) for e in graph.edges()}


def test_colliders_that_cannot_hold_together_lose_to_the_stronger():
    # PC's colliders p --> y <-- x and q --> w <-- y, with the triangle x, y, w:
    # together they leave x --- w no orientation (a cycle or a new collider).
    graph = _graph(
        ["s", "x", "y", "w", "p", "q", "r"],
        directed=[("s", "x"), ("p", "y"), ("x", "y"), ("q", "w"), ("y", "w"), ("r", "x")],
    )
    graph.add_edge("w", "x", "-->")
    evidence = {("p", "y", "x"): 0.01, ("q", "w", "y"): 0.02, ("r", "x", "w"): 0.5}
    repair = repair_orientations(
        graph,
        regime="s",
        forced=[],
        collider_evidence=lambda *t: evidence.get(t, evidence.get(t[::-1], 1.0)),
    )
    assert repair.extendable
    assert is_consistent_pattern(repair.graph, "s")
    kept = set(colliders(repair.graph))
    assert ("p", "y", "x") in kept  # the strongest survives
    assert ("q", "w", "y") in repair.dropped
    assert not kept - set(colliders(graph))  # nothing invented


def test_a_chordless_cycle_without_colliders_gets_the_likeliest_one():
    graph = _graph(["s", "a", "b", "c", "d"], directed=[("s", "a")])
    for u, v in [("a", "b"), ("b", "c"), ("c", "d"), ("d", "a")]:
        graph.add_edge(u, v, "---")
    assert not is_consistent_pattern(graph, "s")
    evidence = {("a", "b", "c"): 0.3, ("b", "c", "d"): 0.001, ("a", "d", "c"): 0.4}
    repair = repair_orientations(
        graph,
        regime="s",
        forced=[],
        collider_evidence=lambda *t: evidence.get(t, evidence.get(t[::-1], 1.0)),
    )
    assert repair.extendable
    assert repair.added == (("b", "c", "d"),)
    assert is_consistent_pattern(repair.graph, "s")


@st.composite
def _pc_like_outputs(draw):
    n = draw(st.integers(3, 7))
    nodes = ["s", *(f"v{i}" for i in range(1, n))]
    pairs = list(itertools.combinations(nodes, 2))
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True, min_size=1, max_size=12))
    graph = CausalGraph(nodes)
    for u, v in chosen:
        kind = draw(st.sampled_from(["-->", "<--", "---"]))
        if "s" in (u, v):
            u, v, kind = ("s", v if u == "s" else u, "-->")
        if kind == "<--":
            u, v, kind = v, u, "-->"
        graph.add_edge(u, v, kind)
    return graph


@settings(max_examples=150, deadline=None)
@given(_pc_like_outputs(), st.randoms(use_true_random=False))
def test_repair_keeps_the_skeleton_and_the_regime_a_root(graph, rng):
    evidence = {}
    repair = repair_orientations(
        graph,
        regime="s",
        forced=[],
        collider_evidence=lambda *t: evidence.setdefault(t, rng.random()),
    )
    assert _skeleton(repair.graph) == _skeleton(graph)
    if repair.extendable:
        assert is_consistent_pattern(repair.graph, "s")
        # Meek-closed: an edge is directed exactly when every extension agrees.
        index = repair.graph.index
        directed = [(index[e.u], index[e.v]) for e in repair.graph.edges() if e.kind == "-->"]
        undirected = [(index[e.u], index[e.v]) for e in repair.graph.edges() if e.kind == "---"]
        dags = all_extensions(len(repair.graph.nodes), directed, undirected)
        assert dags
        for u, v in undirected:
            assert any((u, v) in dag for dag in dags) and any((v, u) in dag for dag in dags)


def test_pc_runs_that_used_to_stop_now_give_a_verdict():
    # Seed found by `mesalens simulate`: PC (alpha 0.01, 4,000 rows) learns a
    # skeleton with a chordless cycle and no collider on it; the check used to
    # stop with "the graph has a directed cycle".
    scm = SCMFamily(nodes=8).draw([0, 17])
    roles = Roles(regime="regime", base=("Y_b",), mesa=("Y_m",), decision=("D_m",))
    with dask.config.set(scheduler="sync"):
        frames = scm.sample(0.5, 4000, [0, 17, 4000])
        analysis = analyze(
            loaded_from_frames(frames),
            roles,
            DiscoverySettings(method="pc", seed=0),
            evidence=EvidenceSettings(sensitivity=False, direct_test=False),
        )
    assert analysis.check.verdict in ("all", "some", "none")
    (note,) = [n for n in analysis.discovery.notes if "contradicted each other" in n]
    assert "added" in note
    assert is_consistent_pattern(analysis.discovery.graph, "regime")
