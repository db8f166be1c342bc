"""The repairs a search's output needs before the check: knowledge applied, contradictions resolved.

Each repair takes the graph a causal-learn search returned and the run's
notes, and returns the graph the check can use, with a note saying what it
changed: pairs the knowledge forbids in both directions removed, required
edges enforced, PC's or GES's contradictory orientations rebuilt
(:func:`~mesalens.pipeline.orientation_repair.repair_orientations`), the
edges at the regime of a search that takes no knowledge (GES; BOSS and
GRaSP unconstrained) oriented out of it (:func:`make_regime_root`), or
those BOSS and GRaSP leave undirected when they search with the regime a
root (:func:`orient_from_regime`).
:func:`check_regime_root` refuses an arrowhead at the regime. (FCI's invalid PAGs are repaired by
:mod:`mesalens.pipeline.pag_repair`.)
"""

from __future__ import annotations

from collections.abc import Sequence

from mesalens.pipeline.discovery_result import CITestRecord
from mesalens.pipeline.errors import DiscoveryError
from mesalens.pipeline.graph import CausalGraph, Edge, Mark
from mesalens.pipeline.knowledge import Knowledge
from mesalens.pipeline.orientation_repair import repair_orientations
from mesalens.pipeline.pdag import Pdag, meek_closure, orient_and_close

__all__ = [
    "check_regime_root",
    "enforce_required",
    "make_regime_root",
    "orient_from_regime",
    "remove_mutual",
    "repair_ges_at_the_regime",
    "repair_pc_orientations",
]


def _edge_text(edge: Edge) -> str:
    """An edge written with its arrowhead (or circle) on the right, as graph listings do."""
    if edge.kind in ("<--", "<-o", "o--"):
        edge = Edge(edge.v, edge.u, edge.mark_v, edge.mark_u)
    return str(edge)


def remove_mutual(
    graph: CausalGraph, mutual: Sequence[tuple[str, str]], notes: list[str]
) -> CausalGraph:
    """Remove learned edges between pairs the knowledge forbids both ways, noting each one."""
    for a, b in mutual:
        edge = graph.edge(a, b)
        if edge is None:
            continue
        graph.remove_edge(a, b)
        notes.append(
            f"the knowledge forbids any edge between {a} and {b}, but no CI test separated them; "
            f"the learned edge {_edge_text(edge)} was removed after the search (orientations "
            "at their common neighbours were learned with it present)"
        )
    return graph


def enforce_required(
    graph: CausalGraph, knowledge: Knowledge, method: str, notes: list[str]
) -> CausalGraph:
    """Make each required edge ``a --> b`` (Meek-closed after), or for a PAG note it missing."""
    wrong = []
    for a, b in sorted(knowledge.required):
        edge = graph.edge(a, b)
        if edge is None or (edge.mark_u, edge.mark_v) != (Mark.TAIL, Mark.ARROW):
            wrong.append((a, b, edge))
    if not wrong:
        return graph
    if method == "fci" or graph.kind() == "pag":
        for a, b, edge in wrong:
            found = "no edge" if edge is None else _edge_text(edge)
            notes.append(f"required edge {a} --> {b} is not in the learned graph ({found})")
        return graph
    for a, b, edge in wrong:
        if edge is not None:
            graph.remove_edge(a, b)
        graph.add_edge(a, b, "-->")
        found = "no edge" if edge is None else _edge_text(edge)
        notes.append(f"required edge {a} --> {b} was enforced after the search (found {found})")
    pdag = Pdag.from_graph(graph)
    meek_closure(pdag)
    return pdag.to_graph(graph.nodes)


def repair_pc_orientations(
    graph: CausalGraph,
    knowledge: Knowledge,
    records: Sequence[CITestRecord],
    regime: str,
    notes: list[str],
) -> CausalGraph:
    """PC's colliders contradict each other: keep the strongest consistent ones, say which went."""
    forced = []
    for edge in graph.edges():
        for a, b in ((edge.u, edge.v), (edge.v, edge.u)):
            if knowledge.is_required(a, b) or (
                knowledge.is_forbidden(b, a) and not knowledge.is_forbidden(a, b)
            ):
                forced.append((a, b))
    # Dependence of x and y given a set with z is the evidence for x --> z <-- y.
    evidence: dict[tuple[frozenset[str], str], float] = {}
    for record in records:
        pair = frozenset((record.x, record.y))
        for z in record.conditioning_set:
            key = (pair, z)
            evidence[key] = min(evidence.get(key, 1.0), record.p_value)
    repair = repair_orientations(
        graph,
        regime=regime,
        forced=forced,
        collider_evidence=lambda x, z, y: evidence.get((frozenset((x, y)), z), 1.0),
    )

    def listed(triples: Sequence[tuple[str, str, str]]) -> str:
        return "; ".join(f"{x} --> {z} <-- {y}" for x, z, y in triples) or "none"

    outcome = (
        "the orientations were rebuilt from its colliders, strongest first, keeping those a "
        f"DAG can have together; colliders dropped: {listed(repair.dropped)}"
    )
    if repair.added:
        outcome += (
            "; the skeleton needed colliders no test had found, added by the strength of "
            f"the evidence: {listed(repair.added)}"
        )
    if not repair.extendable:
        outcome += "; no DAG extends the graph even so, so the check cannot run on it"
    notes.append(
        "PC's orientations contradicted each other (no DAG extends them, a finite-sample "
        f"error): {outcome}"
    )
    return repair.graph


def check_regime_root(graph: CausalGraph, regime: str, method: str) -> None:
    """Refuse an arrowhead at the regime: the search was told that nothing causes it."""
    for other in graph.adjacent(regime):
        edge = graph.edge(other, regime)
        assert edge is not None
        if edge.mark_v == Mark.ARROW:
            raise DiscoveryError(
                f"{method.upper()} returned {edge}, an arrowhead at the regime, despite the "
                "knowledge that nothing causes it; this is a bug: please report it with the data"
            )


def repair_ges_at_the_regime(
    graph: CausalGraph, regime: str, into: list[str], notes: list[str], method: str = "GES"
) -> CausalGraph:
    """Rebuild a GES CPDAG that compels edges into the regime, the regime a root.

    GES takes no background knowledge, and at finite samples its CPDAG can
    make the regime a collider (``x --> regime <-- y``), which compels edges
    into it: no DAG of that class has the regime as a root. As for PC's
    contradictory orientations (:mod:`~mesalens.pipeline.orientation_repair`),
    the skeleton is kept and the orientations are rebuilt from GES's
    colliders with every edge at the regime out of it: the colliders at the
    regime are dropped, the others kept while a DAG extends the graph
    (GES gives no per-collider evidence, so in name order), and the result is
    closed under Meek's rules. A note names the dropped colliders. BOSS and
    GRaSP (``method``, as the messages name it), in their unconstrained
    search, are repaired the same way
    (:mod:`~mesalens.pipeline.permutation_searches`).
    """
    repair = repair_orientations(
        graph, regime=regime, forced=(), collider_evidence=lambda x, z, y: 0.0
    )
    edges = ", ".join(f"{other} --> {regime}" for other in into)
    if not repair.extendable:
        raise DiscoveryError(
            f"{method} learned a CPDAG in which every DAG has {edges}, edges into the regime, "
            "and no DAG of its skeleton has the regime as a root; the data contradict an exogenous "
            "regime (check how the regime column was recorded, or use --method pc "
            "(config: method), which imposes it)"
        )
    dropped = "; ".join(f"{x} --> {z} <-- {y}" for x, z, y in repair.dropped)
    notes.append(
        f"{method}'s CPDAG compelled {edges}, edges into the regime, which nothing causes (a "
        f"finite-sample error: {method} takes no background knowledge); its orientations were "
        "rebuilt with the regime a root, keeping its skeleton and its other colliders "
        f"(dropped: {dropped or 'none'})"
    )
    return repair.graph


def orient_from_regime(
    graph: CausalGraph,
    regime: str,
    notes: list[str],
    method: str = "GES",
    *,
    searched_as_root: bool = False,
) -> CausalGraph:
    """Impose the regime-root knowledge on a CPDAG: every ``regime --- x`` becomes ``regime --> x``.

    The result is the MPDAG of the CPDAG's DAGs in which the regime has no
    parents: orient the regime's undirected edges out of it, then close under
    Meek's rules (the class restriction of the spec, "Over an equivalence
    class"). Orienting every edge at one node of a CPDAG keeps an extension
    (the empty parent set is a clique), so this cannot fail.
    ``searched_as_root``: the search itself kept the regime a root (BOSS,
    GRaSP), and the note says so.
    """
    undirected = [
        other
        for other in graph.adjacent(regime)
        if (edge := graph.edge(regime, other)) is not None and edge.kind == "---"
    ]
    if not undirected:
        return graph
    pdag = Pdag.from_graph(graph, f"orienting {method}'s edges at the regime")
    before = {(e.u, e.v) for e in graph.edges() if e.kind == "-->"}
    orient_and_close(pdag, graph.nodes.index(regime), ())
    result = pdag.to_graph(graph.nodes)
    propagated = [
        f"{e.u} --> {e.v}"
        for e in result.edges()
        if e.kind == "-->" and (e.u, e.v) not in before and e.u != regime
    ]
    oriented = ", ".join(f"{regime} --> {other}" for other in undirected)
    if searched_as_root:
        note = (
            f"{method}, searching only DAGs in which the regime is a root (nothing causes the "
            "regime), left edges at the regime undirected in its CPDAG; they were oriented out "
            f"of it after the search: {oriented}"
        )
    else:
        note = (
            f"{method} takes no background knowledge, so the regime-root knowledge (nothing causes "
            f"the regime) oriented its undirected edges at the regime after the search: {oriented}"
        )
    if propagated:
        note += f"; Meek's rules then oriented {', '.join(propagated)}"
    notes.append(note)
    return result


def make_regime_root(graph: CausalGraph, regime: str, notes: list[str], method: str) -> CausalGraph:
    """Impose the regime-root knowledge on the CPDAG of a search that could not take it.

    If the CPDAG compels an edge into the regime, its orientations are
    rebuilt with the regime a root (:func:`repair_ges_at_the_regime`); then
    the regime's undirected edges are oriented out of it and Meek-closed
    (:func:`orient_from_regime`). Each step that changes the graph adds a
    note naming ``method`` (``"GES"``, ``"BOSS"``, ``"GRaSP"``).
    """
    into = [
        other
        for other in graph.adjacent(regime)
        if (edge := graph.edge(other, regime)) is not None
        and edge.mark_v == Mark.ARROW
        and edge.mark_u == Mark.TAIL
    ]
    if into:
        graph = repair_ges_at_the_regime(graph, regime, into, notes, method)
    return orient_from_regime(graph, regime, notes, method)
