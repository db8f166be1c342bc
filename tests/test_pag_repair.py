"""FCI's invalid PAGs are repaired into valid ones (pipeline/pag_repair.py), and the run goes on."""

from __future__ import annotations

import itertools
import json

import networkx as nx
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesalens.connectors.random_scm import SCMFamily
from mesalens.pipeline import pag_repair
from mesalens.pipeline.graph import CausalGraph, Mark
from mesalens.pipeline.mag import MixedGraph, ancestral_violation, is_m_separated, is_maximal
from mesalens.pipeline.pag_checker import check_pag
from mesalens.pipeline.pag_repair import mag_to_pag, pag_problem, repair_pag
from mesalens.pipeline.roles import Roles
from mesalens.reports.cli import cli

ROLES = Roles(regime="regime", base=("v1",), mesa=("v2",), decision=("v3",))
KINDS = ["-->", "<--", "<->", "o->", "<-o", "o-o", "---"]


@st.composite
def mixed_graphs(draw, max_nodes: int = 7) -> CausalGraph:
    """Random graphs with PAG-like marks; no arrowhead at the regime (FCI never puts one)."""
    n = draw(st.integers(4, max_nodes))
    names = ["regime", *(f"v{i}" for i in range(1, n))]
    graph = CausalGraph(names)
    for i, j in itertools.combinations(range(n), 2):
        if draw(st.integers(0, 9)) < 4:
            kinds = ["-->", "o->", "o-o"] if i == 0 else KINDS
            graph.add_edge(names[i], names[j], draw(st.sampled_from(kinds)))
    return graph


@st.composite
def mags(draw, max_nodes: int = 7) -> CausalGraph:
    """Random MAGs: a DAG with the regime first, some pairs that no order relates made <->."""
    n = draw(st.integers(3, max_nodes))
    names = ["regime", *(f"v{i}" for i in range(1, n))]
    graph = CausalGraph(names)
    dag = nx.DiGraph()
    dag.add_nodes_from(range(n))
    for i, j in itertools.combinations(range(n), 2):
        if draw(st.integers(0, 9)) < 4:
            dag.add_edge(i, j)
    for i, j in itertools.combinations(range(1, n), 2):
        related = nx.has_path(dag, i, j) or nx.has_path(dag, j, i)
        if dag.has_edge(i, j):
            graph.add_edge(names[i], names[j], "-->")
        elif not related and draw(st.integers(0, 9)) < 3:
            graph.add_edge(names[i], names[j], "<->")
    for j in dag.successors(0):
        graph.add_edge("regime", names[j], "-->")
    g = MixedGraph.from_graph(graph)
    pag_repair._make_maximal(g)
    return g.to_graph(graph.nodes)


def _back_weight(order, weight):
    position = {v: k for k, v in enumerate(order)}
    return sum(w for (u, v), w in weight.items() if position[u] > position[v])


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 6), st.data())
def test_the_fewest_back_edges_order_matches_brute_force(k, data):
    pairs = [(u, v) for u in range(k) for v in range(k) if u != v]
    chosen = data.draw(st.lists(st.sampled_from(pairs), unique=True, max_size=12))
    weight = {e: data.draw(st.sampled_from([1, 1, 5])) for e in chosen}
    nodes = list(range(k))
    best = min(_back_weight(p, weight) for p in itertools.permutations(nodes))
    assert _back_weight(pag_repair._fewest_back_edges(nodes, weight), weight) == best
    greedy = pag_repair._greedy_order(nodes, weight)
    assert sorted(greedy) == nodes


@settings(max_examples=30, deadline=None)
@given(mags(), st.data())
def test_the_oracle_of_the_pag_rebuild_answers_m_separation_in_the_mag(mag, data):
    oracle = pag_repair._m_separation_oracle(mag)
    names = mag.nodes
    x, y = data.draw(
        st.lists(st.sampled_from(range(len(names))), min_size=2, max_size=2, unique=True)
    )
    rest = [v for v in range(len(names)) if v not in (x, y)]
    z = set(data.draw(st.lists(st.sampled_from(rest), unique=True))) if rest else set()
    expected = is_m_separated(mag, {names[x]}, {names[y]}, {names[v] for v in z})
    assert oracle(x, y, tuple(sorted(z))) == float(expected)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixed_graphs())
def test_any_pag_like_graph_is_repaired_into_a_valid_pag(graph):
    repair = repair_pag(graph, "regime")
    assert pag_problem(repair.graph) is None
    # The checker accepts it: Zhang's MAG, the regime a root, at least one MAG.
    result = check_pag(repair.graph, ROLES)
    assert result.verdict in ("all", "none")
    if repair.problem is None:
        assert repair.graph is graph
        return
    mag = MixedGraph.from_graph(repair.mag)
    assert ancestral_violation(mag) is None and is_maximal(mag)
    # Every adjacency of the input is kept; the regime is a root.
    for edge in graph.edges():
        assert repair.graph.edge(edge.u, edge.v) is not None
    for other in repair.graph.adjacent("regime"):
        assert repair.graph.mark(other, "regime") == Mark.TAIL
    assert "guaranteePag" in repair.note()


@settings(max_examples=25, deadline=None)
@given(mags())
def test_a_valid_pag_is_returned_unchanged(mag):
    assert pag_problem(mag) is None
    assert repair_pag(mag, "regime").graph is mag
    pag = mag_to_pag(mag, None)
    if pag_problem(pag) is None:
        assert repair_pag(pag, "regime").graph is pag


def test_a_directed_cycle_is_broken_by_the_fewest_reversals():
    graph = CausalGraph(["regime", "a", "b", "c"])
    graph.add_edge("regime", "a", "-->")
    graph.add_edge("a", "b", "-->")
    graph.add_edge("b", "c", "-->")
    graph.add_edge("c", "a", "-->")
    assert "directed cycle" in pag_problem(graph)
    repair = repair_pag(graph, "regime")
    assert len(repair.reversed) == 1
    assert pag_problem(repair.graph) is None
    assert "reversing" in repair.note()


def test_an_almost_cycle_becomes_directed():
    graph = CausalGraph(["regime", "a", "b", "c"])
    graph.add_edge("regime", "a", "-->")
    graph.add_edge("a", "b", "-->")
    graph.add_edge("b", "c", "-->")
    graph.add_edge("a", "c", "<->")
    assert "almost directed cycle" in pag_problem(graph)
    repair = repair_pag(graph, "regime")
    assert repair.almost == (("a", "c"),)
    assert pag_problem(repair.graph) is None


# Found with bench/bench_fci_repair.py: FCI (Fisher's z, alpha 0.01) returns a
# graph that is not a valid PAG on this model's logs; `mesalens run --method fci`
# used to stop with "the PAG is not valid".
FAILING = {"nodes": 10, "seed": 18, "rows": 2000}


def write_failing_logs(folder):
    scm = SCMFamily(nodes=FAILING["nodes"]).draw([0, FAILING["seed"]])
    frames = scm.sample(1.0, FAILING["rows"], [0, FAILING["seed"], FAILING["rows"]])
    paths = {}
    for name, frame in frames.items():
        path = folder / f"{name}.parquet"
        frame.to_parquet(path)
        paths[name] = str(path)
    return paths


def test_run_with_fci_repairs_an_invalid_pag_and_gives_a_verdict(tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    paths = write_failing_logs(folder)
    out = tmp_path / "out"
    args = ["run", "--regime", f"train={paths['train']}", "--regime", f"deploy={paths['deploy']}"]
    args += ["--base", "Y_b", "--mesa", "Y_m", "--decision", "D_m", "--method", "fci"]
    args += ["--no-sensitivity", "--no-direct-test", "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code in (0, 4, 8), result.output
    document = json.loads((out / "result.json").read_text())
    assert document["verdict"] in ("all", "none")
    (note,) = [n for n in document["discovery"]["notes"] if "guaranteePag" in n]
    assert "not a valid PAG" in note and "edges changed" in note
    page = (out / "report.html").read_text()
    assert "Discovery note: FCI&#39;s output was not a valid PAG" in page or (
        "Discovery note: FCI's output was not a valid PAG" in page
    )
    assert "(m-separation in G_σ) is the one that decides" in result.output  # MAGs here too
    # The verdict card speaks of the class FCI learned: MAGs, m-separation, its assumptions.
    card = page[page.index('id="verdict"') : page.index('id="graph"')]
    assert document["verdict"] == "all"  # FCI is deterministic on these logs
    assert "The criterion holds in every valid MAG" in card
    assert "DAG" not in card.replace("DAGs in the class", "")
    assert "is m-separated from regime given Y_m" in card
    assert "allows hidden common causes but assumes no selection bias (FCI)" in card


def test_when_fci_gives_no_valid_pag_for_the_repaired_mag_the_mag_itself_is_used(monkeypatch):
    graph = CausalGraph(["regime", "a", "b", "c"])
    graph.add_edge("regime", "a", "-->")
    graph.add_edge("a", "b", "-->")
    graph.add_edge("b", "c", "-->")
    graph.add_edge("a", "c", "<->")
    # Stand in for a causal-learn run whose output does not describe the MAG.
    monkeypatch.setattr(pag_repair, "mag_to_pag", lambda mag, knowledge: graph)
    repair = repair_pag(graph, "regime")
    assert not repair.exact and repair.graph is repair.mag
    assert pag_problem(repair.graph) is None
    roles = Roles(regime="regime", base=("c",), mesa=("b",), decision=("a",))
    # regime --> a --> c avoids the mesa objective b: the criterion fails.
    assert check_pag(repair.graph, roles).verdict == "none"
    assert "runs on the MAG itself" in repair.note()
