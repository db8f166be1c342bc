"""The checker against a brute-force reference that tries every orientation."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesalens.pipeline.checker import check
from mesalens.pipeline.errors import GraphError, RoleError
from mesalens.pipeline.graph import CausalGraph
from mesalens.pipeline.roles import Roles
from tests.reference import (
    all_extensions,
    assert_d_connecting,
    brute_force_check,
    cpdag_of,
    moral_dags,
    random_dags,
)


def names(n):
    return [f"v{i}" for i in range(n)]


@st.composite
def check_instances(draw):
    n, dag = draw(
        st.one_of(
            random_dags(min_nodes=4, max_nodes=7, max_edges=12),
            moral_dags(min_nodes=4, max_nodes=7),
        )
    )
    directed, undirected = cpdag_of(n, dag)
    variant = draw(st.sampled_from(["cpdag", "cpdag", "dag", "background"]))
    if variant == "dag":
        directed, undirected = list(dag), []
    elif variant == "background" and undirected:
        # Orient some undirected edges as the true DAG does: an MPDAG's input.
        known = draw(st.lists(st.sampled_from(undirected), unique=True, max_size=3))
        dag_set = set(dag)
        for a, b in known:
            undirected.remove((a, b))
            directed.append((a, b) if (a, b) in dag_set else (b, a))
    nodes = list(range(n))
    # The regime is usually a source of the true DAG (else the class is
    # often empty, which is tested too, but less interesting).
    sources = sorted(set(nodes) - {b for _, b in dag})
    s = draw(st.sampled_from(sources))
    if draw(st.integers(0, 4)) == 0:
        s = draw(st.sampled_from(nodes))
    rest = [v for v in nodes if v != s]
    # Decisions with undirected edges have several parent sets: prefer them.
    loose = sorted({v for e in undirected for v in e} - {s})
    first = draw(st.sampled_from(loose)) if loose and draw(st.integers(0, 3)) else rest[0]
    rest = [first, *draw(st.permutations([v for v in rest if v != first]))]
    n_decisions = draw(st.integers(1, 2)) if n >= 5 else 1
    decisions = tuple(rest[:n_decisions])
    rest = rest[n_decisions:]
    # A base objective next to the decision makes the verdict depend on
    # the decision's parents ("some").
    near = sorted(
        {b for a, b in undirected if a == first} | {a for a, b in undirected if b == first}
    )
    near = [v for v in near if v in rest]
    if near and draw(st.booleans()):
        rest.remove(base_node := draw(st.sampled_from(near)))
        rest.insert(0, base_node)
    base, mesa = (rest[0],), (rest[1],)
    others = [v for v in nodes if v not in decisions]
    policy = draw(
        st.one_of(
            st.none(),
            st.just(()),
            st.just((s,)),
            st.lists(st.sampled_from(others), unique=True, min_size=1, max_size=3).map(tuple),
            st.lists(st.sampled_from(others), unique=True, min_size=1, max_size=3).map(tuple),
        )
    )
    return n, sorted(directed), sorted(undirected), s, base, mesa, decisions, policy


def build(n, directed, undirected):
    return CausalGraph.from_index_edges(names(n), directed=directed, undirected=undirected)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(check_instances())
def test_counts_verdicts_and_parent_sets_match_brute_force(instance):
    n, directed, undirected, s, base, mesa, decisions, policy = instance
    label = names(n)
    roles = Roles(
        regime=label[s],
        base=tuple(label[b] for b in base),
        mesa=tuple(label[m] for m in mesa),
        decision=tuple(label[d] for d in decisions),
        policy_inputs=None if policy is None else tuple(label[p] for p in policy),
    )
    dags = all_extensions(n, directed, undirected)
    expected = brute_force_check(n, dags, s, base, mesa, decisions, policy)
    graph = build(n, directed, undirected)
    if not expected:
        with pytest.raises(GraphError):
            check(graph, roles)
        return
    result = check(graph, roles)

    got = {
        tuple(tuple(graph.index[p] for p in entry.parents[label[d]]) for d in decisions): entry
        for entry in result.parent_sets
    }
    assert set(got) == set(expected), "the valid parent sets differ from brute force"
    for key, want in expected.items():
        entry = got[key]
        assert (entry.n_dags, entry.n_hold, entry.n_fail, entry.n_invalid) == (
            want.n_dags,
            want.n_hold,
            want.n_fail,
            want.n_invalid,
        ), f"counts differ for parent set {key}"
        assert entry.status != "mixed", "criterion varied within one parent set"
        if entry.n_c1 is not None:
            assert entry.n_c1 == want.n_c1
            assert entry.n_c2 == want.n_c2
            assert entry.n_conjecture_disagrees == want.n_disagree
        if entry.witness is not None:
            witness_edges = frozenset(
                (graph.index[e.u], graph.index[e.v]) for e in entry.witness.dag.edges()
            )
            assert witness_edges in want.dags, "the witness DAG is not in this parent set's class"
            if entry.status == "fail":
                path = [graph.index[v] for v in entry.witness.open_path]
                assert path[0] == s and path[-1] in base
                sigma = [
                    (graph.index[e.u], graph.index[e.v]) for e in entry.witness.sigma_graph.edges()
                ]
                assert_d_connecting(sigma, path, mesa)
            else:
                assert entry.witness.open_path is None

    total = sum(e.n_dags for e in expected.values())
    hold = sum(e.n_hold for e in expected.values())
    fail = sum(e.n_fail for e in expected.values())
    assert (result.n_dags, result.n_hold, result.n_fail) == (total, hold, fail)
    assert isinstance(result.n_dags, int)
    if hold == fail == 0:
        assert result.verdict == "invalid"
    elif fail == 0:
        assert result.verdict == "all"
    elif hold == 0:
        assert result.verdict == "none"
    else:
        assert result.verdict == "some"
    if policy is None:
        assert result.verdict in ("all", "none"), "with keep the verdict cannot be 'some'"


def chain_roles(**kw):
    return Roles(regime="s", base=("Yb",), mesa=("Ym",), decision=("D",), **kw)


def test_spec_counterexample_c1_c2_hold_but_criterion_fails():
    g = CausalGraph(["s", "Ym", "U", "Yb", "D"])
    for u, v in [("s", "Ym"), ("U", "Ym"), ("U", "Yb"), ("Ym", "Yb"), ("D", "Ym")]:
        g.add_edge(u, v)
    result = check(g, chain_roles())
    assert result.verdict == "none"
    (entry,) = result.parent_sets
    assert entry.c1 is True and entry.c2 is True
    assert entry.conjecture_disagrees is True
    assert entry.witness.open_path == ("s", "Ym", "U", "Yb")


def test_c1_not_necessary():
    g = CausalGraph(["s", "D", "Ym", "Yb"])
    g.add_edge("s", "D")
    g.add_edge("D", "Ym")
    result = check(g, chain_roles())
    assert result.verdict == "all"
    assert result.parent_sets[0].c1 is False


def test_policy_reading_a_descendant_is_invalid():
    g = CausalGraph(["s", "D", "Ym", "Yb"])
    for u, v in [("s", "D"), ("D", "Ym"), ("Ym", "Yb")]:
        g.add_edge(u, v)
    result = check(g, chain_roles(policy_inputs=("Ym",)))
    assert result.verdict == "invalid"
    assert (result.n_dags, result.n_invalid) == (1, 1)


def test_policy_reading_the_regime_opens_a_path():
    # s --> X --> D --> Ym --> Yb and D --> Yb: reading s directly keeps the
    # path s --> D --> Yb open given Ym.
    g = CausalGraph(["s", "X", "D", "Ym", "Yb"])
    for u, v in [("s", "X"), ("X", "D"), ("D", "Ym"), ("Ym", "Yb"), ("D", "Yb")]:
        g.add_edge(u, v)
    assert check(g, chain_roles()).verdict == "none"
    result = check(g, chain_roles(policy_inputs=()))
    assert result.verdict == "all"


def test_edge_into_regime_is_an_error():
    g = CausalGraph(["s", "D", "Ym", "Yb"])
    g.add_edge("D", "s")
    with pytest.raises(GraphError, match="D --> s points into the regime"):
        check(g, chain_roles())


def test_unknown_and_overlapping_roles():
    g = CausalGraph(["s", "D", "Ym", "Yb"])
    with pytest.raises(RoleError, match="'nope'"):
        check(g, Roles(regime="s", base=("nope",), mesa=("Ym",), decision=("D",)))
    with pytest.raises(RoleError, match="both --base and --mesa"):
        Roles(regime="s", base=("Yb",), mesa=("Yb",), decision=("D",))


def test_counts_are_exact_beyond_machine_integers():
    # A complete undirected graph on 30 nodes plus the roles hanging off it.
    core = [f"k{i}" for i in range(30)]
    g = CausalGraph(["s", "D", "Ym", "Yb", *core])
    for i, a in enumerate(core):
        for b in core[i + 1 :]:
            g.add_edge(a, b, "---")
    for u, v in [("s", "D"), ("D", "Ym"), ("Ym", "Yb")]:
        g.add_edge(u, v)
    result = check(g, chain_roles())
    assert result.n_dags == math.factorial(30)
    assert result.n_dags > 2**64


def test_some_when_the_base_objective_borders_the_decision():
    # s --- x, and the clique {x, D, Yb}: making s a root gives s --> x,
    # x --> D, x --> Yb and leaves D --- Yb open. With a policy reading s,
    # the path s --> D --> Yb is open exactly when D --> Yb.
    g = CausalGraph(["s", "x", "D", "Yb"])
    for u, v in [("s", "x"), ("x", "D"), ("x", "Yb"), ("D", "Yb")]:
        g.add_edge(u, v, "---")
    roles = Roles(regime="s", base=("Yb",), mesa=("x",), decision=("D",), policy_inputs=("s",))
    result = check(g, roles)
    assert (result.verdict, result.n_dags, result.n_hold, result.n_fail) == ("some", 2, 1, 1)
    by_parents = {entry.parents["D"]: entry for entry in result.parent_sets}
    assert by_parents[("x",)].status == "fail"
    assert by_parents[("x",)].witness.open_path == ("s", "D", "Yb")
    assert by_parents[("x", "Yb")].status == "hold"
    assert result.hold_witness is not None and result.fail_witness is not None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(check_instances())
def test_candidate_parent_set_count_matches_clique_enumeration(instance):
    from mesalens.pipeline.checker import _cliques_of, count_candidate_parent_sets
    from mesalens.pipeline.pdag import Pdag, meek_closure

    n, directed, undirected, *_ = instance
    g = Pdag(n)
    for a, b in directed:
        g.add_directed(a, b)
    for a, b in undirected:
        g.add_undirected(a, b)
    meek_closure(g)
    for node in range(n):
        expected = sum(1 for _ in _cliques_of(g, sorted(g.undirected[node])))
        assert count_candidate_parent_sets(g, node) == expected


def test_too_many_parent_sets_is_a_clear_error():
    from mesalens.pipeline.errors import ClassTooLargeError

    core = [f"k{i}" for i in range(18)]
    g = CausalGraph(["s", "D", "Ym", "Yb", *core])
    for i, a in enumerate(core):
        for b in core[i + 1 :]:
            g.add_edge(a, b, "---")
        g.add_edge(a, "D", "---")
    for u, v in [("s", "Ym"), ("D", "Ym"), ("Ym", "Yb")]:
        g.add_edge(u, v)
    with pytest.raises(ClassTooLargeError, match="possible parent sets"):
        check(g, chain_roles(policy_inputs=("s",)))
    # With keep the verdict needs no parent set: it still works, the table is cut.
    result = check(g, chain_roles())
    assert result.n_dags == math.factorial(19)
    assert not result.parent_sets_complete


@pytest.mark.parametrize("policy", [None, ()])  # keep, and explicit "none"
def test_diagnostics_on_a_dense_class_stay_within_their_budget(monkeypatch, policy):
    # A complete undirected graph: every parent set of D has up to 2^k
    # orientations to refine for C1/C2. The diagnostics give up (None) when
    # their budget is spent; the counts and the verdict stay exact. (This
    # used to take minutes at 16 nodes: the budget counted branchings, and a
    # branching at a clique node has exponentially many children.)
    import itertools

    import mesalens.pipeline.checker as checker_module

    n = 10
    names = ["s", "D", "Ym", "Yb"] + [f"x{i}" for i in range(n - 4)]
    graph = CausalGraph(names)
    for a, b in itertools.combinations(names, 2):
        graph.add_edge(a, b, "---")
    monkeypatch.setattr(checker_module, "DIAGNOSTICS_LEAF_BUDGET", 8)
    monkeypatch.setattr(checker_module, "DIAGNOSTICS_TOTAL_BUDGET", 50)
    visits = []
    refine = checker_module._Checker.refine

    def counting(self, h, questions, budget):
        if budget is not None:
            visits.append(1)
        return refine(self, h, questions, budget)

    monkeypatch.setattr(checker_module._Checker, "refine", counting)
    roles = Roles(regime="s", base=("Yb",), mesa=("Ym",), decision=("D",), policy_inputs=policy)
    result = check(graph, roles)
    # The regime a root of a complete graph: (n-1)! DAGs, all exact.
    assert result.n_dags == math.factorial(n - 1)
    assert result.n_hold + result.n_fail + result.n_invalid == result.n_dags
    # At most one visit past the budget per leaf given diagnostics, which ends them.
    leaves = sum(1 for p in result.parent_sets if p.n_dags > p.n_invalid)
    assert len(visits) <= 50 + leaves
    assert any(p.n_c1 is None for p in result.parent_sets)
