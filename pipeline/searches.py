"""One runner per search method: causal-learn's PC, GES or FCI on the statistics, then repairs.

:func:`mesalens.pipeline.discovery.discover` checks the arguments, builds a
:class:`SearchRequest` and calls the method's runner (its table,
:data:`~mesalens.pipeline.discovery.RUNNERS`). PC and FCI ask their CI
tests of a :class:`~mesalens.pipeline.causallearn_session.SearchSession`
through causal-learn's custom-test registry
(:mod:`mesalens.pipeline.causallearn_bridge`); GES scores the covariance
matrix. Each runner then applies what the search could not
(:mod:`mesalens.pipeline.search_repairs`, :mod:`mesalens.pipeline.pag_repair`)
and returns a :class:`~mesalens.pipeline.discovery_result.DiscoveryResult`.
causal-learn is imported inside the runners: it takes seconds to import.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from mesalens.pipeline.causallearn_session import CAUSALLEARN_LOCK, SearchSession, quiet
from mesalens.pipeline.ci_tests import (
    IndependenceTest,
    binary_or_continuous,
    make_test,
    require_variance,
)
from mesalens.pipeline.discovery_result import DiscoveryResult
from mesalens.pipeline.errors import DiscoveryError
from mesalens.pipeline.graph import CausalGraph
from mesalens.pipeline.knowledge import Knowledge
from mesalens.pipeline.orientation_repair import is_consistent_pattern
from mesalens.pipeline.search_repairs import (
    check_regime_root,
    enforce_required,
    make_regime_root,
    remove_mutual,
    repair_pc_orientations,
)
from mesalens.pipeline.statistics import SufficientStatistics

__all__ = ["SearchRequest", "refuse_knowledge_note_unused", "run_fci", "run_ges", "run_pc"]


@dataclass(frozen=True)
class SearchRequest:
    """One search, as :func:`~mesalens.pipeline.discovery.discover` was asked for it.

    The arguments are those of ``discover``, checked. ``settings`` and
    ``notes`` are the run's: the runner adds its own to them.

    Attributes
    ----------
    knowledge : Knowledge or None
        The caller's knowledge, as given.
    full : Knowledge
        That knowledge with the regime exogenous, validated: what the search
        applies.
    """

    stats: SufficientStatistics
    test: str | IndependenceTest
    alpha: float
    max_depth: int
    knowledge: Knowledge | None
    full: Knowledge
    regime: str
    seed: int
    progress: Callable[[int, int], None] | None
    raw: np.ndarray | None
    settings: dict[str, Any]
    notes: list[str]


# ---------------------------------------------------------------- PC and FCI
class _Search(NamedTuple):
    """What PC and FCI are given: the test session, the knowledge and the placeholder."""

    names: list[str]
    session: SearchSession
    bk: Any
    placeholder: np.ndarray
    mutual: list[tuple[str, str]]


def _prepare(request: SearchRequest) -> _Search:
    stats, test, full = request.stats, request.test, request.full
    names = list(stats.columns)
    tester = test if isinstance(test, IndependenceTest) else make_test(stats, test, raw=request.raw)
    request.settings["test"] = tester.name
    search_knowledge, mutual = full.split_mutual(names)
    required = {frozenset((names.index(a), names.index(b))) for a, b in full.required}
    session = SearchSession(tester, names, float(request.alpha), required, request.progress)
    # causal-learn is imported here, not at module level: it takes seconds to
    # import, and the commands that never search should not pay for it.
    from causallearn.graph.GraphNode import GraphNode

    nodes = [GraphNode(name) for name in names]
    bk = search_knowledge.to_causallearn(nodes)
    # A placeholder of the right width: the searches read only its shape.
    placeholder = np.zeros((max(len(names), 2), len(names)))
    return _Search(names, session, bk, placeholder, mutual)


def _finish(request: SearchRequest, search: _Search, general: Any, method: str) -> CausalGraph:
    """The search's graph with the knowledge it could not apply enforced, and noted."""
    from mesalens.pipeline.formats.causallearn import from_causallearn

    names, full, notes = search.names, request.full, request.notes
    graph = from_causallearn(general, names)

    for pair, record in sorted(search.session.kept.items(), key=lambda kv: sorted(kv[0])):
        a, b = _required_direction(full, names, pair)
        given = ", ".join(record.conditioning_set) or "nothing"
        notes.append(
            f"required edge {a} --> {b} was kept although the data found {a} and {b} "
            f"independent given {given} (p = {record.p_value:.3g})"
        )
    graph = remove_mutual(graph, search.mutual, notes)
    graph = enforce_required(graph, full, method, notes)
    check_regime_root(graph, request.regime, method)
    return graph


def _required_direction(
    knowledge: Knowledge, names: Sequence[str], pair: frozenset[int]
) -> tuple[str, str]:
    i, j = sorted(pair)
    a, b = names[i], names[j]
    return (a, b) if knowledge.is_required(a, b) else (b, a)


def run_pc(request: SearchRequest) -> DiscoveryResult:
    """PC (stable) on the session's tests; contradictory orientations rebuilt."""
    search = _prepare(request)
    from mesalens.pipeline.causallearn_bridge import CIT_NAME

    settings, max_depth = request.settings, request.max_depth
    with CAUSALLEARN_LOCK, quiet(request.notes, request.seed):
        from causallearn.search.ConstraintBased.PC import pc

        settings.update(stable=True, uc_rule=0, uc_priority=2)
        cg = pc(
            search.placeholder,
            float(request.alpha),
            CIT_NAME,
            stable=True,
            uc_rule=0,
            uc_priority=2,
            background_knowledge=search.bk,
            verbose=False,
            show_progress=False,
            node_names=search.names,
            max_k=None if max_depth == -1 else max_depth,
            session=search.session,
        )
    graph = _finish(request, search, cg.G, "pc")
    if graph.kind() != "pag" and not is_consistent_pattern(graph, request.regime):
        graph = repair_pc_orientations(
            graph, request.full, search.session.records, request.regime, request.notes
        )
    return DiscoveryResult(
        graph=graph, ci_tests=search.session.records, settings=settings, notes=request.notes
    )


def run_fci(request: SearchRequest) -> DiscoveryResult:
    """FCI on the session's tests, causal-learn's defects patched; an invalid PAG repaired."""
    search = _prepare(request)
    from mesalens.pipeline.causallearn_bridge import CIT_NAME, patched_fci_orientation

    settings, full, notes = request.settings, request.full, request.notes
    with CAUSALLEARN_LOCK, quiet(notes, request.seed):
        from causallearn.search.ConstraintBased.FCI import fci

        settings.update(max_path_length=-1)
        with patched_fci_orientation(frozenset(full.exogenous)):
            general, _ = fci(
                search.placeholder,
                CIT_NAME,
                float(request.alpha),
                depth=int(request.max_depth),
                max_path_length=-1,
                verbose=False,
                background_knowledge=search.bk,
                show_progress=False,
                node_names=search.names,
                session=search.session,
            )
    graph = _finish(request, search, general, "fci")
    # FCI's tests can contradict each other into a graph that is no PAG:
    # repaired as Tetrad's guaranteePag does (mesalens.pipeline.pag_repair).
    from mesalens.pipeline.pag_repair import pag_problem, repair_pag

    if pag_problem(graph) is not None:
        with CAUSALLEARN_LOCK, quiet(notes, request.seed):
            repair = repair_pag(graph, request.regime, full)
        graph = repair.graph
        notes.append(repair.note())
    return DiscoveryResult(
        graph=graph, ci_tests=search.session.records, settings=settings, notes=notes
    )


# ---------------------------------------------------------------- GES
def refuse_knowledge_note_unused(request: SearchRequest, method: str) -> None:
    """What a score-based search cannot use: knowledge refused, a test or max_depth noted.

    ``method`` is the search's name as messages write it (``"GES"``,
    ``"BOSS"``, ``"GRaSP"``): causal-learn gives none of them background
    knowledge, and none runs CI tests.
    """
    knowledge, notes = request.knowledge, request.notes
    if knowledge is not None and not knowledge.is_empty():
        raise DiscoveryError(
            f"causal-learn's {method} takes no background knowledge (tiers, forbidden or "
            "required edges); use --method pc or fci (config: method), or drop the knowledge"
        )
    if not (isinstance(request.test, str) and request.test == "auto"):
        notes.append(f"{method} is score-based: the test setting was not used")
    if request.max_depth != -1:
        notes.append(f"{method} does not use max_depth")


def run_ges(request: SearchRequest) -> DiscoveryResult:
    """GES with the BIC score on the covariance; the regime made a root after the search."""
    notes, settings = request.notes, request.settings
    refuse_knowledge_note_unused(request, "GES")
    graph = _ges_cpdag(request.stats, request.regime, notes, request.seed)
    settings.update(test="bic", score="local_score_BIC (from the covariance)")
    if request.progress is not None:
        request.progress(0, 0)
    return DiscoveryResult(graph=graph, ci_tests=[], settings=settings, notes=notes)


def _ges_cpdag(
    stats: SufficientStatistics, regime: str, notes: list[str], seed: int
) -> CausalGraph:
    """GES with the BIC score on the covariance matrix (no rows needed)."""
    from causallearn.search.ScoreBased.GES import ges

    from mesalens.pipeline.formats.causallearn import from_causallearn

    if not binary_or_continuous(stats):
        wide = [c for c in stats.discrete_columns if stats.cardinality(c) > 2]
        raise DiscoveryError(
            f"GES here scores linear Gaussian models, which cannot use the level codes of "
            f"{', '.join(map(repr, wide))} (more than two levels); use --method pc with "
            "--test dg or gsq (config: method, test)"
        )
    require_variance(stats, "BIC")
    names = list(stats.columns)
    with CAUSALLEARN_LOCK, quiet(notes, seed):
        record = ges(
            None,
            score_func="local_score_BIC",
            node_names=names,
            cov=stats.covariance_ml(),
            n=stats.n,
        )
    graph = from_causallearn(record["G"], names)
    return make_regime_root(graph, regime, notes, "GES")
