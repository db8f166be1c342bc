"""Tests of the discovery layer: knowledge, one-pass statistics, and the searches.

The reference points share no code with mesalens' discovery: d-separation
from networkx, CPDAGs and Markov equivalence classes from ``graphical_models``,
and causal-learn's own searches run on the raw arrays.
"""

from __future__ import annotations

import itertools
import math

import dask
import dask.dataframe as dd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from causallearn.graph.GraphNode import GraphNode
from causallearn.search.ConstraintBased.FCI import fci
from causallearn.search.ConstraintBased.PC import pc
from causallearn.search.ScoreBased.GES import ges
from causallearn.utils.cit import Chisq_or_Gsq, FisherZ
from causallearn.utils.PCUtils.BackgroundKnowledge import BackgroundKnowledge
from dask.callbacks import Callback
from graphical_models import DAG

from mesalens.connectors.errors import InputError
from mesalens.pipeline.ci_tests import (
    KCI_MAX_ROWS,
    DegenerateGaussianTest,
    IndependenceTest,
    make_test,
)
from mesalens.pipeline.discovery import discover
from mesalens.pipeline.errors import DiscoveryError
from mesalens.pipeline.formats.causallearn import from_causallearn
from mesalens.pipeline.graph import CausalGraph
from mesalens.pipeline.knowledge import Knowledge, KnowledgeError, read_tetrad_knowledge
from mesalens.pipeline.statistics import StatisticsError, compute_statistics

# ======================================================================= helpers


class DSeparationOracle(IndependenceTest):
    """Answers x ⟂ y | S from d-separation in a known DAG (which may hold latents)."""

    name = "oracle"

    def __init__(self, dag: nx.DiGraph, names):
        self.dag = dag
        self.names = list(names)

    def __call__(self, x, y, conditioning):
        separated = nx.is_d_separator(
            self.dag, {self.names[x]}, {self.names[y]}, {self.names[s] for s in conditioning}
        )
        return math.nan, 1.0 if separated else 0.0


def placeholder_stats(names):
    """Statistics with the right columns, for tests whose answers come from an oracle."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(50, len(names))), columns=list(names))
    return compute_statistics(frame, dict.fromkeys(names, "continuous"))


def edges_of(graph: CausalGraph) -> set[str]:
    return {str(e) for e in graph.edges()}


def linear_sem(seed, n=2000, p=6):
    """A random linear Gaussian SEM whose first column is a binary regime (a root)."""
    rng = np.random.default_rng(seed)
    data = np.zeros((n, p))
    data[:, 0] = rng.integers(0, 2, n)
    weights = rng.uniform(0.5, 1.5, (p, p)) * rng.choice([-1, 1], (p, p))
    weights = np.triu(weights * (rng.random((p, p)) < 0.5), 1)
    for j in range(1, p):
        data[:, j] = data[:, :j] @ weights[:j, j] + rng.normal(size=n)
    return data


def discrete_bn(seed, n=2000, p=6):
    """A random discrete Bayesian network; column 0 is a binary regime (a root)."""
    rng = np.random.default_rng(seed)
    cards = [2, *rng.integers(2, 4, p - 1)]
    data = np.zeros((n, p), dtype=np.int64)
    data[:, 0] = rng.integers(0, 2, n)
    for j in range(1, p):
        parents = [i for i in range(j) if rng.random() < 0.5][:2]
        logits = np.zeros((n, cards[j]))
        for i in parents:
            logits += rng.normal(0, 1.5, (cards[i], cards[j]))[data[:, i]]
        prob = np.exp(logits)
        prob /= prob.sum(axis=1, keepdims=True)
        data[:, j] = (prob.cumsum(axis=1) < rng.random(n)[:, None]).sum(axis=1)
    return data


NAMES = ["regime", "x1", "x2", "x3", "x4", "x5"]


def regime_knowledge(names):
    """causal-learn's own knowledge that nothing points into names[0]."""
    nodes = [GraphNode(name) for name in names]
    bk = BackgroundKnowledge()
    for node in nodes[1:]:
        bk.add_forbidden_by_node(node, nodes[0])
    return bk


def gaussian_stats(data, names=NAMES, npartitions=4):
    frame = pd.DataFrame(data, columns=names).astype({names[0]: np.int64})
    kinds = dict.fromkeys(names, "continuous")
    kinds[names[0]] = "discrete"
    return compute_statistics(dd.from_pandas(frame, npartitions=npartitions), kinds)


# ======================================================================= (i) oracle


def random_dag(seed, n):
    rng = np.random.default_rng(seed)
    order = list(range(n))
    arcs = {(i, j) for i, j in itertools.combinations(order, 2) if rng.random() < 0.4}
    return arcs


@pytest.mark.parametrize("seed", range(12))
def test_pc_with_a_d_separation_oracle_returns_the_true_class(seed):
    n = 7
    arcs = random_dag(seed, n)
    names = [f"v{i}" for i in range(n)]
    names[0] = "regime"  # node 0 comes first in the order: a root, as a regime is
    dag = nx.DiGraph()
    dag.add_nodes_from(names)
    dag.add_edges_from((names[i], names[j]) for i, j in arcs)
    result = discover(placeholder_stats(names), test=DSeparationOracle(dag, names), regime="regime")

    reference = DAG(nodes=set(range(n)), arcs=arcs)
    cpdag = reference.cpdag()
    # The regime is exogenous: the class is the DAGs of the Markov equivalence
    # class in which the regime is a root. An edge is directed in the result
    # iff all of them agree on it (Meek 1995).
    dags = [d for d in cpdag.all_dags() if not any(j == 0 for _, j in d)]
    assert frozenset(arcs) in dags
    expected = set()
    for i, j in {tuple(sorted(a)) for a in arcs}:
        forward = all((i, j) in d for d in dags)
        backward = all((j, i) in d for d in dags)
        if forward:
            expected.add(f"{names[i]} --> {names[j]}")
        elif backward:
            expected.add(f"{names[j]} --> {names[i]}")
        else:
            expected.add(f"{names[i]} --- {names[j]}")
    assert edges_of(result.graph) == expected
    if len(dags) == len(cpdag.all_dags()):  # the regime adds nothing: exactly the CPDAG
        got = {
            (names.index(e.u), names.index(e.v)) for e in result.graph.edges() if e.kind == "-->"
        }
        assert got == set(cpdag.arcs)
        got_undirected = {
            frozenset((names.index(e.u), names.index(e.v)))
            for e in result.graph.edges()
            if e.kind == "---"
        }
        assert got_undirected == {frozenset(e) for e in cpdag.edges}
    # Every test the search ran was recorded with the oracle's answer.
    for record in result.ci_tests:
        separated = nx.is_d_separator(dag, {record.x}, {record.y}, set(record.conditioning_set))
        assert record.decision == ("independent" if separated else "dependent")


def test_pc_oracle_without_regime_edges_equals_graphical_models_cpdag():
    # The regime is isolated, so its knowledge orients nothing: the exact CPDAG.
    names = ["regime", "a", "b", "c", "d", "e"]
    arcs = {(1, 2), (3, 2), (2, 4), (4, 5), (1, 5)}
    dag = nx.DiGraph([(names[i], names[j]) for i, j in arcs])
    dag.add_node("regime")
    result = discover(placeholder_stats(names), test=DSeparationOracle(dag, names), regime="regime")
    cpdag = DAG(nodes=set(range(6)), arcs=arcs).cpdag()
    expected = {f"{names[i]} --> {names[j]}" for i, j in cpdag.arcs}
    expected |= {f"{names[min(e)]} --- {names[max(e)]}" for e in map(tuple, cpdag.edges)}
    assert edges_of(result.graph) == expected


def mag_skeleton(dag, observed):
    """Observed pairs that no set of other observed nodes d-separates (MAG adjacency)."""
    pairs = set()
    for a, b in itertools.combinations(observed, 2):
        others = [v for v in observed if v not in (a, b)]
        if not any(
            nx.is_d_separator(dag, {a}, {b}, set(s))
            for k in range(len(others) + 1)
            for s in itertools.combinations(others, k)
        ):
            pairs.add(frozenset((a, b)))
    return pairs


def test_fci_with_a_d_separation_oracle_returns_the_pag_of_a_latent_confounder():
    # A --> B <-- L --> C <-- D with L latent; the regime R is a root before A.
    dag = nx.DiGraph([("R", "A"), ("A", "B"), ("L", "B"), ("L", "C"), ("D", "C")])
    names = ["R", "A", "B", "C", "D"]
    result = discover(
        placeholder_stats(names), method="fci", test=DSeparationOracle(dag, names), regime="R"
    )
    skeleton = {frozenset((e.u, e.v)) for e in result.graph.edges()}
    assert skeleton == mag_skeleton(dag, names)
    # The classic PAG A o-> B <-> C <-o D, plus what the exogenous regime
    # licenses: R --> A (no latent parent), hence A --> B by FCI's rule R1.
    assert edges_of(result.graph) == {"R --> A", "A --> B", "B <-> C", "D o-> C"}
    assert result.graph.kind() == "pag"


# ======================================================================= (ii) raw parity


@pytest.mark.parametrize("seed", range(4))
def test_pc_on_statistics_equals_causallearn_pc_on_the_raw_array(seed):
    data = linear_sem(seed)
    stats = gaussian_stats(data)
    for alpha in (0.01, 0.05):
        ours = discover(stats, alpha=alpha, test="fisherz", regime="regime")
        theirs = pc(
            data,
            alpha,
            "fisherz",
            background_knowledge=regime_knowledge(NAMES),
            node_names=NAMES,
            show_progress=False,
        )
        assert ours.graph == from_causallearn(theirs.G, NAMES)
        raw_test = FisherZ(data)
        for record in ours.ci_tests:
            i, j = NAMES.index(record.x), NAMES.index(record.y)
            cond = [NAMES.index(s) for s in record.conditioning_set]
            assert record.p_value == pytest.approx(raw_test(i, j, cond), abs=1e-10)
    # "auto" picks Fisher's z for a binary regime with continuous columns.
    assert discover(stats, regime="regime").settings["test"] == "fisherz"


@pytest.mark.parametrize("seed", range(4))
def test_ges_on_the_covariance_equals_causallearn_ges_on_the_raw_array(seed):
    data = linear_sem(seed)
    ours = discover(gaussian_stats(data), method="ges", regime="regime")
    theirs = from_causallearn(ges(data, score_func="local_score_BIC", node_names=NAMES)["G"], NAMES)
    # Then the regime-root knowledge GES cannot take: regime --- x oriented out, Meek-closed
    # (checked against brute force in tests/test_run_kci.py).
    from mesalens.pipeline.pdag import Pdag, orient_and_close

    pdag = Pdag.from_graph(theirs)
    orient_and_close(pdag, NAMES.index("regime"), ())
    assert ours.graph == pdag.to_graph(NAMES)
    assert ours.ci_tests == []


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("test", ["gsq", "chisq"])
def test_discrete_pc_on_counts_equals_causallearn_on_the_raw_array(seed, test):
    data = discrete_bn(seed)
    frame = pd.DataFrame({name: data[:, i] for i, name in enumerate(NAMES)})
    for name in NAMES[1:4]:  # some categorical columns with string labels
        frame[name] = pd.Categorical(np.array(list("abc"))[frame[name]])
    stats = compute_statistics(
        dd.from_pandas(frame, npartitions=3), dict.fromkeys(NAMES, "discrete")
    )
    ours = discover(stats, alpha=0.05, test=test, regime="regime")
    theirs = pc(
        data,
        0.05,
        test,
        background_knowledge=regime_knowledge(NAMES),
        node_names=NAMES,
        show_progress=False,
    )
    assert ours.graph == from_causallearn(theirs.G, NAMES)
    raw_test = Chisq_or_Gsq(data, test)
    for record in ours.ci_tests:
        i, j = NAMES.index(record.x), NAMES.index(record.y)
        cond = [NAMES.index(s) for s in record.conditioning_set]
        assert record.p_value == pytest.approx(raw_test(i, j, cond), abs=1e-12)
    if test == "gsq":
        assert discover(stats, regime="regime").settings["test"] == "gsq"


# ======================================================================= (iii) knowledge

KNOWLEDGE_FILE = """\
/knowledge
// the regime comes first
addtemporal
1 regime
2* x1 x2
3 x3

forbiddirect
x1 x3

requiredirect
x2 x3
"""


def test_tetrad_knowledge_file_is_parsed():
    k = read_tetrad_knowledge(KNOWLEDGE_FILE, "k.txt")
    assert k.tiers == [["regime"], ["x1", "x2"], ["x3"]]
    assert k.forbidden_within == {1}
    assert k.forbidden == {("x1", "x3")}
    assert k.required == {("x2", "x3")}
    assert k.is_forbidden("x3", "x1") and k.is_forbidden("x1", "x3")
    assert k.is_forbidden("x1", "x2") and k.is_forbidden("x2", "x1")  # starred tier
    assert k.is_forbidden("x1", "regime") and not k.is_forbidden("regime", "x1")
    k.validate(NAMES)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("x1 x2\n", 1, "outside any section"),
        ("addtemporal\nfirst x1\n", 2, "positive tier number"),
        ("addtemporal\n0 x1\n", 2, "positive tier number"),
        ("addtemporal\n1 x1\n1 x2\n", 3, "listed twice"),
        ("addtemporal\n1 x1\n2 x1\n", 3, "already in a tier"),
        ("forbiddirect\nx1 x2 x3\n", 2, "exactly two"),
        ("requiredirect\nx1\n", 2, "exactly two"),
        ("\n\nforbiddengroup\n", 3, "not supported"),
    ],
)
def test_tetrad_knowledge_errors_name_the_line(text, line, words):
    with pytest.raises(KnowledgeError, match=words) as info:
        read_tetrad_knowledge(text, "k.txt")
    assert info.value.line == line
    assert f"k.txt, line {line}: " in str(info.value)
    assert isinstance(info.value, InputError)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("knowledge", "words"),
    [
        (Knowledge(forbidden={("x1", "nope")}), "'nope', which is not a column"),
        (
            Knowledge(forbidden={("x1", "x2")}, required={("x1", "x2")}),
            "both required and forbidden",
        ),
        (Knowledge(tiers=[["x1"], ["x2"]], required={("x2", "x1")}), "against the tier order"),
        (Knowledge(tiers=[["x1", "x2"]], forbidden_within={0}, required={("x1", "x2")}), "starred"),
        (Knowledge(required={("x1", "x2"), ("x2", "x1")}), "keep one direction"),
        (Knowledge(required={("x1", "x2"), ("x2", "x3"), ("x3", "x1")}), "directed cycle"),
        (Knowledge(tiers=[["x1"], ["x1", "x2"]]), "tier 1 and tier 2"),
    ],
)
def test_knowledge_validation_errors(knowledge, words):
    with pytest.raises(KnowledgeError, match=words):
        knowledge.validate(NAMES)


def test_required_edge_into_the_regime_is_refused():
    k = Knowledge(required={("x1", "regime")}).with_regime_exogenous("regime")
    with pytest.raises(KnowledgeError, match="into the regime"):
        k.validate(NAMES)


def test_knowledge_from_mapping_and_its_errors():
    k = Knowledge.from_mapping(
        {
            "tiers": [["regime"], ["x1", "x2"]],
            "forbidden": [["x1", "x2"]],
            "required": [["x2", "x3"]],
        }
    )
    assert k.tiers == [["regime"], ["x1", "x2"]]
    assert k.forbidden == {("x1", "x2")} and k.required == {("x2", "x3")}
    for bad, words in [
        ({"tier": []}, "unknown knowledge key"),
        ({"tiers": ["x1"]}, "list of lists"),
        ({"forbidden": [["x1"]]}, "pairs"),
        ({"required": "x1 x2"}, "list of"),
        ({"tiers": [["x1"]], "forbidden_within": [3]}, "tier indices"),
        ([], "must be a mapping"),
    ]:
        with pytest.raises(KnowledgeError, match=words):
            Knowledge.from_mapping(bad)


def test_knowledge_converts_to_causallearn_background_knowledge():
    k = read_tetrad_knowledge(KNOWLEDGE_FILE).with_regime_exogenous("regime")
    nodes = [GraphNode(name) for name in NAMES]
    bk = k.to_causallearn(nodes)
    for a, b in itertools.permutations(NAMES, 2):
        node_a, node_b = nodes[NAMES.index(a)], nodes[NAMES.index(b)]
        assert bk.is_forbidden(node_a, node_b) == k.is_forbidden(a, b), (a, b)
        assert bk.is_required(node_a, node_b) == k.is_required(a, b), (a, b)
    assert all(bk.is_forbidden(n, nodes[0]) for n in nodes[1:])  # the regime is a root


def test_a_required_edge_the_tests_would_remove_is_kept_and_noted():
    rng = np.random.default_rng(1)
    n = 2000
    regime = rng.integers(0, 2, n)
    x1 = regime + rng.normal(size=n)
    x2 = rng.normal(size=n)  # independent of everything
    x3 = x1 + x2 + rng.normal(size=n)
    names = ["regime", "x1", "x2", "x3"]
    stats = gaussian_stats(np.column_stack([regime, x1, x2, x3]), names)
    plain = discover(stats, regime="regime")
    assert plain.graph.edge("x1", "x2") is None  # the data remove it
    result = discover(stats, regime="regime", knowledge=Knowledge(required={("x2", "x1")}))
    assert str(result.graph.edge("x2", "x1")) == "x2 --> x1"
    assert any("required edge x2 --> x1 was kept" in note for note in result.notes)
    kept = [r for r in result.ci_tests if r.kept_by_knowledge]
    assert kept and all(r.decision == "independent" for r in kept)
    assert {frozenset((r.x, r.y)) for r in kept} == {frozenset(("x1", "x2"))}


def test_the_regime_never_gets_an_incoming_edge():
    # The data make the regime a collider x1 --> regime <-- x2; PC and FCI
    # keep it a root by knowledge, GES's orientations are rebuilt with it a
    # root and a note names the collider it dropped.
    rng = np.random.default_rng(2)
    n = 3000
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    regime = (x1 + x2 + 0.5 * rng.normal(size=n) > 0).astype(int)
    x3 = x1 + rng.normal(size=n)
    names = ["regime", "x1", "x2", "x3"]
    stats = gaussian_stats(np.column_stack([regime, x1, x2, x3]), names)
    for method in ("pc", "fci", "ges"):
        result = discover(stats, method=method, regime="regime")
        graph = result.graph
        assert graph.adjacent("regime"), method
        for other in graph.adjacent("regime"):
            assert graph.mark(other, "regime").name == "TAIL", (method, graph.edge(other, "regime"))
    (note,) = [n for n in result.notes if "rebuilt with the regime a root" in n]
    assert "x1 --> regime <-- x2" in note


@pytest.mark.parametrize("method", ["pc", "fci", "ges"])
def test_nothing_is_printed(method, capsys):
    data = linear_sem(0, n=500)
    knowledge = None if method == "ges" else Knowledge(tiers=[["x1", "x2"], ["x3", "x4", "x5"]])
    discover(gaussian_stats(data), method=method, regime="regime", knowledge=knowledge)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""


def test_fci_knowledge_orients_only_what_it_licenses():
    # causal-learn issue #266: X --> Z, X --> Y, U --> Z, U --> Y, Z --> Q --> Y
    # with U latent. The true PAG has Z o-> Y; "Y is a sink" licenses only the
    # arrowhead at Y, yet causal-learn's fci_orient_bk returns Z --> Y.
    dag = nx.DiGraph(
        [("R", "X"), ("X", "Z"), ("X", "Y"), ("U", "Z"), ("U", "Y"), ("Z", "Q"), ("Q", "Y")]
    )
    names = ["R", "X", "Z", "Q", "Y"]
    oracle = DSeparationOracle(dag, names)
    knowledge = Knowledge(tiers=[["X", "Z", "Q"], ["Y"]])
    without = discover(placeholder_stats(names), method="fci", test=oracle, regime="R")
    ours = discover(
        placeholder_stats(names), method="fci", test=oracle, regime="R", knowledge=knowledge
    )
    assert str(without.graph.edge("Z", "Y")) == "Z o-> Y"
    assert str(ours.graph.edge("Z", "Y")) == "Z o-> Y"
    assert str(ours.graph.edge("Q", "Y")) == "Q o-> Y"
    assert ours.graph == without.graph  # the knowledge is true: it may not change this PAG

    # causal-learn unpatched, same oracle and knowledge: the spurious tail. If
    # this starts failing, upstream fixed #266 and the workaround can go.
    index = {name: i for i, name in enumerate([*names, "U"])}
    nodes = [GraphNode(name) for name in names]
    bk = knowledge.with_regime_exogenous("R").to_causallearn(nodes)
    general, _ = fci(
        np.zeros((5, 5)),
        "d_separation",
        0.01,
        true_dag=nx.relabel_nodes(dag, index),
        background_knowledge=bk,
        node_names=names,
        show_progress=False,
    )
    assert str(from_causallearn(general, names).edge("Z", "Y")) == "Z --> Y"


def test_pairs_forbidden_both_ways_do_not_make_spurious_colliders():
    # causal-learn issue #224: a chain a --> b --> c with a -- c forbidden both
    # ways; causal-learn removes a -- c with an empty separating set and then
    # orients the collider a --> b <-- c.
    dag = nx.DiGraph([("a", "b"), ("b", "c")])
    dag.add_node("regime")
    names = ["regime", "a", "b", "c"]
    knowledge = Knowledge(forbidden={("a", "c"), ("c", "a")})
    result = discover(
        placeholder_stats(names),
        test=DSeparationOracle(dag, names),
        regime="regime",
        knowledge=knowledge,
    )
    assert edges_of(result.graph) == {"a --- b", "b --- c"}
    nodes = [GraphNode(name) for name in names]
    bk = knowledge.to_causallearn(nodes)
    index = {name: i for i, name in enumerate(names)}
    theirs = pc(
        np.zeros((4, 4)),
        0.01,
        "d_separation",
        true_dag=nx.relabel_nodes(dag, index),
        background_knowledge=bk,
        node_names=names,
        show_progress=False,
    )
    assert edges_of(from_causallearn(theirs.G, names)) == {"a --> b", "c --> b"}  # upstream
    # ... while a starred tier whose pair the data cannot separate is removed and noted.
    dag.add_edge("a", "c")
    starred = Knowledge(tiers=[["a", "c"]], forbidden_within={0})
    result = discover(
        placeholder_stats(names),
        test=DSeparationOracle(dag, names),
        regime="regime",
        knowledge=starred,
    )
    assert result.graph.edge("a", "c") is None
    assert any("forbids any edge between a and c" in note for note in result.notes)


# ======================================================================= tests and options


def test_auto_test_choice():
    rng = np.random.default_rng(3)
    n = 300
    frame = pd.DataFrame(
        {
            "regime": rng.integers(0, 2, n),
            "y": rng.normal(size=n),
            "k": pd.Categorical(rng.choice(["a", "b", "c"], n)),
        }
    )
    continuous = compute_statistics(
        frame[["y"]].assign(z=rng.normal(size=n)), {"y": "continuous", "z": "continuous"}
    )
    assert make_test(continuous).name == "fisherz"
    binary = compute_statistics(frame[["regime", "y"]], {"regime": "discrete", "y": "continuous"})
    assert make_test(binary).name == "fisherz"
    mixed = compute_statistics(frame, {"regime": "discrete", "y": "continuous", "k": "discrete"})
    assert make_test(mixed).name == "dg"
    with pytest.raises(DiscoveryError, match="more than two levels"):
        make_test(mixed, "fisherz")
    with pytest.raises(DiscoveryError, match="continuous"):
        make_test(mixed, "gsq")
    with pytest.raises(DiscoveryError, match="unknown test"):
        make_test(mixed, "pearson")
    discrete = compute_statistics(frame[["regime", "k"]], {"regime": "discrete", "k": "discrete"})
    assert make_test(discrete).name == "gsq"


def test_degenerate_gaussian_matches_fisher_z_on_binary_and_continuous_data():
    data = linear_sem(5, n=3000)
    stats = gaussian_stats(data)
    dg, fz = DegenerateGaussianTest(stats), make_test(stats, "fisherz")
    for x, y, cond in [(0, 1, ()), (1, 3, (2,)), (0, 5, (1, 2, 3)), (2, 4, (0,))]:
        assert dg(x, y, cond)[1] == pytest.approx(fz(x, y, cond)[1], abs=0.02)


def test_degenerate_gaussian_finds_a_mixed_chain():
    rng = np.random.default_rng(4)
    n = 3000
    regime = rng.integers(0, 2, n)
    level = np.where(
        regime == 1, rng.choice(3, n, p=[0.6, 0.3, 0.1]), rng.choice(3, n, p=[0.1, 0.3, 0.6])
    )
    value = np.array([0.0, 2.0, -1.0])[level] + rng.normal(size=n)
    frame = pd.DataFrame(
        {"regime": regime, "level": pd.Categorical(np.array(list("pqr"))[level]), "value": value}
    )
    stats = compute_statistics(
        frame, {"regime": "discrete", "level": "discrete", "value": "continuous"}
    )
    result = discover(stats, regime="regime")
    assert result.settings["test"] == "dg"
    assert edges_of(result.graph) == {"regime --> level", "level --> value"}


def test_kci_runs_on_small_raw_data_and_refuses_large():
    rng = np.random.default_rng(6)
    n = 200
    regime = rng.integers(0, 2, n)
    x = regime + 0.3 * rng.normal(size=n)
    y = np.sin(2 * x) + 0.3 * rng.normal(size=n)
    raw = np.column_stack([regime, x, y])
    stats = gaussian_stats(raw, ["regime", "x", "y"], npartitions=1)
    result = discover(stats, test="kci", raw=raw, regime="regime", alpha=0.05)
    assert result.settings["test"] == "kci"
    assert result.graph.edge("regime", "y") is None
    with pytest.raises(DiscoveryError, match="raw rows"):
        discover(stats, test="kci", regime="regime")
    big_raw = rng.normal(size=(KCI_MAX_ROWS + 1, 2))
    big = compute_statistics(
        pd.DataFrame(big_raw, columns=["u", "v"]), dict.fromkeys("uv", "continuous")
    )
    with pytest.raises(DiscoveryError, match="5,000 rows"):
        make_test(big, "kci", raw=big_raw)


def test_bad_arguments_are_input_errors():
    stats = gaussian_stats(linear_sem(0, n=300))
    for kwargs, words in [
        ({"method": "lingam"}, "unknown method"),
        ({"alpha": 1.5}, "alpha"),
        ({"max_depth": -2}, "max_depth"),
        ({"regime": "nope"}, "not among the analysed columns"),
    ]:
        kwargs.setdefault("regime", "regime")
        with pytest.raises(DiscoveryError, match=words) as info:
            discover(stats, **kwargs)
        assert isinstance(info.value, InputError)
    with pytest.raises(DiscoveryError, match="no background knowledge"):
        discover(
            stats, method="ges", regime="regime", knowledge=Knowledge(forbidden={("x1", "x2")})
        )


def test_max_depth_limits_conditioning_sets_and_progress_is_reported():
    stats = gaussian_stats(linear_sem(7))
    calls = []
    result = discover(
        stats,
        regime="regime",
        max_depth=1,
        progress=lambda done, depth: calls.append((done, depth)),
    )
    assert max(len(r.conditioning_set) for r in result.ci_tests) <= 1
    assert [done for done, _ in calls] == list(range(1, len(result.ci_tests) + 1))
    assert result.settings["max_depth"] == 1


@pytest.mark.parametrize("method", ["pc", "fci"])
def test_a_progress_callback_that_cannot_be_copied_is_shared(method):
    # causal-learn's PC deep-copies its graph and the CI test in it; a
    # terminal's progress display holds locks, which cannot be copied (this
    # crashed every `mesalens run` on a terminal).
    import threading

    class Display:
        def __init__(self):
            self.lock = threading.RLock()
            self.calls = 0

        def __call__(self, done, depth):
            with self.lock:
                self.calls += 1

    display = Display()
    result = discover(
        gaussian_stats(linear_sem(7)), method=method, regime="regime", progress=display
    )
    assert display.calls >= len(result.ci_tests) > 0  # one call per test at least


def test_discovery_is_deterministic():
    stats = gaussian_stats(linear_sem(8))
    for method in ("pc", "fci", "ges"):
        first = discover(stats, method=method, regime="regime", seed=3)
        second = discover(stats, method=method, regime="regime", seed=3)
        assert first.graph == second.graph
        assert first.ci_tests == second.ci_tests


# ======================================================================= (iv) statistics


def mixed_frame(n=1000, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "regime": rng.integers(0, 2, n),
            "a": rng.normal(size=n) + 1e6,  # a large mean must not cost precision
            "c": pd.Categorical(rng.choice(["x", "y", "z"], n)),
            "b": rng.normal(size=n),
        }
    )


MIXED_KINDS = {"regime": "discrete", "a": "continuous", "c": "discrete", "b": "continuous"}


def test_statistics_match_numpy_and_pandas():
    frame = mixed_frame()
    stats = compute_statistics(dd.from_pandas(frame, npartitions=7), MIXED_KINDS)
    numeric = frame.assign(c=frame["c"].cat.codes).to_numpy(dtype=float)
    np.testing.assert_allclose(stats.covariance, np.cov(numeric.T), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(stats.means, numeric.mean(axis=0), rtol=1e-14)
    dummies = pd.get_dummies(frame, columns=["c"], drop_first=True, dtype=float)
    expanded = dummies[["regime", "a", "c_y", "c_z", "b"]].to_numpy()
    np.testing.assert_allclose(
        stats.expanded_covariance, np.cov(expanded.T), rtol=1e-12, atol=1e-12
    )
    assert stats.expanded_columns == ("regime=1", "a", "c=y", "c=z", "b")
    assert stats.expanded_index == {"regime": (0,), "a": (1,), "c": (2, 3), "b": (4,)}
    expected = frame.groupby(["regime", "c"], observed=True).size().reset_index(name="count")
    pd.testing.assert_frame_equal(
        stats.counts.astype({"c": object}), expected.astype({"c": object}), check_dtype=False
    )
    assert stats.levels == {"regime": (0, 1), "c": ("x", "y", "z")}
    assert stats.n == len(frame)


class TaskCounter(Callback):
    def __init__(self):
        super().__init__()
        self.keys = []

    def _pretask(self, key, dsk, state):
        self.keys.append(key)


def test_statistics_take_one_dask_pass(monkeypatch):
    frame = dd.from_pandas(mixed_frame(), npartitions=11)
    calls = []
    real_compute = dask.compute

    def spy(*args, **kwargs):
        calls.append(args)
        return real_compute(*args, **kwargs)

    monkeypatch.setattr(dask, "compute", spy)
    with TaskCounter() as counter:
        compute_statistics(frame, MIXED_KINDS)
    assert len(calls) == 1
    summaries = [
        k for k in counter.keys if str(k if isinstance(k, str) else k[0]).startswith("_summarise")
    ]
    assert len(summaries) == frame.npartitions  # every partition summarised exactly once


@pytest.mark.parametrize(
    ("frame", "kinds", "columns", "words"),
    [
        (
            pd.DataFrame({"a": [1.0, None, 3.0]}),
            {"a": "continuous"},
            None,
            "missing values in 'a' \\(1\\)",
        ),
        (pd.DataFrame({"a": [1.0, np.inf, 3.0]}), {"a": "continuous"}, None, "infinite"),
        (pd.DataFrame({"a": ["u", "v", "w"]}), {"a": "continuous"}, None, "declare it discrete"),
        (pd.DataFrame({"a": [1.0, 2.0]}), {}, None, "no kind given"),
        (pd.DataFrame({"a": [1.0, 2.0]}), {"a": "ordinal"}, None, "kind 'ordinal'"),
        (pd.DataFrame({"a": [1.0, 2.0]}), {"a": "continuous"}, ["b"], "unknown column"),
        (pd.DataFrame({"a": [1.0]}), {"a": "continuous"}, None, "at least 2"),
        (pd.DataFrame({"a": np.arange(500)}), {"a": "discrete"}, None, "more than 100 levels"),
    ],
)
def test_statistics_errors(frame, kinds, columns, words):
    with pytest.raises(StatisticsError, match=words) as info:
        compute_statistics(dd.from_pandas(frame, npartitions=1), kinds, columns)
    assert isinstance(info.value, InputError)


def test_a_misoriented_required_edge_is_reoriented_and_closed():
    from mesalens.pipeline.search_repairs import enforce_required as _enforce_required

    graph = CausalGraph(["a", "b", "c"])
    graph.add_edge("b", "a", "-->")
    graph.add_edge("b", "c", "---")
    notes: list[str] = []
    fixed = _enforce_required(graph, Knowledge(required={("a", "b")}), "pc", notes)
    # a --> b, then Meek's R1 (a, c not adjacent): b --> c.
    assert edges_of(fixed) == {"a --> b", "b --> c"}
    assert notes == ["required edge a --> b was enforced after the search (found b --> a)"]
