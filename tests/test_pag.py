"""PAGs: MAGs, m-separation, MAG listing and the checker over MAGs, against brute force.

The references here share no code with :mod:`mesalens.pipeline.mag`: a MAG is
the latent projection of a random DAG with latent variables (adjacent when no
set of observed nodes d-separates, directed along ancestry), its class is
every orientation of its skeleton that is ancestral with the same
m-separations (each ``<->`` read as a latent common cause, d-separation by
networkx), and its PAG marks what all of them share.
"""

from __future__ import annotations

import itertools
import json
import pathlib
import random
from functools import cache

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesalens.pipeline import pag_checker
from mesalens.pipeline.checker import check
from mesalens.pipeline.errors import ClassTooLargeError, GraphError
from mesalens.pipeline.graph import CausalGraph, Mark
from mesalens.pipeline.mag import (
    MixedGraph,
    _simple_connecting_path,
    is_m_separated,
    is_maximal,
    iter_mags,
    m_connecting_path,
    pag_to_mag,
    sigma_mag,
)
from mesalens.pipeline.pag_checker import PagCheckResult
from mesalens.pipeline.roles import Roles
from mesalens.reports.cli import cli
from mesalens.reports.result_json import check_result_to_dict

# ------------------------------------------------------------------ references
Triple = tuple[str, str, str]


def random_latent_dag(seed: int, n_obs: int, n_latent: int) -> tuple[nx.DiGraph, list[str]]:
    """A random DAG over observed X0.. and latent L0.., each latent with two observed children."""
    rng = random.Random(seed)
    observed = [f"X{k}" for k in range(n_obs)]
    dag = nx.DiGraph()
    dag.add_nodes_from(observed)
    for a, b in itertools.combinations(range(n_obs), 2):
        if rng.random() < 0.4:
            dag.add_edge(observed[a], observed[b])
    for k in range(n_latent):
        children = rng.sample(observed, 2)
        dag.add_edges_from((f"L{k}", c) for c in children)
    return dag, observed


def d_separated(dag: nx.DiGraph, x: str, y: str, z: set[str]) -> bool:
    return nx.is_d_separator(dag, {x}, {y}, set(z))


def latent_projection(dag: nx.DiGraph, observed: list[str]) -> dict[frozenset, Triple]:
    """The MAG of ``dag`` over ``observed`` as {pair: (u, kind, v)}."""
    edges = {}
    for a, b in itertools.combinations(observed, 2):
        others = [v for v in observed if v not in (a, b)]
        separable = any(
            d_separated(dag, a, b, set(z))
            for r in range(len(others) + 1)
            for z in itertools.combinations(others, r)
        )
        if separable:
            continue
        if a in nx.ancestors(dag, b):
            edges[frozenset((a, b))] = (a, "-->", b)
        elif b in nx.ancestors(dag, a):
            edges[frozenset((a, b))] = (b, "-->", a)
        else:
            edges[frozenset((a, b))] = (a, "<->", b)
    return edges


def canonical_dag(nodes: list[str], edges: list[Triple]) -> nx.DiGraph:
    """Each ``<->`` becomes a latent common parent: d-separation there is m-separation."""
    dag = nx.DiGraph()
    dag.add_nodes_from(nodes)
    for k, (u, kind, v) in enumerate(edges):
        if kind == "-->":
            dag.add_edge(u, v)
        else:
            dag.add_edges_from([(f"_L{k}", u), (f"_L{k}", v)])
    return dag


def brute_ancestral(nodes: list[str], edges: list[Triple]) -> bool:
    directed = nx.DiGraph()
    directed.add_nodes_from(nodes)
    directed.add_edges_from((u, v) for u, k, v in edges if k == "-->")
    if not nx.is_directed_acyclic_graph(directed):
        return False
    return all(
        u not in nx.ancestors(directed, v) and v not in nx.ancestors(directed, u)
        for u, k, v in edges
        if k == "<->"
    )


def separation_statements(nodes: list[str]):
    for a, b in itertools.combinations(nodes, 2):
        others = [v for v in nodes if v not in (a, b)]
        for r in range(len(others) + 1):
            for z in itertools.combinations(others, r):
                yield a, b, set(z)


def separation_profile(nodes: list[str], edges: list[Triple]) -> list[bool]:
    dag = canonical_dag(nodes, edges)
    return [d_separated(dag, a, b, z) for a, b, z in separation_statements(nodes)]


def brute_class(nodes: list[str], mag: list[Triple]) -> set[frozenset[Triple]]:
    """Every ancestral orientation of the skeleton with the MAG's m-separations."""
    truth = separation_profile(nodes, mag)
    pairs = [(u, v) for u, _k, v in mag]
    found = set()
    for choice in itertools.product(range(3), repeat=len(pairs)):
        edges = [
            (u, "-->", v) if c == 0 else (v, "-->", u) if c == 1 else (u, "<->", v)
            for (u, v), c in zip(pairs, choice, strict=True)
        ]
        if not brute_ancestral(nodes, edges):
            continue
        dag = canonical_dag(nodes, edges)
        # Stop at the first statement that differs (most candidates differ early).
        if all(
            d_separated(dag, a, b, z) == expected
            for (a, b, z), expected in zip(separation_statements(nodes), truth, strict=True)
        ):
            found.add(normal_form(edges))
    return found


def normal_form(edges) -> frozenset[Triple]:
    out = set()
    for u, kind, v in edges:
        if kind == "<->" and u > v:
            u, v = v, u
        out.add((u, kind, v))
    return frozenset(out)


def graph_triples(graph: CausalGraph) -> frozenset[Triple]:
    return normal_form((e.u, e.kind, e.v) for e in graph.edges())


def build(nodes: list[str], edges) -> CausalGraph:
    graph = CausalGraph(nodes)
    for u, kind, v in edges:
        graph.add_edge(u, v, kind)
    return graph


def pag_of(nodes: list[str], members: set[frozenset[Triple]]) -> CausalGraph:
    """The PAG: a mark where every MAG of the class has the same one, else a circle."""
    marks: dict[tuple[str, str], set[Mark]] = {}
    for member in members:
        for u, kind, v in member:
            mu, mv = {"-->": (Mark.TAIL, Mark.ARROW), "<->": (Mark.ARROW, Mark.ARROW)}[kind]
            marks.setdefault((v, u), set()).add(mu)
            marks.setdefault((u, v), set()).add(mv)
    pag = CausalGraph(nodes)
    for (u, v), at_v in sorted(marks.items()):
        if u < v:
            at_u = marks[(v, u)]
            pag.add_marked_edge(
                u,
                v,
                at_u.pop() if len(at_u) == 1 else Mark.CIRCLE,
                at_v.pop() if len(at_v) == 1 else Mark.CIRCLE,
            )
    return pag


@cache
def case(seed: int) -> tuple[list[str], list[Triple], set[frozenset[Triple]]]:
    """A random MAG with at most 6 edges, and its class by brute force."""
    rng = random.Random(seed)
    low = 3 if seed % 5 == 0 else 4  # most cases have room for the four roles
    while True:
        dag, observed = random_latent_dag(
            rng.randrange(10**9), rng.randint(low, 5), rng.randint(1, 2)
        )
        mag = list(latent_projection(dag, observed).values())
        if len(mag) <= 6:
            return observed, mag, brute_class(observed, mag)


SEEDS = list(range(40))


# ------------------------------------------------------------------ m-separation
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(SEEDS), data=st.data())
def test_m_separation_matches_d_separation_in_the_canonical_dag(seed, data):
    nodes, mag, _ = case(seed)
    graph = build(nodes, mag)
    x, y = data.draw(st.sampled_from(list(itertools.permutations(nodes, 2))))
    others = [v for v in nodes if v not in (x, y)]
    z = set(data.draw(st.lists(st.sampled_from(others), unique=True))) if others else set()
    expected = d_separated(canonical_dag(nodes, mag), x, y, z)
    assert is_m_separated(graph, {x}, {y}, z) == expected
    path = m_connecting_path(graph, {x}, {y}, z)
    if path is not None:
        check_connecting(graph, path, x, y, z)
    # The fallback search for a simple path (used when cutting a walk's loops
    # closes it) agrees on its own.
    g = MixedGraph.from_graph(graph)
    idx = graph.index
    zi = {idx[v] for v in z}
    simple = _simple_connecting_path(g, {idx[x]}, {idx[y]}, zi, g.ancestors(zi))
    assert (simple is None) == expected
    if simple is not None:
        check_connecting(graph, [graph.nodes[i] for i in simple], x, y, z)


def check_connecting(graph: CausalGraph, path: list[str], x: str, y: str, z: set[str]) -> None:
    """The witness is a simple path of the graph, m-connecting given z."""
    assert path[0] == x and path[-1] == y and len(set(path)) == len(path)
    directed = nx.DiGraph([(e.u, e.v) for e in graph.edges() if e.kind == "-->"])
    directed.add_nodes_from(graph.nodes)
    anc = set(z).union(*(nx.ancestors(directed, v) for v in z)) if z else set()
    for a, v, b in zip(path, path[1:], path[2:], strict=False):
        assert graph.mark(a, v) is not None and graph.mark(v, b) is not None
        if graph.mark(a, v) == Mark.ARROW and graph.mark(b, v) == Mark.ARROW:
            assert v in anc
        else:
            assert v not in z


def test_the_witness_path_is_simple_where_a_walk_would_loop():
    # s -> a <-> b <- c, a -> m <- ... : the open collider needs a descendant in Z.
    graph = build(
        ["s", "a", "b", "c", "m"],
        [
            ("s", "-->", "a"),
            ("a", "<->", "b"),
            ("b", "-->", "m"),
            ("a", "-->", "m"),
            ("c", "-->", "b"),
        ],
    )
    path = m_connecting_path(graph, {"s"}, {"c"}, {"m"})
    check_connecting(graph, path, "s", "c", {"m"})


def test_m_separation_rejects_circle_marks():
    graph = build(["a", "b"], [("a", "o->", "b")])
    with pytest.raises(Exception, match="m-separation"):
        is_m_separated(graph, {"a"}, {"b"}, set())


# ------------------------------------------------------------------ the class
@pytest.mark.parametrize("seed", SEEDS)
def test_mag_listing_equals_the_brute_force_class(seed):
    nodes, mag, members = case(seed)
    assert normal_form(mag) in members
    pag = pag_of(nodes, members)
    zhang = pag_to_mag(pag)
    assert graph_triples(zhang) in members
    listed = [graph_triples(m) for m in iter_mags(pag)]
    assert len(listed) == len(set(listed))
    assert set(listed) == members


@pytest.mark.parametrize("seed", SEEDS[:12])
def test_maximality_test_matches_brute_force(seed):
    """On ancestral orientations of a skeleton: maximal iff every non-adjacent pair separates."""
    nodes, mag, _members = case(seed)
    rng = random.Random(seed)
    graphs = []
    for _ in range(30):
        pairs = [(u, v) for u, _k, v in mag]
        graphs.append(
            (nodes, [rng.choice([(u, "-->", v), (v, "-->", u), (u, "<->", v)]) for u, v in pairs])
        )
    # Non-maximal graphs are rare at random: add an inducing path a <-> b <-> c <-> d
    # (b --> d, c --> a) and a fifth node with random edges.
    for _ in range(10):
        extra = [
            rng.choice([(v, "-->", "e"), ("e", "-->", v), (v, "<->", "e")])
            for v in "abcd"
            if rng.random() < 0.5
        ]
        graphs.append((list("abcde"), [*INDUCING_PATH, *extra]))
    outcomes = set()
    for nodes, edges in graphs:
        if not brute_ancestral(nodes, edges):
            continue
        adjacent = {frozenset((u, v)) for u, _k, v in edges}
        dag = canonical_dag(nodes, edges)
        expected = all(
            any(
                d_separated(dag, a, b, set(z))
                for r in range(len(nodes) - 1)
                for z in itertools.combinations([v for v in nodes if v not in (a, b)], r)
            )
            for a, b in itertools.combinations(nodes, 2)
            if frozenset((a, b)) not in adjacent
        )
        assert is_maximal(MixedGraph.from_graph(build(nodes, edges))) == expected
        outcomes.add(expected)
    assert False in outcomes


INDUCING_PATH = [
    ("a", "<->", "b"),
    ("b", "<->", "c"),
    ("c", "<->", "d"),
    ("b", "-->", "d"),
    ("c", "-->", "a"),
]


def test_an_inducing_path_makes_an_ancestral_graph_non_maximal():
    # A non-maximal ancestral graph: a <-> b <-> c <-> d is an inducing path
    # (b --> d and c --> a make both colliders ancestors of an end).
    nodes4 = ["a", "b", "c", "d"]
    edges = [
        ("a", "<->", "b"),
        ("b", "<->", "c"),
        ("c", "<->", "d"),
        ("b", "-->", "d"),
        ("c", "-->", "a"),
    ]
    assert brute_ancestral(nodes4, edges)
    separable = any(
        d_separated(canonical_dag(nodes4, edges), "a", "d", set(z))
        for r in range(3)
        for z in itertools.combinations(["b", "c"], r)
    )
    assert not separable
    assert not is_maximal(MixedGraph.from_graph(build(nodes4, edges)))


def test_a_non_chordal_circle_component_is_not_a_pag():
    graph = build(
        ["a", "b", "c", "d"],
        [("a", "o-o", "b"), ("b", "o-o", "c"), ("c", "o-o", "d"), ("d", "o-o", "a")],
    )
    with pytest.raises(Exception, match="chordal"):
        pag_to_mag(graph)


def test_a_pag_whose_mag_has_a_cycle_is_not_valid():
    graph = build(["a", "b", "c"], [("a", "o->", "b"), ("b", "o->", "c"), ("c", "o->", "a")])
    with pytest.raises(GraphError, match="not valid"):
        pag_to_mag(graph)


def test_a_mag_given_as_the_graph_is_its_own_class():
    mag = build(
        ["s", "o", "d", "m", "b"],
        [("s", "-->", "o"), ("o", "-->", "d"), ("d", "-->", "m"), ("m", "<->", "b")],
    )
    result = check(mag, Roles("s", ("b",), ("m",), ("d",), ("o",)))
    # Conditioning on the collider m opens s --> o --> d --> m <-> b.
    assert result.n_dags == 1 and result.verdict == "none"
    assert result.fail_witness.open_path == ("s", "o", "d", "m", "b")
    assert graph_triples(result.latent.mags[0].mag) == graph_triples(mag)


def test_selection_bias_marks_are_rejected():
    with pytest.raises(Exception, match="selection bias"):
        pag_to_mag(build(["a", "b"], [("a", "---", "b")]))


def test_sigma_mag_removes_arrowheads_at_the_decision_and_adds_inputs():
    mag = build(
        ["s", "o", "d", "m"],
        [("s", "-->", "o"), ("o", "<->", "d"), ("s", "-->", "d"), ("d", "-->", "m")],
    )
    sigma, violation = sigma_mag(mag, ["d"], ["o"])
    assert violation is None
    assert graph_triples(sigma) == normal_form(
        [("s", "-->", "o"), ("o", "-->", "d"), ("d", "-->", "m")]
    )
    _, violation = sigma_mag(mag, ["d"], ["m"])
    assert violation == ["d", "m", "d"]
    # An almost directed cycle: o <-> m, and reading o gives o --> d --> m. A
    # latent confounds o and m; the policy is possible (tests/test_pag_truth.py).
    mag2 = build(["o", "d", "m"], [("o", "<->", "m"), ("d", "-->", "m")])
    sigma2, violation = sigma_mag(mag2, ["d"], ["o"])
    assert violation is None
    assert graph_triples(sigma2) == normal_form(
        [("o", "<->", "m"), ("o", "-->", "d"), ("d", "-->", "m")]
    )
    # A longer directed cycle: reading a descendant of d through m.
    mag3 = build(["o", "d", "m"], [("d", "-->", "m"), ("m", "-->", "o")])
    _, violation = sigma_mag(mag3, ["d"], ["o"])
    assert violation == ["d", "m", "o", "d"]


# ------------------------------------------------------------------ the verdict over MAGs
def brute_verdict(nodes, members, roles):
    """Counts (n, hold, fail, invalid) over the MAGs with the regime a root, by brute force."""
    s, d = roles.regime, roles.decision[0]
    kept = [m for m in members if all(u == s for u, _k, v in m if s in (u, v))]
    kept = [m for m in kept if all(k == "-->" for u, k, v in m if s in (u, v))]
    hold = fail = invalid = 0
    for member in kept:
        edges = list(member)
        if roles.policy_inputs is not None:
            edges = [(u, k, v) for u, k, v in edges if not (v == d or (k == "<->" and u == d))]
            adjacent = {u for u, _k, v in edges if v == d} | {v for u, _k, v in edges if u == d}
            if adjacent & set(roles.policy_inputs):
                invalid += 1
                continue
            edges += [(p, "-->", d) for p in roles.policy_inputs]
            # Only a directed cycle makes the policy impossible; an almost
            # directed one is a latent confounder the policy leaves in place.
            directed = nx.DiGraph([(u, v) for u, k, v in edges if k == "-->"])
            if not nx.is_directed_acyclic_graph(directed):
                invalid += 1
                continue
        dag = canonical_dag(nodes, edges)
        if nx.is_d_separator(dag, {s}, set(roles.base), set(roles.mesa)):
            hold += 1
        else:
            fail += 1
    return len(kept), hold, fail, invalid


@pytest.mark.parametrize("seed", SEEDS)
def test_verdict_counts_over_mags_match_brute_force(seed):
    nodes, _mag, members = case(seed)
    if len(nodes) < 4:
        pytest.skip("needs four roles")
    pag = pag_of(nodes, members)
    rng = random.Random(seed)
    for _draw in range(4):
        s, base, mesa, decision = rng.sample(nodes, 4)
        rest = [v for v in nodes if v != decision]
        policy = None if rng.random() < 0.3 else tuple(rng.sample(rest, rng.randint(0, 2)))
        roles = Roles(s, (base,), (mesa,), (decision,), policy)
        arrow_at_s = any(pag.mark(v, s) == Mark.ARROW for v in pag.adjacent(s))
        n, hold, fail, invalid = brute_verdict(nodes, members, roles)
        if arrow_at_s or n == 0:
            with pytest.raises(GraphError, match="regime"):
                check(pag, roles)
            continue
        result = check(pag, roles)
        assert isinstance(result, PagCheckResult)
        assert (result.n_dags, result.n_hold, result.n_fail, result.n_invalid) == (
            n,
            hold,
            fail,
            invalid,
        )
        if policy is None:
            assert result.verdict in ("all", "none")
        if result.fail_witness is not None:
            sigma = result.fail_witness.sigma_graph
            check_connecting(sigma, list(result.fail_witness.open_path), s, base, {mesa})
        if result.hold_witness is not None:
            assert is_m_separated(result.hold_witness.sigma_graph, {s}, {base}, {mesa})
        assert sum(p.n_dags for p in result.parent_sets) == n


# ------------------------------------------------------------------ edge cases of the checker
def test_keep_mode_decides_in_one_mag_when_the_class_is_too_large_to_list(monkeypatch):
    nodes, _mag, members = case(39)  # 219 MAGs
    pag = pag_of(nodes, members)
    roles = Roles("X2", ("X3",), ("X0",), ("X1",), None)
    listed = check(pag, roles)
    monkeypatch.setattr(pag_checker, "KEEP_SEARCH_STEPS", 3)
    one = check(pag, roles)
    assert listed.latent.n_mags == listed.n_dags > 1
    assert one.latent.n_mags is None and not one.latent.enumerated
    assert one.n_dags == 1 and one.verdict == listed.verdict
    document = check_result_to_dict(one)
    assert document["latent"]["enumerated"] is False and document["latent"]["n_mags"] is None
    monkeypatch.setattr(pag_checker, "MAX_SEARCH_STEPS", 3)
    with pytest.raises(ClassTooLargeError, match="MAGs of this PAG"):
        check(pag, Roles("X2", ("X3",), ("X0",), ("X1",), ()))


def test_an_arrowhead_at_the_regime_is_an_input_error():
    pag = build(["s", "m", "b", "d"], [("m", "o->", "s"), ("m", "o->", "b"), ("d", "-->", "m")])
    with pytest.raises(GraphError, match="arrowhead at the regime 's'"):
        check(pag, Roles("s", ("b",), ("m",), ("d",), None))


# ------------------------------------------------------------------ end to end
PAG_NONE = """Graph Nodes:
regime;obs;action;value;reward

Graph Edges:
1. regime o-o obs
2. obs o-o action
3. action o-> value
4. reward o-> value
"""

# A policy that reads the regime: in the one MAG with action --> reward it
# opens regime --> action --> reward; in the other four the edge points
# into action (or is confounded) and the policy cuts it.
PAG_SOME = """Graph Nodes:
regime;reward;action;value

Graph Edges:
1. reward o-o action
2. reward o-o value
"""


def test_check_graph_on_a_pag_file_reports_counts_over_mags(tmp_path):
    graph = tmp_path / "pag.txt"
    graph.write_text(PAG_SOME)
    out, html = tmp_path / "result.json", tmp_path / "report.html"
    args = ["check-graph", str(graph), "--base", "reward", "--mesa", "value"]
    args += ["--decision", "action", "--policy-inputs", "regime"]
    result = CliRunner().invoke(cli, [*args, "--json", str(out), "--html", str(html)])
    assert result.exit_code == 3, result.output
    assert "every count below is over MAGs" in result.output
    assert "holds in 4 of 5 MAGs" in " ".join(result.output.split())
    document = json.loads(out.read_text())
    assert document["verdict"] == "some"
    assert (document["n_dags"], document["n_hold"], document["n_fail"]) == (5, 4, 1)
    latent = document["latent"]
    assert latent["class"] == "pag" and latent["unit"] == "MAG"
    assert latent["n_mags"] == 5 and latent["enumerated"] is True
    assert latent["sound"] is True and latent["complete"] is False
    assert any("exogenous and unconfounded" in a for a in latent["assumptions"])
    assert any("arrowhead at the decision" in a for a in latent["assumptions"])
    assert [m["status"] for m in latent["mags"]].count("fail") == 1
    failing = next(m for m in latent["mags"] if m["status"] == "fail")
    assert failing["open_path"] == ["regime", "action", "reward"]
    assert document["witnesses"]["fail"]["open_path"] == ["regime", "action", "reward"]
    assert ["reward", "o-o", "action"] in latent["pag"]
    page = html.read_text()
    assert 'id="latent"' in page and "Latent confounding" in page
    assert "Sound approximation, not complete." in page
    assert "MAGs in the class" in page and "holds in 4 of 5 MAGs" in page
    assert (
        "exogenous and unconfounded" in page and "Zhang" in page and "Wang, Du &amp; Zhou" in page
    )


def test_check_graph_on_a_pag_with_keep_and_bad_inputs(tmp_path):
    graph = tmp_path / "pag.txt"
    graph.write_text(PAG_NONE)
    args = ["check-graph", str(graph), "--base", "reward", "--mesa", "value", "--decision"]
    result = CliRunner().invoke(cli, [*args, "action", "--json", "-"])
    assert result.exit_code == 4
    document = json.loads(result.stdout)
    assert document["verdict"] == "none" and document["latent"]["n_mags"] == 2
    assert document["witnesses"]["fail"]["open_path"] == [
        "regime",
        "obs",
        "action",
        "value",
        "reward",
    ]
    listing = CliRunner().invoke(cli, [*args, "action", "--list-dags", "3"])
    assert listing.exit_code == 1 and "PAG" in listing.output
    assert "Traceback" not in listing.output
    graph.write_text(PAG_NONE.replace("regime o-o obs", "regime <-o obs"))
    bad = CliRunner().invoke(cli, [*args, "action"])
    assert bad.exit_code == 1 and "arrowhead at the regime" in bad.output


def write_confounded_logs(folder, rows: int = 3000, seed: int = 0) -> dict:
    """regime --> obs --> action --> value <-- U --> reward, with U latent (not logged)."""
    rng = np.random.default_rng(seed)
    paths = {}
    for code, name in enumerate(["train", "deploy"]):
        latent = rng.normal(size=rows)
        obs = rng.normal(size=rows) + 1.5 * code
        action = 0.9 * obs + rng.normal(size=rows)
        value = 0.9 * action + 0.9 * latent + rng.normal(size=rows)
        reward = 0.9 * latent + rng.normal(size=rows)
        frame = pd.DataFrame({"obs": obs, "action": action, "value": value, "reward": reward})
        target = folder / name
        target.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(target / "part-0.parquet")
        paths[name] = str(target / "part-0.parquet")
    return paths


def run_fci_on_confounded_logs(folder: pathlib.Path) -> tuple[Result, pathlib.Path]:
    """``mesalens run --method fci`` on :func:`write_confounded_logs`: the CLI result and --out."""
    paths = write_confounded_logs(folder / "logs")
    out = folder / "out"
    args = ["run", "--regime", f"train={paths['train']}", "--regime", f"deploy={paths['deploy']}"]
    args += ["--base", "reward", "--mesa", "value", "--decision", "action"]
    args += ["--policy-inputs", "obs", "--method", "fci", "--out", str(out)]
    return CliRunner().invoke(cli, args), out


def test_run_with_fci_checks_the_pag_over_its_mags(tmp_path):
    result, out = run_fci_on_confounded_logs(tmp_path)
    # The truth: given value, regime --> ... --> value <-- U --> reward is open.
    assert result.exit_code == 4, result.output
    document = json.loads((out / "result.json").read_text())
    assert document["verdict"] == "none"
    kinds = {kind for _u, kind, _v in document["learned_graph"]}
    assert kinds & {"o->", "<->", "o-o"}
    latent = document["latent"]
    assert latent["class"] == "pag" and latent["n_mags"] == document["n_dags"] >= 1
    assert all(m["status"] == "fail" for m in latent["mags"])
    assert document["witnesses"]["fail"]["open_path"][0] == "regime"
    page = (out / "report.html").read_text()
    assert 'id="latent"' in page and "Sound approximation, not complete." in page
