"""The engine's fast paths against the general algorithms and brute force.

CPDAG-like graphs (closed chain graphs with chordal components) skip
Dor-Tarsi and the full Meek closure, get their leaves' DAGs from one search,
and list their DAGs without MCS-Enum when every component is a clique or a
tree. Each shortcut must give what the general path gives.
"""

from __future__ import annotations

import itertools
import json
import math
import re

import cliquepicking
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bench.graphs import cpdag_with_roles
from mesalens.pipeline.counting import ExtensionCounter
from mesalens.pipeline.enumeration import _mcs_enum, iter_dag_edges, iter_topological_orders
from mesalens.pipeline.errors import GraphError
from mesalens.pipeline.formats import write_graph
from mesalens.pipeline.graph import CausalGraph
from mesalens.pipeline.pdag import (
    Pdag,
    chain_structure,
    closed_chordal_search,
    consistent_extension,
    meek_closure,
    orient_and_close,
)
from mesalens.reports.cli import cli
from tests.builders import make_pdag
from tests.reference import all_extensions, cpdag_of, moral_dags, random_dags

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def dags_of_orders(g, orders):
    undirected = g.undirected_edges()
    fixed = set(g.directed_edges())
    found = []
    for order in orders:
        position = {v: k for k, v in enumerate(order)}
        found.append(
            frozenset(
                fixed | {(a, b) if position[a] < position[b] else (b, a) for a, b in undirected}
            )
        )
    return found


@st.composite
def cpdags(draw):
    n, dag = draw(st.one_of(random_dags(max_nodes=7), moral_dags(max_nodes=7)))
    directed, undirected = cpdag_of(n, dag)
    return n, directed, undirected


@st.composite
def clique_and_tree_chain_graphs(draw):
    """Disjoint cliques and trees, then the edges at a few nodes oriented and closed."""
    n = 0
    undirected = []
    for _ in range(draw(st.integers(1, 3))):
        size = draw(st.integers(1, 5))
        nodes = list(range(n, n + size))
        if draw(st.booleans()):
            undirected += list(itertools.combinations(nodes, 2))
        else:
            undirected += [(nodes[draw(st.integers(0, k - 1))], nodes[k]) for k in range(1, size)]
        n += size
    assume(len(undirected) <= 10)  # the brute force tries 2^edges orientations
    g = make_pdag(n, [], undirected)
    for node in draw(st.lists(st.integers(0, n - 1), unique=True, max_size=2)):
        if g.undirected[node]:
            # The empty parent set is always a clique.
            assert orient_and_close(g, node, ())
    return g


@SETTINGS
@given(cpdags())
def test_closed_chordal_search_recognises_cpdags(instance):
    n, directed, undirected = instance
    g = make_pdag(n, directed, undirected)
    earlier = closed_chordal_search(g)
    assert earlier is not None, "a CPDAG is a closed chain graph with chordal components"
    closed = make_pdag(n, directed, undirected)
    meek_closure(closed)
    assert closed.key() == g.key()
    # The search orients every component into a DAG of the class.
    dag = {(a, b) for a, b in directed}
    for a, b in undirected:
        dag.add((a, b) if a in earlier[b] else (b, a))
    assert frozenset(dag) in set(all_extensions(n, directed, undirected))


@SETTINGS
@given(st.integers(4, 7), st.data())
def test_closed_chordal_search_rejects_what_needs_the_general_path(n, data):
    pairs = list(itertools.combinations(range(n), 2))
    undirected = data.draw(st.lists(st.sampled_from(pairs), unique=True, max_size=10))
    remaining = [p for p in pairs if p not in undirected]
    directed = (
        data.draw(st.lists(st.sampled_from(remaining), unique=True, max_size=3))
        if remaining
        else []
    )
    g = make_pdag(n, directed, undirected)
    if closed_chordal_search(g) is None:
        return
    # Accepted: then it is closed and extendable, as the general algorithms say.
    assert consistent_extension(g) is not None
    closed = make_pdag(n, directed, undirected)
    meek_closure(closed)
    assert closed.key() == g.key()


@SETTINGS
@given(cpdags(), st.data())
def test_orient_and_close_equals_the_full_closure(instance, data):
    n, directed, undirected = instance
    g = make_pdag(n, directed, undirected)
    node = data.draw(st.integers(0, n - 1))
    siblings = sorted(g.undirected[node])
    cliques = [
        c
        for k in range(len(siblings) + 1)
        for c in itertools.combinations(siblings, k)
        if all(b in g.undirected[a] for a, b in itertools.combinations(c, 2))
    ]
    clique = data.draw(st.sampled_from(cliques))
    fast, full = make_pdag(n, directed, undirected), make_pdag(n, directed, undirected)
    assert orient_and_close(fast, node, clique), "the result must be a closed chain graph"
    full.orient_all_at(node, clique)
    meek_closure(full)
    assert fast.key() == full.key()
    assert chain_structure(fast).chain_graph


@SETTINGS
@given(clique_and_tree_chain_graphs())
def test_product_listing_yields_each_dag_once(g):
    want = set(all_extensions(g.n, g.directed_edges(), g.undirected_edges()))
    orders = [list(order) for order in iter_topological_orders(g)]
    from_orders = dags_of_orders(g, orders)
    assert len(from_orders) == len(set(from_orders)) == len(want)
    assert set(from_orders) == want
    edge_lists = [frozenset(edges) for edges in iter_dag_edges(g)]
    assert len(edge_lists) == len(set(edge_lists)) and set(edge_lists) == want
    # MCS-Enum lists the same class.
    assert set(dags_of_orders(g, [list(o) for o in _mcs_enum(g)])) == want
    assert ExtensionCounter().count(g) == len(want)


@SETTINGS
@given(cpdags())
def test_listing_on_cpdags_matches_brute_force(instance):
    n, directed, undirected = instance
    g = make_pdag(n, directed, undirected)
    want = set(all_extensions(n, directed, undirected))
    listed = [frozenset(edges) for edges in iter_dag_edges(g)]
    assert len(listed) == len(set(listed)) and set(listed) == want
    assert set(dags_of_orders(g, [list(o) for o in iter_topological_orders(g)])) == want


def test_path_and_clique_fast_paths_count_and_keep_one_list():
    path = make_pdag(12, [], [(i, i + 1) for i in range(11)])
    listing = iter_topological_orders(path)
    first = next(listing)
    assert all(order is first for order in listing)
    assert first == []  # emptied at the end, like MCS-Enum
    assert sum(1 for _ in iter_dag_edges(path)) == 12
    k7 = make_pdag(7, [], list(itertools.combinations(range(7), 2)))
    assert sum(1 for _ in iter_topological_orders(k7)) == math.factorial(7)
    assert len({frozenset(e) for e in iter_dag_edges(k7)}) == math.factorial(7)


@SETTINGS
@given(
    st.integers(2, 6),
    st.lists(st.sampled_from(["-->", "---", "<->", "o->", "o-o", "--o"]), min_size=1, max_size=8),
    st.data(),
)
def test_kind_and_arrowheads_agree_with_the_edge_list(n, kinds, data):
    pairs = list(itertools.combinations(range(n), 2))
    chosen = data.draw(st.lists(st.sampled_from(pairs), unique=True, max_size=len(kinds)))
    graph = CausalGraph([f"v{i}" for i in range(n)])
    for (a, b), kind in zip(chosen, kinds, strict=False):
        graph.add_edge(f"v{a}", f"v{b}", kind)
    # Brute force: read every edge's kind.
    shown = {edge.kind for edge in graph.edges()}
    expected = "pag" if shown - {"-->", "---"} else "pdag" if "---" in shown else "dag"
    assert graph.kind() == expected
    heads = graph.arrowheads()
    if expected == "pag":
        assert heads is None
    else:
        directed = [(graph.index[e.u], graph.index[e.v]) for e in graph.edges() if e.kind == "-->"]
        assert sorted(heads) == sorted(directed)
    if expected == "pag":
        try:
            Pdag.from_graph(graph)
        except GraphError as error:
            assert "does not support" in str(error)
        else:
            raise AssertionError("a PAG mark must be rejected")
    else:
        g = Pdag.from_graph(graph)
        assert sorted(g.directed_edges()) == sorted(graph.directed_index_edges())
        assert g.undirected_edges() == sorted(graph.undirected_index_edges())


def test_one_skeleton_counter_agrees_with_the_guarded_one():
    graph, _ = cpdag_with_roles(60, 60, 10, 0.8, regime_at="world")
    g = Pdag.from_graph(graph)
    assert closed_chordal_search(g) is not None
    guarded, trusting = ExtensionCounter(), ExtensionCounter(one_skeleton=True)
    for node in (0, 30, 61):
        h = g.copy()
        orient_and_close(h, node, ())
        assert guarded.count(h) == trusting.count(h)
    undirected = g.undirected_edges()
    assert guarded.count(g) == cliquepicking.mec_size(undirected + [(b, a) for a, b in undirected])


def test_check_graph_on_a_large_cpdag_end_to_end(tmp_path):
    # 64 nodes, 10^10-odd DAGs: exact counts, JSON and HTML through the CLI.
    graph, roles = cpdag_with_roles(60, 60, 12, 0.9, regime_at="mesa")
    path = tmp_path / "world.txt"
    write_graph(graph, path)
    out_json, out_html = tmp_path / "result.json", tmp_path / "report.html"
    args = ["check-graph", str(path), "--regime", "regime", "--base", roles["base"]]
    args += ["--mesa", roles["mesa"], "--decision", roles["decision"]]
    args += ["--json", str(out_json), "--html", str(out_html)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    document = json.loads(out_json.read_text())
    g = Pdag.from_graph(graph)
    s = graph.index["regime"]
    orient_and_close(g, s, ())
    assert document["verdict"] == "all"
    assert document["n_dags"] == ExtensionCounter().count(g) > 2**32
    assert document["n_hold"] == document["n_dags"] and document["n_fail"] == 0
    assert sum(p["n_dags"] for p in document["parent_sets"]) == document["n_dags"]
    text = re.sub(r"<[^>]+>", "", out_html.read_text())
    assert f"{document['n_dags']:,}" in text or str(document["n_dags"]) in text
