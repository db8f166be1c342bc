"""causal-learn's FCI orientation rules against the brute-force PAG of a latent DAG.

A PAG's marks are the marks shared by every MAG Markov equivalent to the
true MAG (Zhang, "On the completeness of orientation rules for causal
discovery in the presence of latent confounders and selection bias",
Artificial Intelligence 2008). The reference here lists that class with
:func:`mesalens.pipeline.mag.iter_mags` started from the true MAG's skeleton
with every mark a circle (so nothing of FCI is used; ``iter_mags`` itself is
checked against brute force in ``tests/test_pag.py``), and keeps the shared
marks. FCI runs on causal-learn's d-separation oracle of the latent DAG,
inside :func:`~mesalens.pipeline.causallearn_bridge.patched_fci_orientation`
as ``mesalens run --method fci`` does.

Defects of causal-learn 0.1.4.x are regression cases below: its R10
accepted a "path" that runs back through ``A`` (a wrong tail), its R9
missed uncovered paths hidden behind covered ones, and its loop skipped R4
in passes where R1-R3 changed nothing (both: missing tails); its
possible-d-sep step recorded separating sets for one order of a pair only.
"""

from __future__ import annotations

import contextlib
import io
import itertools

import networkx as nx
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesalens.pipeline.causallearn_bridge import patched_fci_orientation
from mesalens.pipeline.graph import CausalGraph, Mark
from mesalens.pipeline.mag import iter_mags
from tests.test_pag import latent_projection

# causal-learn's GeneralGraph matrix: graph[i, j] is the mark at i on edge i, j.
_CL_MARK = {-1: Mark.TAIL, 1: Mark.ARROW, 2: Mark.CIRCLE}
_KIND_MARKS = {"-->": (Mark.TAIL, Mark.ARROW), "<->": (Mark.ARROW, Mark.ARROW)}

#: {(u, v): mark at v on the edge u, v}, nodes named X0, X1, ...
Marks = dict[tuple[str, str], Mark]


def true_pag(dag: nx.DiGraph, n_observed: int) -> Marks:
    """The invariant marks over the Markov equivalence class of the latent projection."""
    names = tuple(f"X{i}" for i in range(n_observed))
    mag, skeleton = CausalGraph(names), CausalGraph(names)
    for u, kind, v in latent_projection(dag, list(range(n_observed))).values():
        mag.add_marked_edge(names[u], names[v], *_KIND_MARKS[kind])
        skeleton.add_marked_edge(names[u], names[v], Mark.CIRCLE, Mark.CIRCLE)
    seen: dict[tuple[str, str], set[Mark]] = {}
    for member in iter_mags(skeleton, mag):
        for e in member.edges():
            seen.setdefault((e.u, e.v), set()).add(e.mark_v)
            seen.setdefault((e.v, e.u), set()).add(e.mark_u)
    if not mag.edges():
        return {}
    assert seen, "the true MAG is in its own class"
    return {k: next(iter(m)) if len(m) == 1 else Mark.CIRCLE for k, m in seen.items()}


def oracle_fci(dag: nx.DiGraph, n_observed: int, *, patched: bool = True) -> Marks:
    """causal-learn's FCI on the d-separation oracle of ``dag`` (observed nodes 0..n-1)."""
    from causallearn.search.ConstraintBased import FCI

    placeholder = np.zeros((n_observed + 2, n_observed))
    patch = patched_fci_orientation(frozenset()) if patched else contextlib.nullcontext()
    with contextlib.redirect_stdout(io.StringIO()), patch:  # causal-learn prints
        graph, _ = FCI.fci(placeholder, "d_separation", 0.5, true_dag=dag, show_progress=False)
    m = graph.graph
    return {
        (f"X{j}", f"X{i}"): _CL_MARK[int(m[i, j])]
        for i, j in itertools.permutations(range(n_observed), 2)
        if m[i, j] != 0
    }


def latent_dag(n_observed: int, edges: list[tuple[int, int]]) -> nx.DiGraph:
    """A DAG over observed ``0..n_observed-1``; higher numbers are latent."""
    dag = nx.DiGraph(edges)
    dag.add_nodes_from(range(n_observed))
    return dag


# ------------------------------------------------------------------ R10
# X3 --> X5 <-- X4 and X0 o-> X5 (X0 <-> X5 in the MAG: latent 7). The
# uncovered p.d. paths from X0 to X3 and to X4 both start X0 o-o X3, so R10
# does not apply; causal-learn's R10 took M = X2 with the semi-directed
# "path" X2, X0, X3 (back through X0) and oriented X0 --> X5.
R10_CASE = (6, [(0, 2), (1, 3), (3, 0), (3, 5), (4, 5), (6, 1), (6, 4), (7, 0), (7, 5)])


def test_r10_does_not_orient_through_paths_back_through_a():
    dag = latent_dag(*R10_CASE)
    truth = true_pag(dag, R10_CASE[0])
    assert truth[("X5", "X0")] == Mark.CIRCLE and truth[("X0", "X5")] == Mark.ARROW
    assert oracle_fci(dag, R10_CASE[0]) == truth
    # The defect this works around; if it fails, causal-learn fixed its R10.
    assert oracle_fci(dag, R10_CASE[0], patched=False)[("X5", "X0")] == Mark.TAIL


# ------------------------------------------------------------------ R9
# X3 o-> X0 and the uncovered p.d. path X3 o-o X4 o-o X2 --> X0 (X4 not
# adjacent to X0): R9 orients X3 --> X0. causal-learn's breadth-first
# search reached X0 first through the covered X3, X4, X1, X0 and missed it.
R9_CASE = (5, [(1, 0), (2, 0), (3, 0), (4, 2), (5, 1), (5, 3), (5, 4)])


def test_r9_finds_an_uncovered_path_behind_a_covered_one():
    dag = latent_dag(*R9_CASE)
    truth = true_pag(dag, R9_CASE[0])
    assert truth[("X0", "X3")] == Mark.TAIL
    assert oracle_fci(dag, R9_CASE[0]) == truth
    # The defect this works around; if it fails, causal-learn fixed its R9.
    assert oracle_fci(dag, R9_CASE[0], patched=False)[("X0", "X3")] == Mark.CIRCLE


# ------------------------------------------------------------------ R4
# Pass 1: R1 orients X3 --> X4, then R4 on <X1, X3, X2, X4> orients X2 --> X4.
# Pass 2: R1-R3 find nothing, and that tail makes <X1, X3, X2, X0, X4>
# discriminating for X0, so R4 orients X0 --> X4; causal-learn skipped R4 in
# a pass where R1-R3 changed nothing and stopped at X0 o-> X4.
R4_CASE = (5, [(0, 2), (0, 4), (1, 3), (2, 4), (3, 4), (5, 2), (5, 3)])


def test_r4_runs_in_a_pass_where_r1_to_r3_changed_nothing():
    dag = latent_dag(*R4_CASE)
    truth = true_pag(dag, R4_CASE[0])
    assert truth[("X4", "X0")] == Mark.TAIL
    assert oracle_fci(dag, R4_CASE[0]) == truth
    # The defect this works around; if it fails, causal-learn changed its loop.
    assert oracle_fci(dag, R4_CASE[0], patched=False)[("X4", "X0")] == Mark.CIRCLE


# ------------------------------------------------------------------ sepsets
# No subset of the neighbours separates X1 and X5; the possible-d-sep step
# does ({X0, X2, X3, X4}) and causal-learn recorded it for (1, 5) only.
SEPSET_CASE = (6, [(0, 1), (0, 2), (2, 1), (3, 4), (4, 5), (6, 1), (6, 4), (7, 2), (7, 3), (7, 5)])


def possible_dsep_sepsets(dag: nx.DiGraph, n_observed: int, *, patched: bool) -> dict:
    """The separating sets after FCI's possible-d-sep step (FCI's first steps, as in ``fci``)."""
    from causallearn.graph.Endpoint import Endpoint
    from causallearn.graph.GraphNode import GraphNode
    from causallearn.search.ConstraintBased import FCI
    from causallearn.utils.cit import CIT
    from causallearn.utils.FAS import fas

    placeholder = np.zeros((n_observed + 2, n_observed))
    test = CIT(placeholder, "d_separation", true_dag=dag)
    nodes = []
    for i in range(n_observed):
        nodes.append(GraphNode(f"X{i + 1}"))
        nodes[-1].add_attribute("id", i)
    patch = patched_fci_orientation(frozenset()) if patched else contextlib.nullcontext()
    with contextlib.redirect_stdout(io.StringIO()), patch:
        graph, sep_sets, _ = fas(placeholder, nodes, test, 0.5, show_progress=False)
        FCI.reorientAllWith(graph, Endpoint.CIRCLE)
        FCI.rule0(graph, nodes, sep_sets, None, False)
        FCI.removeByPossibleDsep(graph, test, 0.5, sep_sets)
    return sep_sets


def test_possible_dsep_separating_sets_are_stored_for_both_orders():
    sep_sets = possible_dsep_sepsets(latent_dag(*SEPSET_CASE), SEPSET_CASE[0], patched=True)
    assert sep_sets[(1, 5)] == sep_sets[(5, 1)] == {0, 2, 3, 4}
    assert all(sep_sets[(y, x)] == s for (x, y), s in sep_sets.items())
    # The defect this works around; if it fails, causal-learn stores both now.
    unpatched = possible_dsep_sepsets(latent_dag(*SEPSET_CASE), SEPSET_CASE[0], patched=False)
    assert (1, 5) in unpatched and (5, 1) not in unpatched


# ------------------------------------------------------------------ property
_EDGE = st.sampled_from((False, False, True))


@st.composite
def latent_dags(draw: st.DrawFn) -> tuple[int, nx.DiGraph]:
    """4-6 observed nodes in a random causal order, and 1-3 latents with 2-3 observed children."""
    n = draw(st.integers(4, 6))
    order = draw(st.permutations(range(n)))
    dag = latent_dag(n, [])
    for i, a in enumerate(order):
        for b in order[i + 1 :]:
            if draw(_EDGE):
                dag.add_edge(a, b)
    for k in range(draw(st.integers(1, 3))):
        children = draw(st.permutations(range(n)))[: draw(st.integers(2, 3))]
        dag.add_edges_from((n + k, c) for c in children)
    return n, dag


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(latent_dags())
def test_oracle_fci_returns_exactly_the_invariant_marks(case):
    n, dag = case
    assert oracle_fci(dag, n) == true_pag(dag, n), sorted(dag.edges)
