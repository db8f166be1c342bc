"""BOSS and GRaSP, causal-learn's permutation-based searches, scored from the sufficient statistics.

Both search over orderings of the variables: each ordering is scored by the
best DAG consistent with it (every node's parents the best-scoring subset of
its predecessors, found by causal-learn's grow-shrink trees), and the
ordering is improved until no move helps; the result is that DAG's CPDAG.

``boss``
    Best Order Score Search (Andrews, Ramsey, Sanchez-Romero, Camchong &
    Kummerfeld, NeurIPS 2023): moves one variable at a time to the position
    in the ordering that scores best, over the variables in a shuffled
    order, until no move improves the score
    (``causallearn.search.PermutationBased.BOSS.boss``).
``grasp``
    Greedy Relaxations of the Sparsest Permutation (Lam, Andrews & Ramsey,
    UAI 2022): depth-first search over "tucks" of covered edges, to depth
    :data:`GRASP_DEPTH` (causal-learn's default), in shuffled order
    (``causallearn.search.PermutationBased.GRaSP.grasp``).

The score, from the statistics
------------------------------
causal-learn's ``boss`` and ``grasp`` read a data matrix and build their
score object from it (``LocalScoreClass``); neither accepts a covariance.
During the search that class is replaced, in the search's module, by one
that answers from the :class:`SufficientStatistics` (:func:`_scores_from`);
the search code itself is causal-learn's, unchanged, and is given a
placeholder matrix of the right width (it reads only its shape).

* Continuous columns and binary discrete ones (as for ``test="auto"``'s
  Fisher z): causal-learn's ``local_score_BIC_from_cov`` on
  :meth:`SufficientStatistics.covariance_ml` and ``n``, the score GES is
  given, with GES's penalty: ``lambda_value`` :data:`BIC_PENALTY` (0.5, the
  standard BIC; ``boss``/``grasp`` default to 2 when given no
  ``parameters``, a fourfold penalty).
* Every column discrete (any number of levels): the BDeu score
  (Heckerman, Geiger & Chickering 1995) as causal-learn's
  ``local_score_BDeu`` computes it from rows (sample prior 1, structure
  prior 1, each variable's observed levels), computed here from the joint
  count table (:attr:`SufficientStatistics.cell_counts`): the counts
  ``N_ij`` and ``N_ijk`` are marginals of it (:class:`CountsBDeu`). GES,
  which causal-learn can give a covariance but not counts, refuses
  variables with more than two levels; BOSS and GRaSP take them.
  With two variables causal-learn's structure-prior term is ``log 0``
  (``0 * log 0`` with a parent), and its search then never adds the edge;
  there the prior is taken uniform (the term is 0).
* Continuous columns with a discrete one of more than two levels: refused,
  as GES refuses them (PC or FCI with ``--test dg`` fit that case).

The regime, knowledge, seed
---------------------------
Neither search takes background knowledge (their grow-shrink trees have a
``set_knowledge`` that causal-learn marks "not implemented" and never
calls), but the regime-root knowledge fits an ordering search exactly: the
DAGs in which nothing causes the regime are those consistent with an
ordering whose first variable is the regime, with no parent for it. Each
search is run twice, and the result is the better of the two by the score:

1. **Over those DAGs only.** The score the search is given scores every
   non-empty parent set of the regime ``-inf`` (:class:`RegimeRoot`, around
   the score above), and the search starts from an ordering with the
   regime first (BOSS starts from the column order, the regime's column
   first; GRaSP from a shuffle, after which the regime is moved to the
   front). Every DAG it visits has the regime as a root, and so has its
   CPDAG, whose undirected edges at the regime are then oriented out of it
   (:func:`~mesalens.pipeline.search_repairs.orient_from_regime`); an edge
   into the regime would be a bug
   (:func:`~mesalens.pipeline.search_repairs.check_regime_root`).
2. **Unconstrained**, as causal-learn runs it, the regime made a root
   afterwards as after GES
   (:func:`~mesalens.pipeline.search_repairs.make_regime_root`): where the
   CPDAG makes the regime a collider, that repair drops the collider and
   keeps the others while a DAG extends the graph.

Both graphs have DAGs with the regime as a root; the score of each
(:func:`class_score`: BDeu and BIC are score equivalent, so any DAG of
the class) decides, a tie (:data:`SCORE_TIE`) going to the first; the
notes say which was kept, and ``settings["starts"]`` holds both scores.
Why both: alone, the repair of step 2 had to add colliders that the score
never chose (in name order: ``D_m --> Y_m <-- Y_b``, say) and learned
``none`` on discrete logs where the criterion holds; alone, step 1's
greedy search, confined to the regime-root orderings, stopped at a lower
score than step 2's in 17 of 540 trials of ``mesalens simulate --family
discrete`` (bench/RESULTS.md, "Discrete recall").
Other knowledge is refused (:func:`~mesalens.pipeline.searches.refuse_knowledge_note_unused`).
Both shuffle with Python's :mod:`random` module. During the search, the
search module's ``random`` is a generator of its own seeded with the run's
``seed`` (``random.Random(seed)``; the global generator is not touched), so
a seed gives one graph, and ``random.seed(seed)`` then causal-learn's
``boss``/``grasp`` on the raw rows, run the same two ways and chosen between
by causal-learn's score on the rows, gives the same graph
(``tests/test_permutation_searches.py``).
causal-learn is imported inside the runners: it takes seconds to import.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
from scipy.special import gammaln

from mesalens.pipeline.causallearn_session import CAUSALLEARN_LOCK, quiet
from mesalens.pipeline.ci_tests import binary_or_continuous, require_variance
from mesalens.pipeline.discovery_result import DiscoveryResult
from mesalens.pipeline.errors import DiscoveryError
from mesalens.pipeline.graph import CausalGraph
from mesalens.pipeline.pdag import Pdag, extension_dag
from mesalens.pipeline.search_repairs import (
    check_regime_root,
    make_regime_root,
    orient_from_regime,
)
from mesalens.pipeline.searches import SearchRequest, refuse_knowledge_note_unused
from mesalens.pipeline.statistics import DISCRETE, SufficientStatistics

__all__ = [
    "BIC_PENALTY",
    "GRASP_DEPTH",
    "SCORE_TIE",
    "CountsBDeu",
    "RegimeRoot",
    "class_score",
    "permutation_score",
    "regime_first",
    "run_boss",
    "run_grasp",
]

#: causal-learn's ``lambda_value`` for the BIC score: GES's (the standard BIC).
BIC_PENALTY = 0.5
#: GRaSP's depth of search over tucks: causal-learn's default.
GRASP_DEPTH = 3
#: Two graphs' scores closer than this (relative) are a tie, kept for the regime-root search's.
SCORE_TIE = 1e-9
# The searches' display names, as messages write them.
_LABELS = {"boss": "BOSS", "grasp": "GRaSP"}


def permutation_score(stats: SufficientStatistics, method: str = "boss") -> str:
    """The score BOSS or GRaSP uses on ``stats``: ``"bdeu"`` or ``"bic"``.

    Raises
    ------
    DiscoveryError
        For continuous columns mixed with a discrete one of more than two
        levels (neither score fits), or a constant column under BIC.
    """
    label = _LABELS.get(method, method)
    if all(stats.kinds[c] == DISCRETE for c in stats.columns):
        return "bdeu"
    if not binary_or_continuous(stats):
        wide = [c for c in stats.discrete_columns if stats.cardinality(c) > 2]
        raise DiscoveryError(
            f"{label} here scores linear Gaussian models (BIC) or all-discrete data (BDeu): "
            f"with continuous columns it cannot use the level codes of "
            f"{', '.join(map(repr, wide))} (more than two levels); use --method pc with "
            "--test dg (config: method, test), or make every column discrete"
        )
    require_variance(stats, "BIC")
    return "bic"


class CountsBDeu:
    """causal-learn's ``local_score_BDeu`` computed from the joint count table.

    It stands in for causal-learn's ``LocalScoreClass`` in BOSS and GRaSP:
    ``score(i, parents)`` and ``score_nocache(i, parents)`` return the BDeu
    log score of ``i`` given ``parents`` (higher is better), and ``data`` is
    a placeholder whose width the searches read. With ``r_i`` the observed
    levels of ``i``, ``q`` the product of its parents' observed levels,
    ``N_ij`` the rows with parent configuration ``j`` and ``N_ijk`` those of
    them with level ``k`` of ``i`` (observed combinations only: the others
    add nothing)::

        score = |Pa| log(s / v) + (v - |Pa|) log(1 - s / v)
                + sum_j [lgamma(a / q) - lgamma(N_ij + a / q)]
                + sum_jk [lgamma(N_ijk + a / (r_i q)) - lgamma(a / (r_i q))]

    with ``v = p - 1``, sample prior ``a = 1`` and structure prior ``s = 1``
    (causal-learn's defaults). When ``v = 1`` the first line is taken as 0
    (see the module docstring). Scores are cached: they depend on the parent
    set, not its order.
    """

    sample_prior = 1.0
    structure_prior = 1.0

    def __init__(self, stats: SufficientStatistics):
        if any(stats.kinds[c] != DISCRETE for c in stats.columns):
            raise DiscoveryError("internal: the BDeu score needs every column discrete")
        order = [stats.discrete_columns.index(c) for c in stats.columns]
        self.codes = stats.discrete_codes[:, order]
        self.weights = stats.cell_counts.astype(np.float64)
        self.levels = [stats.cardinality(c) for c in stats.columns]
        self.n = stats.n
        p = len(stats.columns)
        self.data = np.zeros((max(p, 2), p))
        self._cache: dict[tuple[int, tuple[int, ...]], float] = {}

    def score(self, i: int, parents: list[int]) -> float:
        """The BDeu log score of ``i`` given ``parents`` (cached)."""
        key = (int(i), tuple(sorted(int(k) for k in parents)))
        if key not in self._cache:
            self._cache[key] = self._score(*key)
        return self._cache[key]

    score_nocache = score

    def _score(self, i: int, parents: tuple[int, ...]) -> float:
        a = self.sample_prior
        q = float(np.prod([self.levels[k] for k in parents])) if parents else 1.0
        r = self.levels[i]
        vm = self.codes.shape[1] - 1
        k = len(parents)
        structure = 0.0
        if vm > 1:
            s = self.structure_prior / vm
            structure = k * np.log(s) + (vm - k) * np.log(1 - s)
        if parents:
            cells, inverse = np.unique(self.codes[:, [*parents, i]], axis=0, return_inverse=True)
            n_ijk = np.bincount(inverse.ravel(), weights=self.weights, minlength=len(cells))
            _, parent_of = np.unique(cells[:, :-1], axis=0, return_inverse=True)
            n_ij = np.bincount(parent_of.ravel(), weights=n_ijk)
        else:
            n_ijk = np.bincount(self.codes[:, i], weights=self.weights)
            n_ij = np.array([float(self.n)])
        n_ijk = n_ijk[n_ijk > 0]
        groups = float(np.sum(gammaln(a / q) - gammaln(n_ij + a / q)))
        within = float(np.sum(gammaln(n_ijk + a / (r * q)) - gammaln(a / (r * q))))
        return float(structure + groups + within)


class RegimeRoot:
    """A local score under which the regime takes no parents: the search's DAGs have it as a root.

    BOSS and GRaSP pick each variable's parents among its predecessors in
    the ordering with causal-learn's grow-shrink trees, which add a parent
    only when it raises the score. Scoring every non-empty parent set of
    the regime ``-inf`` (and every other query as ``inner`` does) makes
    every DAG the search visits one in which the regime is a root, so the
    search optimises over exactly the DAGs the regime-root knowledge allows.

    Parameters
    ----------
    inner : object
        The score: ``score(i, parents)``, ``score_nocache(i, parents)`` and
        ``data`` (causal-learn's ``LocalScoreClass`` or :class:`CountsBDeu`).
    regime : int
        The regime's column index.
    """

    def __init__(self, inner: Any, regime: int):
        self.inner = inner
        self.regime = int(regime)
        self.data = inner.data

    def score(self, i: int, parents: list[int]) -> float:
        """``inner``'s score; ``-inf`` for the regime with a parent."""
        if i == self.regime and len(parents) > 0:
            return -np.inf
        return float(self.inner.score(i, parents))

    def score_nocache(self, i: int, parents: list[int]) -> float:
        """``inner``'s uncached score; ``-inf`` for the regime with a parent."""
        if i == self.regime and len(parents) > 0:
            return -np.inf
        return float(self.inner.score_nocache(i, parents))


def _statistics_score(stats: SufficientStatistics, kind: str) -> Any:
    """The score from the statistics: :class:`CountsBDeu`, or BIC on the covariance.

    The BIC is causal-learn's ``LocalScoreClass`` given the covariance and
    ``n`` (its ``data``, a placeholder of the right width, is never read).
    """
    if kind == "bdeu":
        return CountsBDeu(stats)
    from causallearn.score.LocalScoreFunction import local_score_BIC_from_cov
    from causallearn.score.LocalScoreFunctionClass import LocalScoreClass

    p = len(stats.columns)
    return LocalScoreClass(
        data=np.zeros((max(p, 2), p)),
        local_score_fun=local_score_BIC_from_cov,
        parameters={"lambda_value": BIC_PENALTY},
        cov=stats.covariance_ml(),
        n=stats.n,
    )


@contextlib.contextmanager
def _scores_from(module: Any, kind: str, inner: Any, regime: int | None) -> Iterator[None]:
    """Make ``module``'s search use ``inner`` (a score of ``kind``); the regime (an index) a root.

    ``regime`` None: ``inner`` as it is, the search unconstrained. Both
    searches of a run share ``inner``, so a local score computed for one
    (from the count table, for BDeu) is looked up by the other.
    """
    from causallearn.score.LocalScoreFunction import local_score_BDeu, local_score_BIC_from_cov

    original = module.LocalScoreClass
    expected = local_score_BDeu if kind == "bdeu" else local_score_BIC_from_cov

    def from_statistics(data: Any, local_score_fun: Any, parameters: Any = None) -> Any:
        if local_score_fun is not expected:
            raise DiscoveryError(
                f"internal: the search asked for {getattr(local_score_fun, '__name__', '?')}, "
                f"not {expected.__name__}"
            )
        return inner if regime is None else RegimeRoot(inner, regime)

    module.LocalScoreClass = from_statistics
    try:
        yield
    finally:
        module.LocalScoreClass = original


def class_score(graph: CausalGraph, score: Any) -> float:
    """The score of the DAGs of ``graph`` (a CPDAG or MPDAG that a DAG extends).

    The sum of ``score.score(i, parents)`` over one DAG extension
    (:func:`~mesalens.pipeline.pdag.extension_dag`): BDeu and BIC are score
    equivalent, so every DAG of the class scores the same.
    """
    dag = extension_dag(Pdag.from_graph(graph, "scoring the search's graph"))
    return float(sum(score.score(j, sorted(dag.parents[j])) for j in range(len(graph.nodes))))


@contextlib.contextmanager
def _seeded_random(module: Any, seed: int) -> Iterator[None]:
    """``module``'s :mod:`random` replaced by a generator of its own, seeded with ``seed``.

    ``random.Random(seed)`` draws what the global generator draws after
    ``random.seed(seed)``; being private, it is neither disturbed by other
    threads nor disturbs them, and the global generator is left as it was.
    """
    original = module.random
    module.random = random.Random(seed)
    try:
        yield
    finally:
        module.random = original


@contextlib.contextmanager
def regime_first(module: Any, regime: int) -> Iterator[None]:
    """GRaSP's starting ordering (``module.Order``, a shuffle) with ``regime`` moved to the front.

    The shuffle draws what it drew before; only the regime's place changes.
    BOSS starts from the column order and needs no such change when the
    regime's column is first (as :class:`~mesalens.connectors.loaded.LoadedData`
    puts it).
    """
    original = module.Order

    class RegimeFirstOrder(original):  # type: ignore[misc, valid-type]
        def __init__(self, p: int, score: Any):
            super().__init__(p, score)
            self.order.remove(regime)
            self.order.insert(0, regime)

    module.Order = RegimeFirstOrder
    try:
        yield
    finally:
        module.Order = original


def _search(request: SearchRequest, method: str, inner: Any, *, rooted: bool) -> CausalGraph:
    """causal-learn's BOSS or GRaSP on the statistics' score ``inner``: the CPDAG it returns.

    ``rooted``: over the DAGs in which the regime is a root only
    (:class:`RegimeRoot`, :func:`regime_first`); else unconstrained.
    """
    from causallearn.search.PermutationBased import BOSS, GRaSP

    from mesalens.pipeline.formats.causallearn import from_causallearn

    stats = request.stats
    score = permutation_score(stats, method)
    names = list(stats.columns)
    placeholder = np.zeros((max(len(names), 2), len(names)))
    if score == "bdeu":
        score_func, parameters = "local_score_BDeu", None
        request.settings.update(
            test="bdeu",
            score="local_score_BDeu (from the joint counts; sample prior 1, structure prior 1)",
        )
    else:
        score_func, parameters = "local_score_BIC_from_cov", {"lambda_value": BIC_PENALTY}
        request.settings.update(
            test="bic",
            score=f"local_score_BIC_from_cov (from the covariance; lambda_value {BIC_PENALTY})",
        )
    module = BOSS if method == "boss" else GRaSP
    regime = names.index(request.regime)
    with (
        CAUSALLEARN_LOCK,
        quiet(request.notes, request.seed),
        _seeded_random(module, request.seed),
        _scores_from(module, score, inner, regime if rooted else None),
        regime_first(module, regime) if rooted and method == "grasp" else contextlib.nullcontext(),
    ):
        if method == "boss":
            general = BOSS.boss(
                placeholder, score_func, parameters=parameters, verbose=False, node_names=names
            )
        else:
            request.settings.update(grasp_depth=GRASP_DEPTH)
            general = GRaSP.grasp(
                placeholder,
                score_func,
                depth=GRASP_DEPTH,
                parameters=parameters,
                verbose=False,
                node_names=names,
            )
    return from_causallearn(general, names)


def _run(request: SearchRequest, method: str) -> DiscoveryResult:
    """The search from both starts; the regime-root graph of the higher score is kept."""
    label = _LABELS[method]
    refuse_knowledge_note_unused(request, label)
    regime = request.regime
    stats = request.stats
    score = _statistics_score(stats, permutation_score(stats, method))
    rooted = _search(request, method, score, rooted=True)
    # That search kept the regime a root, so no edge of its CPDAG points into it.
    check_regime_root(rooted, regime, label)
    rooted_notes: list[str] = []
    rooted = orient_from_regime(rooted, regime, rooted_notes, label, searched_as_root=True)
    free_notes: list[str] = []
    free: CausalGraph | None = _search(request, method, score, rooted=False)
    try:
        free = make_regime_root(free, regime, free_notes, label)
    except DiscoveryError:  # no DAG of its skeleton has the regime as a root
        free = None
    rooted_score = class_score(rooted, score)
    free_score = class_score(free, score) if free is not None else -np.inf
    keep_free = free is not None and free_score > rooted_score + SCORE_TIE * max(
        1.0, abs(rooted_score)
    )
    request.settings.update(
        starts={
            "regime_root": rooted_score,
            "unconstrained_then_rooted": free_score if np.isfinite(free_score) else None,
            "kept": "unconstrained_then_rooted" if keep_free else "regime_root",
        }
    )
    if free is None:
        kept = "the unconstrained one had no DAG with the regime a root, so the regime-root one"
    elif keep_free:
        kept = (
            f"the unconstrained one scored higher ({free_score:,.1f} against {rooted_score:,.1f})"
        )
    else:
        kept = (
            f"the regime-root one scored at least as high ({rooted_score:,.1f} against "
            f"{free_score:,.1f})"
        )
    graph, notes = (free, free_notes) if keep_free and free is not None else (rooted, rooted_notes)
    request.notes.append(
        f"{label} searched twice, over the DAGs in which the regime is a root and unconstrained "
        f"(the regime made a root afterwards); {kept}, and its graph was kept"
    )
    request.notes.extend(notes)
    if request.progress is not None:
        request.progress(0, 0)
    return DiscoveryResult(graph=graph, ci_tests=[], settings=request.settings, notes=request.notes)


def run_boss(request: SearchRequest) -> DiscoveryResult:
    """BOSS on the statistics' BIC or BDeu score, from both starts (the module docstring)."""
    return _run(request, "boss")


def run_grasp(request: SearchRequest) -> DiscoveryResult:
    """GRaSP on the statistics' BIC or BDeu score, from both starts (the module docstring)."""
    return _run(request, "grasp")
