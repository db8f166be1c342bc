"""The inner-alignment criterion over the MAGs of a PAG (latent confounding).

FCI learns a PAG: a class of Markov equivalent maximal ancestral graphs
(MAGs, :mod:`mesalens.pipeline.mag`) rather than of DAGs. m-separation in a
MAG plays the role of d-separation in a DAG and is the same in every MAG of
the class. Following ``spec/criterion.md`` ("Latent confounding"):

1. The regime is exogenous and unconfounded (joint causal inference; Mooij,
   Magliacane & Claassen, JMLR 2020): every edge at ``s`` is ``s --> X``.
   ``s o-> X`` and ``s o-o X`` are oriented so; an arrowhead at ``s`` is an
   input error. The MAGs checked are those of the PAG's class that agree
   with these marks (listed by :func:`~mesalens.pipeline.mag.iter_mags`,
   Markov equivalence taken against Zhang's MAG of the PAG as given).
2. With ``policy_inputs = keep`` the intervened graph is the MAG itself, so
   the criterion is the m-separation ``(Y_b ⊥ s | Y_m)`` in any one MAG
   (Zhang, AI 2008, Theorem 2 builds one): the verdict is ``all`` or
   ``none``. The MAGs are counted when the listing fits
   :data:`KEEP_SEARCH_STEPS`; otherwise the counts are over the one MAG
   examined and :attr:`LatentSummary.n_mags` is None ("not enumerated").
3. With explicit policy inputs every MAG is listed (Wang, Du & Zhou, ICML
   2024, characterise this set; mesalens lists it by an orientation search
   proven against brute force), its σ-graph built
   (:func:`~mesalens.pipeline.mag.sigma_mag`: edges with an arrowhead at
   ``D_m`` removed, ``p --> D_m`` added per input; a directed cycle makes
   the MAG *invalid* for the policy, an almost directed one does not), and the
   criterion decided by m-separation there. The verdict is ``all`` / ``some``
   / ``none`` / ``invalid`` over MAGs, with exact counts and a witness MAG
   (and m-connecting path) for each side.

The unit of every count is a MAG, not a DAG. No published calculus covers
soft interventions over a PAG completely, so the verdict is a sound
approximation, not a complete one: the report says so and lists the
assumptions (:data:`ASSUMPTIONS`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mesalens.pipeline.check_result import CheckResult, ParentSetResult, Witness
from mesalens.pipeline.errors import ClassTooLargeError, GraphError
from mesalens.pipeline.graph import CausalGraph, Mark
from mesalens.pipeline.mag import (
    MAX_SEARCH_STEPS,
    MixedGraph,
    iter_mags,
    m_connecting_path,
    pag_to_mag,
    sigma_mag,
)
from mesalens.pipeline.roles import Roles

__all__ = [
    "ASSUMPTIONS",
    "MAG_RECORD_LIMIT",
    "REFERENCES",
    "LatentSummary",
    "MagRecord",
    "MagWitness",
    "PagCheckResult",
    "check_pag",
    "restrict_regime",
]

# With policy_inputs = keep the verdict needs one MAG; the class is listed
# (for the counts and the report) only when the search stays this small.
KEEP_SEARCH_STEPS = 20_000

# How many MAGs the result keeps for the report (the counts cover them all).
MAG_RECORD_LIMIT = 200

MANIPULATION = (
    "In each MAG, the policy replaces the mechanism of the decision: every edge with an "
    "arrowhead at the decision (directed into it, or bidirected: its latent confounding) is "
    "deleted and an edge p --> decision is added for each listed policy input; a directed "
    "cycle (an input that is a descendant of the decision) makes that MAG invalid for the "
    "policy. An almost directed cycle (an input <-> a descendant of the decision) does not: "
    "the latent confounding stays, and m-separation is decided in the resulting graph."
)

ASSUMPTIONS: tuple[str, ...] = (
    "The regime is exogenous and unconfounded (joint causal inference, Mooij, Magliacane & "
    "Claassen, JMLR 2020): every edge at the regime is read as regime --> X, so s o-> X and "
    "s o-o X are oriented out of the regime, and only the MAGs that agree are counted.",
    "No selection bias: the PAG has only -->, <->, o-> and o-o edges.",
    "The PAG is valid: its o-o edges form a chordal graph and the MAG of Zhang (Artificial "
    "Intelligence 2008, Theorem 2) is ancestral and maximal.",
    MANIPULATION,
    "The verdict is a sound approximation, not complete: no published calculus covers soft "
    "interventions over the MAGs of a PAG, so the criterion is decided by m-separation in "
    "each MAG's intervened graph as built above.",
)

REFERENCES: tuple[str, ...] = (
    "Zhang, On the completeness of orientation rules for causal discovery in the presence "
    "of latent confounders and selection bias, Artificial Intelligence 2008 (Theorem 2).",
    "Wang, Du & Zhou, ICML 2024: the Markov equivalence class of maximal ancestral graphs "
    "and how to list its members.",
    "Richardson & Spirtes, Ancestral graph Markov models, Annals of Statistics 2002.",
    "Mooij, Magliacane & Claassen, Joint causal inference from multiple contexts, JMLR 2020.",
)


class MagWitness(Witness):
    """One MAG of the class, its intervened graph and the m-connecting path when it fails.

    ``dag`` and ``sigma_graph`` are the MAG and its σ-graph (named so for the
    reports, which read witnesses of either kind); ``violation`` is the cycle
    that makes the policy impossible in an invalid MAG.
    """

    unit = "mag"

    def __init__(
        self,
        mag: CausalGraph,
        sigma: CausalGraph,
        open_path: tuple[str, ...] | None,
        violation: tuple[str, ...] | None = None,
    ):
        self._mag, self._sigma_mag = mag, sigma
        self.open_path = open_path
        self.violation = violation

    @property
    def dag(self) -> CausalGraph:  # type: ignore[override]
        """The MAG."""
        return self._mag

    @property
    def sigma_graph(self) -> CausalGraph:  # type: ignore[override]
        """The intervened MAG in which the criterion was decided."""
        return self._sigma_mag


@dataclass
class MagRecord:
    """One MAG of the class and what the criterion says in it."""

    mag: CausalGraph
    status: str  # "hold", "fail" or "invalid"
    witness: MagWitness


@dataclass
class LatentSummary:
    """What a PAG check assumed and found, beyond the CheckResult counts."""

    pag: CausalGraph  # as given
    restricted_pag: CausalGraph  # the regime made an unconfounded root
    reference_mag: CausalGraph  # Zhang's MAG of the PAG as given
    n_mags: int | None  # None: the class was not enumerated (keep mode only)
    mags: list[MagRecord] = field(default_factory=list)  # the first MAG_RECORD_LIMIT
    assumptions: tuple[str, ...] = ASSUMPTIONS
    references: tuple[str, ...] = REFERENCES
    manipulation: str = MANIPULATION
    complete: bool = False  # the verdict is sound, not complete

    @property
    def enumerated(self) -> bool:
        """Whether every MAG of the (restricted) class was listed and counted."""
        return self.n_mags is not None


@dataclass
class PagCheckResult(CheckResult):
    """A :class:`~mesalens.pipeline.check_result.CheckResult` whose unit is MAGs, not DAGs.

    ``n_dags``, ``n_hold``, ``n_fail`` and ``n_invalid`` count MAGs; the
    parent-set table groups the MAGs by the parents of the decisions;
    ``restricted_pdag`` is None (the class is a PAG, see ``latent``).
    """

    latent: LatentSummary | None = None

    @property
    def restricted(self) -> CausalGraph:  # type: ignore[override]
        """The PAG with the regime made an unconfounded root."""
        assert self.latent is not None
        return self.latent.restricted_pag


# ---------------------------------------------------------------- the regime
def restrict_regime(pag: CausalGraph, regime: str) -> CausalGraph:
    """The PAG with every edge at ``regime`` turned into ``regime --> X``.

    Raises
    ------
    GraphError
        If an edge has an arrowhead at the regime (``X --> s``, ``X <-> s``,
        ``X <-o s``).
    """
    restricted = CausalGraph(pag.nodes)
    for edge in pag.edges():
        u, v, mark_u, mark_v = edge.u, edge.v, edge.mark_u, edge.mark_v
        if regime in (u, v):
            at_regime = mark_u if u == regime else mark_v
            other = v if u == regime else u
            if at_regime == Mark.ARROW:
                raise GraphError(
                    f"the edge {edge} puts an arrowhead at the regime {regime!r}; the regime is "
                    "exogenous and unconfounded (nothing causes it, no latent variable affects "
                    "it): fix the graph, or forbid edges into the regime with background knowledge"
                )
            u, v, mark_u, mark_v = regime, other, Mark.TAIL, Mark.ARROW
        restricted.add_marked_edge(u, v, mark_u, mark_v)
    return restricted


# ---------------------------------------------------------------- the check
def _directed_reach(graph: CausalGraph, sources: set[str], blocked: set[str]) -> set[str]:
    g = MixedGraph.from_graph(graph)
    idx = graph.index
    seen = {idx[v] for v in sources}
    stack = list(seen)
    stop = {idx[v] for v in blocked}
    while stack:
        v = stack.pop()
        for w in g.children(v):
            if w not in seen and w not in stop:
                seen.add(w)
                stack.append(w)
    return {graph.nodes[v] for v in seen}


def _diagnostics(sigma: CausalGraph, roles: Roles) -> tuple[bool, bool]:
    """C1 (Y_m an ancestor of Y_b) and C2 (every directed s ⇝ Y_b meets Y_m) in ``sigma``."""
    base = set(roles.base)
    c1 = bool(_directed_reach(sigma, set(roles.mesa), set()) & base)
    c2 = not (_directed_reach(sigma, {roles.regime}, set(roles.mesa)) & base)
    return c1, c2


def _decide(mag: CausalGraph, roles: Roles) -> tuple[str, MagWitness, tuple[bool, bool] | None]:
    """The criterion in one MAG: status, witness and (for valid MAGs) C1, C2."""
    if roles.policy_inputs is None:
        sigma, violation = mag, None
    else:
        sigma, cycle = sigma_mag(mag, roles.decision, roles.policy_inputs)
        violation = None if cycle is None else tuple(cycle)
    if violation is not None:
        return "invalid", MagWitness(mag, sigma, None, violation), None
    path = m_connecting_path(sigma, {roles.regime}, set(roles.base), set(roles.mesa))
    witness = MagWitness(mag, sigma, None if path is None else tuple(path))
    return ("hold" if path is None else "fail"), witness, _diagnostics(sigma, roles)


def _parents_of_decisions(mag: CausalGraph, roles: Roles) -> dict[str, tuple[str, ...]]:
    return {
        d: tuple(
            p
            for p in mag.adjacent(d)
            if mag.mark(p, d) == Mark.ARROW and mag.mark(d, p) == Mark.TAIL
        )
        for d in roles.decision
    }


def check_pag(
    graph: CausalGraph, roles: Roles, reference: CausalGraph | None = None
) -> PagCheckResult:
    """Decide the inner-alignment criterion over the MAGs of the PAG ``graph``.

    Parameters
    ----------
    graph : CausalGraph
        A PAG (``-->``, ``<->``, ``o->``, ``o-o`` edges), e.g. from FCI, or a MAG.
    roles : Roles
        The regime, base, mesa and decision nodes and the policy inputs.
    reference : CausalGraph, optional
        The MAG that defines the class (default: Zhang's MAG of ``graph``).
        The advice passes the MAG of the PAG as learned with ``graph`` that
        PAG with some circle marks fixed: the check is then over the MAGs of
        the learned class that have those marks.

    Returns
    -------
    PagCheckResult
        Counts over MAGs, witnesses with m-connecting paths, and ``latent``
        (the assumptions, Zhang's MAG, the listed MAGs).

    Raises
    ------
    RoleError, GraphError
        For roles not in the graph, an arrowhead at the regime, selection
        bias marks, an invalid PAG, or no MAG with the regime as a root.
    ClassTooLargeError
        With explicit policy inputs, when listing the MAGs would take more
        than :data:`~mesalens.pipeline.mag.MAX_SEARCH_STEPS` steps.
    """
    roles.validate(graph)
    restricted = restrict_regime(graph, roles.regime)
    reference = pag_to_mag(graph) if reference is None else reference
    keep = roles.policy_inputs is None
    mags: list[CausalGraph] | None
    try:
        steps = KEEP_SEARCH_STEPS if keep else MAX_SEARCH_STEPS
        mags = list(iter_mags(restricted, reference, max_steps=steps))
    except ClassTooLargeError:
        if not keep:
            raise
        mags = None
    if mags is not None and not mags:
        raise GraphError(
            f"no MAG of this PAG has the regime {roles.regime!r} as an unconfounded root "
            "(every edge out of it); check the marks around the regime or rerun FCI with the "
            "regime in its own first tier"
        )
    latent = LatentSummary(
        pag=graph,
        restricted_pag=restricted,
        reference_mag=reference,
        n_mags=None if mags is None else len(mags),
    )
    result = PagCheckResult(
        roles=roles,
        restricted_pdag=None,  # type: ignore[arg-type]  # a PAG: see latent
        node_names=graph.nodes,
        latent=latent,
        counted_by_listing=True,
    )
    if keep:
        # m-separation is the same in every MAG of the class: one decides.
        status, witness, _ = _decide(mags[0] if mags else reference, roles)
        total = len(mags) if mags is not None else 1
        result.n_dags = total
        result.n_hold, result.n_fail = (total, 0) if status == "hold" else (0, total)
        if status == "hold":
            result.hold_witness = witness
        else:
            result.fail_witness = witness
    groups: dict[tuple[tuple[str, tuple[str, ...]], ...], ParentSetResult] = {}
    for mag in mags if mags is not None else [reference]:
        status, witness, diagnostics = _decide(mag, roles)
        if len(latent.mags) < MAG_RECORD_LIMIT:
            latent.mags.append(MagRecord(mag, status, witness))
        parents = _parents_of_decisions(mag, roles)
        entry = groups.setdefault(tuple(parents.items()), ParentSetResult(parents=dict(parents)))
        _add(entry, status, witness, diagnostics)
        if not keep:
            if status == "hold":
                result.hold_witness = result.hold_witness or witness
            elif status == "fail":
                result.fail_witness = result.fail_witness or witness
    result.parent_sets = sorted(groups.values(), key=lambda e: tuple(e.parents.items()))
    if not keep:
        for name in ("n_dags", "n_hold", "n_fail", "n_invalid"):
            setattr(result, name, sum(getattr(p, name) for p in result.parent_sets))
    return result


def _add(
    entry: ParentSetResult,
    status: str,
    witness: MagWitness,
    diagnostics: tuple[bool, bool] | None,
) -> None:
    entry.n_dags += 1
    if status == "invalid":
        entry.n_invalid += 1
        return
    holds = status == "hold"
    if holds:
        entry.n_hold += 1
    else:
        entry.n_fail += 1
    if entry.witness is None or (not holds and entry.witness.open_path is None):
        entry.witness = witness
    assert diagnostics is not None
    c1, c2 = diagnostics
    entry.n_c1 = (entry.n_c1 or 0) + c1
    entry.n_c2 = (entry.n_c2 or 0) + c2
    entry.n_conjecture_disagrees = (entry.n_conjecture_disagrees or 0) + ((c1 and c2) != holds)
