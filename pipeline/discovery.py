"""Causal discovery from sufficient statistics: PC, GES, FCI, BOSS and GRaSP through causal-learn.

The searches themselves are causal-learn's (Zheng et al., "Causal-learn:
Causal Discovery in Python", JMLR 2024):

``pc``
    The PC algorithm (Spirtes, Glymour & Scheines 2000), stable variant
    (Colombo & Maathuis 2014): remove the edge ``x --- y`` as soon as a
    conditional-independence (CI) test accepts ``x ⟂ y | S`` for some ``S``
    among the neighbours, then orient unshielded colliders from the
    separating sets and close under Meek's rules. Output: a CPDAG (an MPDAG
    with background knowledge).
``ges``
    Greedy Equivalence Search (Chickering, JMLR 2002) with the linear
    Gaussian BIC score: forward edge insertions, then deletions, over
    equivalence classes. Output: a CPDAG.
``fci``
    Fast Causal Inference (Spirtes et al. 2000; Zhang, AIJ 2008): PC's
    adjacency search plus possible-d-separation tests and the ten
    orientation rules, which stay sound with latent confounders. Output: a
    PAG (``o->``, ``<->`` and ``o-o`` marks).
``boss``, ``grasp``
    The permutation-based searches BOSS (Andrews et al., NeurIPS 2023) and
    GRaSP (Lam, Andrews & Ramsey, UAI 2022): search over orderings of the
    variables, each scored by its best DAG, with the BIC score of GES on
    continuous or binary columns, BDeu on all-discrete data. Output: a
    CPDAG. See :mod:`mesalens.pipeline.permutation_searches`.

This module checks the arguments and hands the search to the method's
runner (:data:`RUNNERS`, :mod:`mesalens.pipeline.searches`).

What is added here
------------------
**Tests on statistics, not rows.** causal-learn's tests read a data matrix.
Here every CI test is computed from a :class:`SufficientStatistics` (one
dask pass over the data, see :mod:`mesalens.pipeline.statistics`) and
plugged into causal-learn through its custom-test registry
(:func:`causallearn.utils.cit.register_ci_test`): the search receives a
placeholder matrix of the right width and a test object that answers from
the statistics. That causal-learn side of the bridge is
:mod:`mesalens.pipeline.causallearn_bridge`, imported when a search runs:
causal-learn takes seconds to import, and ``mesalens check-graph`` never
needs it. The tests, and how ``test="auto"`` picks one, are those of
:mod:`mesalens.pipeline.ci_tests`.

**GES on the covariance.** causal-learn's ``ges`` accepts ``cov`` and ``n``
for its BIC score (``local_score_BIC_from_cov``, the same formula as
``local_score_BIC`` on rows, with the maximum-likelihood covariance); it is
given :meth:`SufficientStatistics.covariance_ml`. GES takes continuous or
binary columns only, and no background knowledge. BOSS and GRaSP get the
same score (causal-learn's ``boss`` and ``grasp`` build it from a matrix, so
their score class is swapped for one that reads the statistics), or BDeu
computed from the joint count table when every column is discrete; no
other knowledge (:mod:`mesalens.pipeline.permutation_searches`).

**The regime is exogenous.** Nothing causes the regime a row was logged
in, observed or latent. PC and FCI get this as background knowledge (every
edge into the regime forbidden); in FCI every edge at the regime is
oriented ``regime --> x``, which exogeneity licenses (a root with no latent
parent is an ancestor of everything it is adjacent to in the MAG). BOSS
and GRaSP search orderings; each runs twice, once over the DAGs in which
the regime is a root only (its parent sets score ``-inf``, the ordering
starts with it: :class:`mesalens.pipeline.permutation_searches.RegimeRoot`)
and once unconstrained, made a root afterwards as GES's output is, and the
higher-scoring graph is kept. GES takes no
knowledge, so the knowledge is applied after the
search (:func:`mesalens.pipeline.search_repairs.make_regime_root`; the
notes name the search). If the CPDAG
it learns *compels* an edge into the regime (a ``-->``, not a ``---``: GES
made the regime a collider, a finite-sample error since nothing causes it),
its orientations are rebuilt as PC's contradictory ones are
(:func:`~mesalens.pipeline.orientation_repair.repair_orientations`: same
skeleton, the colliders at the regime dropped, the others kept while a DAG
extends the graph, a note naming what was dropped;
:class:`DiscoveryError` only when no DAG of the skeleton has the regime as
a root). Then, for GES, BOSS and GRaSP, as the checker would: every ``regime --- x`` becomes
``regime --> x`` and the graph is closed under Meek's rules
(:func:`mesalens.pipeline.pdag.orient_and_close`), giving the MPDAG of the
CPDAG's DAGs in which the regime is a root; a note lists the edges so
oriented.

**FCI's output made a PAG.** FCI returns a PAG only when its tests are all
right; at finite samples its output can be no PAG (Zhang's MAG of it has an
almost directed cycle, say), and the check cannot run on it. Such output is
repaired as Tetrad's ``guaranteePag`` option does
(:func:`mesalens.pipeline.pag_repair.repair_pag`: Zhang's MAG made ancestral
and maximal, then its PAG rebuilt by FCI with exact m-separation); a note
says what was wrong and which edges changed. Valid output is left as it is.

Upstream defects worked around
------------------------------
*Required edges removed by tests.* causal-learn's skeleton searches test
required pairs like any other and silently drop them. Here the test object
still runs and records those tests, but reports dependence to the search
for a required pair, so the edge stays (as Tetrad's FAS does) and every
later step sees it; the report's notes say which required edges the data
alone would have removed. After the search each required edge is checked to
be ``a --> b`` (PC: re-oriented and Meek-closed if not; both: noted).

*Pairs forbidden in both directions* (a starred tier, or ``a --> b`` and
``b --> a`` both forbidden) make causal-learn remove the edge without a
separating set and record an empty one, so every common neighbour becomes a
collider (causal-learn issue #224). Those pairs are left out of the search's
knowledge; if the data keep them adjacent, the edge is removed afterwards
and noted.

*FCI over-orients at background knowledge* (causal-learn issue #266):
``fci_orient_bk`` turns a forbidden ``a --> b`` into ``b --> a``, placing a
tail at ``b`` that the knowledge does not license, and FCI's rules
propagate it. During :func:`discover`'s FCI run that function is replaced
by one that follows Tetrad's ``FciOrient.fciOrientbk``: a forbidden
``a --> b`` puts only an arrowhead at ``a``; a required ``a --> b`` puts a
tail at ``a`` and an arrowhead at ``b``; an exogenous regime gets
``regime --> x``. (Post-processing cannot repair this: the spurious tail
has already driven other orientations.)

*FCI's selection-bias rules misfire.* causal-learn runs Zhang's R5-R7,
which add ``---`` (selection) marks, and its R5 does not check that the
circle path is uncovered where it joins its end edges: with an exact
d-separation oracle it turned the valid all-circle PAG of
``X1 <-> X2 <-> X3 <-> X1`` (one latent), ``X1 --> X4 <-- X2``,
``X2 --> X5 <-- X4`` into ``---`` edges. mesalens assumes no selection bias,
under which R0-R4 and R8-R10 are complete (Zhang, AIJ 2008), so the same
patch turns R5-R7 into no-ops (:mod:`~mesalens.pipeline.causallearn_bridge`).

*FCI's R9 and R10 look for the wrong paths.* Both need an uncovered
potentially directed path out of ``A`` (Zhang 2008). causal-learn's R10
accepts semi-directed "paths" that are not uncovered and may run back
through ``A``: with a d-separation oracle it oriented ``A --> C`` where the
true PAG has ``A o-> C`` (a wrong tail). Its R9 searches breadth-first with
one visited set, so a covered path hides an uncovered one and a tail is
missed. And its loop runs R4 only in a pass where R1-R3 changed
something, so a discriminating path opened by R4 itself (or by R8-R10) is
never used (missing tails). The same patch replaces R9 and R10 with Zhang's
rules and makes R4 run in every pass (``tests/test_fci_rules.py`` compares
oracle FCI with the brute-force PAG).

*Console output.* causal-learn prints (FCI's knowledge orientation, verbose
traces) and draws tqdm progress bars. Searches run with
``show_progress=False`` and with standard output redirected to this
module's logger at DEBUG level; causal-learn's warnings become notes.

Determinism
-----------
PC, GES and the tests are deterministic given the column order, which the
statistics fix. FCI's adjacency search and orientation rules are too (the
one rule that walked Python sets in string-hashing order, R5, is not run).
``seed`` seeds numpy's global generator, restored afterwards, for KCI's
null distribution when not approximated. BOSS and GRaSP shuffle with
Python's :mod:`random`: they are given a generator of their own seeded
with ``seed``, so a seed gives one graph.

Examples
--------
>>> import numpy as np, pandas as pd, dask.dataframe as dd
>>> from mesalens.pipeline.statistics import compute_statistics
>>> rng = np.random.default_rng(0)
>>> regime = rng.integers(0, 2, 2000)
>>> coin = regime + rng.normal(size=2000)
>>> value = coin + rng.normal(size=2000)
>>> frame = dd.from_pandas(pd.DataFrame({"regime": regime, "coin": coin, "value": value}), 2)
>>> kinds = {"regime": "discrete", "coin": "continuous", "value": "continuous"}
>>> result = discover(compute_statistics(frame, kinds), regime="regime")
>>> [str(e) for e in result.graph.edges()]
['regime --> coin', 'coin --> value']
>>> result.ci_tests[0].decision
'dependent'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mesalens.pipeline.ci_tests import IndependenceTest
from mesalens.pipeline.discovery_result import DiscoveryResult
from mesalens.pipeline.errors import DiscoveryError
from mesalens.pipeline.knowledge import Knowledge
from mesalens.pipeline.permutation_searches import run_boss, run_grasp
from mesalens.pipeline.searches import SearchRequest, run_fci, run_ges, run_pc
from mesalens.pipeline.statistics import SufficientStatistics

__all__ = ["METHODS", "RUNNERS", "SCORE_BASED", "discover"]

#: The runner of each method (:mod:`mesalens.pipeline.searches`,
#: :mod:`mesalens.pipeline.permutation_searches`).
RUNNERS: dict[str, Callable[[SearchRequest], DiscoveryResult]] = {
    "pc": run_pc,
    "ges": run_ges,
    "fci": run_fci,
    "boss": run_boss,
    "grasp": run_grasp,
}
METHODS = tuple(RUNNERS)
#: The methods that score graphs and run no CI test (``test`` and ``max_depth``
#: unused, no background knowledge but the regime's, made a root afterwards).
SCORE_BASED = ("ges", "boss", "grasp")


def _check_arguments(
    stats: SufficientStatistics, method: str, alpha: float, max_depth: int, regime: str
) -> None:
    if method not in METHODS:
        raise DiscoveryError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise DiscoveryError(f"alpha must be a number strictly between 0 and 1; got {alpha!r}")
    if isinstance(max_depth, bool) or not isinstance(max_depth, int) or max_depth < -1:
        raise DiscoveryError(
            f"max_depth must be -1 (unlimited) or a conditioning-set size >= 0; got {max_depth!r}"
        )
    if regime not in stats.index:
        shown = ", ".join(map(repr, stats.columns[:12]))
        raise DiscoveryError(
            f"the regime {regime!r} is not among the analysed columns ({shown}); add it or name "
            "the right column"
        )
    if len(stats.columns) < 2:
        raise DiscoveryError("discovery needs at least two columns")


def discover(
    stats: SufficientStatistics,
    *,
    method: str = "pc",
    test: str | IndependenceTest = "auto",
    alpha: float = 0.01,
    max_depth: int = -1,
    knowledge: Knowledge | None = None,
    regime: str,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    raw: np.ndarray | None = None,
) -> DiscoveryResult:
    """Learn an equivalence class from sufficient statistics.

    Parameters
    ----------
    stats : SufficientStatistics
        From :func:`mesalens.pipeline.statistics.compute_statistics`; its
        column order is the graph's node order.
    method : {"pc", "ges", "fci", "boss", "grasp"}
        The search (see the module docstring).
    test : str or IndependenceTest
        ``"auto"``, ``"fisherz"``, ``"gsq"``, ``"chisq"``, ``"dg"``, ``"kci"``
        (:mod:`mesalens.pipeline.ci_tests`), or a test object. Not used by
        GES, BOSS or GRaSP.
    alpha : float
        Significance level: a pair is independent when ``p > alpha``.
    max_depth : int
        The largest conditioning set tried (``-1``: unlimited). PC and FCI
        only.
    knowledge : Knowledge, optional
        Tiers, forbidden and required edges (PC and FCI only; GES, BOSS and
        GRaSP refuse it).
    regime : str
        The regime column; it is made exogenous.
    seed : int
        Seeds numpy's global generator during the search (restored after),
        and BOSS's and GRaSP's own :mod:`random` generator.
    progress : callable, optional
        Called after each new CI test as ``progress(tests_so_far, size of
        its conditioning set)``; GES, BOSS and GRaSP call it once at the end
        with ``(0, 0)``.
    raw : ndarray, optional
        The rows, in column order; only the KCI test uses them.

    Returns
    -------
    DiscoveryResult
        The graph, every CI test, the settings and the notes.

    Raises
    ------
    DiscoveryError
        On a bad argument, a test that does not fit the data (``"kci"``
        without ``raw`` or with more than
        :data:`~mesalens.pipeline.ci_tests.KCI_MAX_ROWS` rows),
        knowledge with GES, BOSS or GRaSP, data their score does not fit,
        or a CPDAG of theirs that compels an edge into the regime and no DAG
        of its skeleton has the regime a root.
    KnowledgeError
        If the knowledge names unknown columns or contradicts itself.
    """
    _check_arguments(stats, method, alpha, max_depth, regime)
    names = list(stats.columns)
    notes: list[str] = []
    settings: dict[str, Any] = {
        "method": method,
        "alpha": float(alpha),
        "max_depth": max_depth,
        "regime": regime,
        "seed": seed,
        "n": stats.n,
        "columns": names,
        "causal_learn": _causallearn_version(),
    }
    full = (knowledge or Knowledge()).with_regime_exogenous(regime)
    full.validate(names)
    settings["knowledge"] = {
        "tiers": [list(t) for t in full.tiers],
        "forbidden": sorted(full.forbidden),
        "required": sorted(full.required),
        "forbidden_within": sorted(full.forbidden_within),
        "exogenous": sorted(full.exogenous),
    }

    request = SearchRequest(
        stats=stats,
        test=test,
        alpha=alpha,
        max_depth=max_depth,
        knowledge=knowledge,
        full=full,
        regime=regime,
        seed=seed,
        progress=progress,
        raw=raw,
        settings=settings,
        notes=notes,
    )
    return RUNNERS[method](request)


def _causallearn_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("causal-learn")
    except PackageNotFoundError:  # pragma: no cover - installed from source
        return "unknown"
