"""Causal discovery from sufficient statistics: PC, GES and FCI through causal-learn.

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
needs it. The tests:

==========  ===========  ===================================================
name        data         computed from
==========  ===========  ===================================================
``fisherz``  continuous  the correlation matrix: Fisher's z of the partial
                          correlation (as ``causallearn.utils.cit.FisherZ``)
``gsq``      discrete     the joint count table: the likelihood-ratio G² test
``chisq``    discrete     the joint count table: Pearson's χ² test
``dg``       mixed        the covariance of the one-hot expanded data: the
                          degenerate Gaussian likelihood-ratio test (Andrews,
                          Ramsey & Cooper, PMLR 104, 2019)
``kci``      nonlinear    the raw rows (Zhang et al., UAI 2011); refused above
                          5,000 rows
==========  ===========  ===================================================

``test="auto"`` picks ``fisherz`` when every column is continuous or
*binary* discrete, ``gsq`` when every column is discrete, and ``dg``
otherwise. A binary column (the usual two-regime indicator) expands to one
0/1 column, on which the degenerate Gaussian test and Fisher's z test the
same partial correlation (one as a likelihood ratio, one through Fisher's
transform; they agree asymptotically), so ``auto`` keeps ``fisherz`` there:
it is what ``causal-learn``'s users run on such data, and the results can
be reproduced with ``pc(data, alpha, fisherz)``. ``auto`` never picks
``kci``: whether the relations are nonlinear is not visible in the
sufficient statistics (a dependence with zero correlation, such as
``y = x² + noise`` with ``x`` symmetric, leaves no trace in them), and
finding out would cost the kernel tests themselves, which grow as ``n³``.
Ask for it on small data you suspect of nonlinearity. KCI alone reads rows:
:func:`mesalens.pipeline.analysis.analyze` passes the pooled rows as
``raw=`` (refusing more than :data:`KCI_MAX_ROWS` before anything runs).

**GES on the covariance.** causal-learn's ``ges`` accepts ``cov`` and ``n``
for its BIC score (``local_score_BIC_from_cov``, the same formula as
``local_score_BIC`` on rows, with the maximum-likelihood covariance); it is
given :meth:`SufficientStatistics.covariance_ml`. GES takes continuous or
binary columns only, and no background knowledge.

**The regime is exogenous.** Nothing causes the regime a row was logged
in, observed or latent. PC and FCI get this as background knowledge (every
edge into the regime forbidden); in FCI every edge at the regime is
oriented ``regime --> x``, which exogeneity licenses (a root with no latent
parent is an ancestor of everything it is adjacent to in the MAG). GES has
no knowledge, so the knowledge is applied after the search. If the CPDAG
it learns *compels* an edge into the regime (a ``-->``, not a ``---``: GES
made the regime a collider, a finite-sample error since nothing causes it),
its orientations are rebuilt as PC's contradictory ones are
(:func:`~mesalens.pipeline.orientation_repair.repair_orientations`: same
skeleton, the colliders at the regime dropped, the others kept while a DAG
extends the graph, a note naming what was dropped;
:class:`DiscoveryError` only when no DAG of the skeleton has the regime as
a root). Then, as the checker would: every ``regime --- x`` becomes
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
``seed`` seeds numpy's global generator, restored afterwards, for the one
randomised piece (KCI's null distribution when not approximated).

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

import abc
import contextlib
import io
import logging
import math
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# p-values through scipy.special (norm.cdf is ndtr, chi2.sf is chdtrc: the
# same functions scipy.stats calls), which imports in a fraction of the time.
from scipy.special import chdtrc, ndtr

from mesalens.pipeline.errors import DiscoveryError
from mesalens.pipeline.graph import CausalGraph, Edge, Mark
from mesalens.pipeline.knowledge import Knowledge
from mesalens.pipeline.orientation_repair import is_consistent_pattern, repair_orientations
from mesalens.pipeline.pdag import Pdag, meek_closure, orient_and_close
from mesalens.pipeline.statistics import CONTINUOUS, DISCRETE, SufficientStatistics

__all__ = [
    "KCI_MAX_ROWS",
    "METHODS",
    "TESTS",
    "CITestRecord",
    "ChiSquareTest",
    "DegenerateGaussianTest",
    "DiscoveryResult",
    "FisherZTest",
    "IndependenceTest",
    "KCITest",
    "discover",
    "make_test",
]

logger = logging.getLogger(__name__)

METHODS = ("pc", "ges", "fci")
TESTS = ("auto", "fisherz", "gsq", "chisq", "dg", "kci")
#: KCI builds n x n kernel matrices: above this many rows it is refused.
KCI_MAX_ROWS = 5_000


# ======================================================================== results
@dataclass(frozen=True)
class CITestRecord:
    """One conditional-independence test the search performed.

    Attributes
    ----------
    x, y : str
        The tested pair (in column order).
    conditioning_set : tuple of str
        ``S`` in ``x ⟂ y | S`` (in column order).
    statistic : float
        The test statistic (Fisher's ``sqrt(n - |S| - 3) |z|``, G², χ², the
        degenerate Gaussian likelihood ratio, or KCI's statistic; NaN for a
        test that has none).
    p_value : float
        The p-value the data gave.
    decision : str
        ``"independent"`` when ``p_value > alpha`` (causal-learn's rule), else
        ``"dependent"``.
    test : str
        The test's name.
    kept_by_knowledge : bool
        True when the data said independent but the pair is a required edge,
        so the search was told "dependent" and kept the edge.
    """

    x: str
    y: str
    conditioning_set: tuple[str, ...]
    statistic: float
    p_value: float
    decision: str
    test: str
    kept_by_knowledge: bool = False


@dataclass
class DiscoveryResult:
    """What :func:`discover` learned and how.

    Attributes
    ----------
    graph : CausalGraph
        A CPDAG (PC, GES; an MPDAG when knowledge, such as the regime being
        a root, oriented more) or a PAG (FCI).
    ci_tests : list of CITestRecord
        Every distinct CI test performed, in the order performed (empty for GES).
    settings : dict
        The method, test, alpha, depth, regime, seed, sample size and
        causal-learn options used.
    notes : list of str
        Things the report should say: required edges the data would have
        removed, forbidden edges removed after the search, warnings.
    """

    graph: CausalGraph
    ci_tests: list[CITestRecord] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


# ======================================================================== tests
class IndependenceTest(abc.ABC):
    """A conditional-independence test on variables given by column index.

    Subclasses implement :meth:`__call__`; :func:`discover` accepts an
    instance as ``test=`` (that is how the exact d-separation oracle of the
    test suite is plugged into the same code path).
    """

    #: Short name, used in records and settings.
    name: str = "custom"

    @abc.abstractmethod
    def __call__(self, x: int, y: int, conditioning: tuple[int, ...]) -> tuple[float, float]:
        """Test ``x ⟂ y | conditioning``.

        Parameters
        ----------
        x, y : int
            Column indices, ``x < y``.
        conditioning : tuple of int
            Column indices, sorted, disjoint from ``x`` and ``y``.

        Returns
        -------
        statistic : float
            The test statistic (NaN if none).
        p_value : float
            The p-value; the search calls the pair independent when it
            exceeds ``alpha``.
        """


def _chi2_sf(statistic: float, dof: int) -> float:
    """``scipy.stats.chi2.sf(statistic, dof)``: 1 below the support, where ``chdtrc`` is NaN."""
    return 1.0 if statistic < 0 else float(chdtrc(dof, statistic))


def _names(stats: SufficientStatistics, indices: Sequence[int]) -> str:
    return ", ".join(repr(stats.columns[i]) for i in indices)


def _require_variance(stats: SufficientStatistics, test: str) -> None:
    constant = [c for i, c in enumerate(stats.columns) if not stats.covariance[i, i] > 0]
    if constant:
        raise DiscoveryError(
            f"column(s) {', '.join(map(repr, constant))} are constant, so the {test} test cannot "
            "use them; drop them from the analysis"
        )


class FisherZTest(IndependenceTest):
    """Fisher's z test of a partial correlation, from the covariance matrix.

    The partial correlation of ``x`` and ``y`` given ``S`` is
    ``-P[x, y] / sqrt(P[x, x] P[y, y])`` with ``P`` the inverse of the
    correlation matrix restricted to ``{x, y} ∪ S``; under independence
    ``sqrt(n - |S| - 3) atanh(r)`` is standard normal (Fisher 1924). The
    arithmetic is that of ``causallearn.utils.cit.FisherZ``, so p-values
    agree with causal-learn's on the raw rows to rounding.
    """

    name = "fisherz"

    def __init__(self, stats: SufficientStatistics):
        _require_variance(stats, "Fisher-z")
        self.stats = stats
        self.correlation = stats.correlation

    def __call__(self, x: int, y: int, conditioning: tuple[int, ...]) -> tuple[float, float]:
        """Return ``(sqrt(n - |S| - 3) |z|, p)``."""
        var = [x, y, *conditioning]
        sub = self.correlation[np.ix_(var, var)]
        try:
            inv = np.linalg.inv(sub)
        except np.linalg.LinAlgError:
            raise DiscoveryError(
                f"the correlation matrix of {_names(self.stats, var)} is singular: one of them is "
                "an exact linear function of the others (a duplicated or derived column); drop it"
            ) from None
        r = -inv[0, 1] / math.sqrt(abs(inv[0, 0] * inv[1, 1]))
        if abs(r) >= 1:  # a deterministic relation; as causal-learn does
            r = (1.0 - np.finfo(float).eps) * np.sign(r)
        z = 0.5 * math.log((1 + r) / (1 - r))
        dof = self.stats.n - len(conditioning) - 3
        if dof <= 0:
            raise DiscoveryError(
                f"{self.stats.n} rows are too few for Fisher's z with {len(conditioning)} "
                "conditioning variables; collect more rows or lower max_depth"
            )
        statistic = math.sqrt(dof) * abs(z)
        return statistic, float(2 * (1 - ndtr(abs(statistic))))


class ChiSquareTest(IndependenceTest):
    """Pearson's χ² or the G² likelihood-ratio test, from the joint count table.

    The ``(S, x, y)`` contingency table is a marginal of the joint table of
    all discrete columns. Degrees of freedom are
    ``Σ_s (|x| - 1 - zero rows) (|y| - 1 - zero columns)`` over the observed
    configurations ``s`` of ``S``, as in ``causallearn.utils.cit.Chisq_or_Gsq``
    (and Tetrad), so that empty cells do not inflate them.
    """

    def __init__(self, stats: SufficientStatistics, *, g_squared: bool = True):
        continuous = stats.continuous_columns
        if continuous:
            raise DiscoveryError(
                f"the {'G²' if g_squared else 'χ²'} test needs discrete data, but "
                f"{', '.join(map(repr, continuous))} {'is' if len(continuous) == 1 else 'are'} "
                "continuous; use --test dg (config: test) for mixed data, or discretise them"
            )
        self.name = "gsq" if g_squared else "chisq"
        self.g_squared = g_squared
        self.codes = stats.discrete_codes
        self.weights = stats.cell_counts.astype(np.float64)
        self.cardinality = [stats.cardinality(c) for c in stats.columns]

    def __call__(self, x: int, y: int, conditioning: tuple[int, ...]) -> tuple[float, float]:
        """Return ``(statistic, p)``."""
        card_x, card_y = self.cardinality[x], self.cardinality[y]
        xy = self.codes[:, x] * card_y + self.codes[:, y]
        if conditioning:
            _, stratum = np.unique(self.codes[:, list(conditioning)], axis=0, return_inverse=True)
            stratum = stratum.reshape(-1)
            strata = int(stratum.max()) + 1
        else:
            stratum, strata = np.zeros(len(xy), dtype=np.int64), 1
        table = np.bincount(
            stratum * (card_x * card_y) + xy,
            weights=self.weights,
            minlength=strata * card_x * card_y,
        ).reshape(strata, card_x, card_y)
        table = table[table.sum(axis=(1, 2)) > 0]
        totals = table.sum(axis=(1, 2))
        expected = (
            table.sum(axis=2)[:, :, None] * table.sum(axis=1)[:, None, :] / totals[:, None, None]
        )
        zero = expected == 0
        safe = np.where(zero, 1.0, expected)
        if self.g_squared:
            ratio = table / safe
            ratio[ratio == 0] = 1.0  # 0 log 0 = 0
            statistic = float(2 * np.sum(table * np.log(ratio)))
        else:
            statistic = float(np.sum((table - expected) ** 2 / safe))
        zero_rows = zero.all(axis=2).sum(axis=1)
        zero_cols = zero.all(axis=1).sum(axis=1)
        dof = int(np.sum((card_x - 1 - zero_rows) * (card_y - 1 - zero_cols)))
        return statistic, 1.0 if dof <= 0 else _chi2_sf(statistic, dof)


class DegenerateGaussianTest(IndependenceTest):
    """The degenerate Gaussian likelihood-ratio test for mixed data.

    Andrews, Ramsey & Cooper (2019) embed each discrete variable with ``k``
    levels as ``k - 1`` indicator columns and treat the expanded data as
    Gaussian. With ``A``, ``B``, ``C`` the expanded columns of ``x``, ``y``
    and ``S``, the likelihood ratio of regressing ``A`` on ``B ∪ C`` against
    ``C`` alone is

        ``LR = n (log|Σ_{A∪C}| + log|Σ_{B∪C}| - log|Σ_{A∪B∪C}| - log|Σ_C|)``,

    asymptotically χ² with ``|A| |B|`` degrees of freedom (symmetric in ``x``
    and ``y``). For continuous or binary ``x`` and ``y`` it tests the same
    partial correlation as Fisher's z. The determinants' ratio does not
    depend on whether the covariance is normalised by ``n`` or ``n - 1``.
    """

    name = "dg"

    def __init__(self, stats: SufficientStatistics):
        self.stats = stats
        self.cov = stats.expanded_covariance
        self.columns = [list(stats.expanded_index[c]) for c in stats.columns]
        constant = [
            stats.expanded_columns[i] for i in range(len(self.cov)) if not self.cov[i, i] > 0
        ]
        if constant:
            raise DiscoveryError(
                f"expanded column(s) {', '.join(map(repr, constant))} are constant, so the "
                "degenerate Gaussian test cannot use them; drop the column(s)"
            )

    def _logdet(self, cols: list[int], variables: Sequence[int]) -> float:
        if not cols:
            return 0.0
        sign, value = np.linalg.slogdet(self.cov[np.ix_(cols, cols)])
        if sign <= 0:
            raise DiscoveryError(
                f"the expanded covariance of {_names(self.stats, variables)} is singular (a level "
                "of a discrete column is determined by the other variables); merge rare levels or "
                "drop a redundant column"
            )
        return float(value)

    def __call__(self, x: int, y: int, conditioning: tuple[int, ...]) -> tuple[float, float]:
        """Return ``(LR, p)``."""
        a, b = self.columns[x], self.columns[y]
        if not a or not b:  # a one-level discrete column carries no information
            return 0.0, 1.0
        c = [k for s in conditioning for k in self.columns[s]]
        variables = [x, y, *conditioning]
        lr = self.stats.n * (
            self._logdet(a + c, variables)
            + self._logdet(b + c, variables)
            - self._logdet(a + b + c, variables)
            - self._logdet(c, variables)
        )
        lr = max(lr, 0.0)
        return lr, _chi2_sf(lr, len(a) * len(b))


class KCITest(IndependenceTest):
    """The kernel conditional-independence test (Zhang, Peters, Janzing & Schölkopf, UAI 2011).

    It needs the rows themselves (n x n kernel matrices), so it is for small
    data with nonlinear relations; it is refused above :data:`KCI_MAX_ROWS`
    rows. causal-learn's ``KCI_UInd`` / ``KCI_CInd`` do the work, with their
    defaults (Gaussian kernels, gamma approximation of the null).
    """

    name = "kci"

    def __init__(self, raw: np.ndarray, columns: Sequence[str]):
        from causallearn.utils.KCI.KCI import KCI_CInd, KCI_UInd

        array = np.asarray(raw, dtype=np.float64)
        if array.ndim != 2 or array.shape[1] != len(columns):
            raise DiscoveryError(
                f"the raw data for KCI must have one column per variable ({len(columns)}); "
                f"got shape {array.shape}"
            )
        if array.shape[0] > KCI_MAX_ROWS:
            raise DiscoveryError(
                f"KCI builds {array.shape[0]} x {array.shape[0]} kernel matrices; it is limited to "
                f"{KCI_MAX_ROWS:,} rows. Subsample the data or use --test fisherz, dg or gsq "
                "(config: test)"
            )
        if not np.isfinite(array).all():
            raise DiscoveryError("the raw data for KCI have missing or infinite values; drop them")
        self.data = array
        self.unconditional = KCI_UInd()
        self.conditional = KCI_CInd()

    def __call__(self, x: int, y: int, conditioning: tuple[int, ...]) -> tuple[float, float]:
        """Return ``(KCI statistic, p)``."""
        data_x, data_y = self.data[:, [x]], self.data[:, [y]]
        if conditioning:
            p, statistic = self.conditional.compute_pvalue(
                data_x, data_y, self.data[:, list(conditioning)]
            )
        else:
            p, statistic = self.unconditional.compute_pvalue(data_x, data_y)
        return float(statistic), float(p)


def _binary_or_continuous(stats: SufficientStatistics) -> bool:
    return all(stats.kinds[c] == CONTINUOUS or stats.cardinality(c) <= 2 for c in stats.columns)


def make_test(
    stats: SufficientStatistics, test: str = "auto", *, raw: np.ndarray | None = None
) -> IndependenceTest:
    """The CI test ``test`` on ``stats`` (see the module docstring for ``"auto"``).

    Raises
    ------
    DiscoveryError
        If the test name is unknown or the test does not fit the data.
    """
    if test not in TESTS:
        raise DiscoveryError(f"unknown test {test!r}; use one of {', '.join(TESTS)}")
    if test == "auto":
        if all(stats.kinds[c] == DISCRETE for c in stats.columns):
            test = "gsq"
        elif _binary_or_continuous(stats):
            test = "fisherz"
        else:
            test = "dg"
    if test == "fisherz":
        if not _binary_or_continuous(stats):
            wide = [c for c in stats.discrete_columns if stats.cardinality(c) > 2]
            raise DiscoveryError(
                f"Fisher's z would treat the level codes of {', '.join(map(repr, wide))} "
                "(more than two levels) as numbers; use --test dg (config: test) for mixed data "
                "or --test gsq for discrete data"
            )
        return FisherZTest(stats)
    if test in ("gsq", "chisq"):
        return ChiSquareTest(stats, g_squared=test == "gsq")
    if test == "dg":
        return DegenerateGaussianTest(stats)
    if raw is None:
        raise DiscoveryError(
            "the KCI test needs the raw rows: pass raw= (an n x p array in column order), or "
            "use test='fisherz', 'dg' or 'gsq'"
        )
    if len(raw) != stats.n:
        raise DiscoveryError(
            f"the raw data have {len(raw)} rows but the statistics count {stats.n}; pass the "
            "same rows"
        )
    return KCITest(raw, stats.columns)


# ======================================================================== the bridge
class _Session:
    """Runs, caches and records the tests of one search; keeps required pairs adjacent."""

    def __init__(
        self,
        test: IndependenceTest,
        names: Sequence[str],
        alpha: float,
        required: set[frozenset[int]],
        progress: Callable[[int, int], None] | None,
    ):
        self.test = test
        self.names = list(names)
        self.alpha = alpha
        self.required = required
        self.progress = progress
        self.records: list[CITestRecord] = []
        self.kept: dict[frozenset[int], CITestRecord] = {}
        self._answers: dict[tuple[int, int, tuple[int, ...]], float] = {}

    def __call__(self, x: int, y: int, conditioning: tuple[int, ...]) -> float:
        key = (x, y, conditioning)
        if key in self._answers:  # PC asks x|S and y|S for the same pair: test once
            return self._answers[key]
        statistic, p_value = self.test(x, y, conditioning)
        independent = bool(p_value > self.alpha)
        pair = frozenset((x, y))
        kept = independent and pair in self.required
        record = CITestRecord(
            x=self.names[x],
            y=self.names[y],
            conditioning_set=tuple(self.names[s] for s in conditioning),
            statistic=float(statistic),
            p_value=float(p_value),
            decision="independent" if independent else "dependent",
            test=self.test.name,
            kept_by_knowledge=kept,
        )
        self.records.append(record)
        if kept:
            self.kept.setdefault(pair, record)
        # A required pair must stay adjacent: report dependence to the search.
        answer = 0.0 if kept else float(p_value)
        self._answers[key] = answer
        if self.progress is not None:
            self.progress(len(self.records), len(conditioning))
        return answer


# causal-learn's searches use process-wide state here (the stdout redirection,
# FCI's knowledge-orientation function), so one search runs at a time.
_CAUSALLEARN_LOCK = threading.Lock()


class _LogStream(io.TextIOBase):
    """A text stream that forwards complete lines to the module logger."""

    def __init__(self) -> None:
        self._buffer = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._buffer += text
        *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            if line.strip():
                logger.debug("causal-learn: %s", line)
        return len(text)

    def flush(self) -> None:
        if self._buffer.strip():
            logger.debug("causal-learn: %s", self._buffer)
        self._buffer = ""


@contextlib.contextmanager
def _quiet(notes: list[str], seed: int) -> Iterator[None]:
    """Silence causal-learn: stdout to the logger, warnings to notes, a seeded global RNG."""
    stream = _LogStream()
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(stream):
            warnings.simplefilter("always")
            yield
        for warning in caught:
            note = f"causal-learn warned: {warning.message}"
            if note not in notes:
                notes.append(note)
    finally:
        stream.flush()
        np.random.set_state(state)


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
    method : {"pc", "ges", "fci"}
        The search (see the module docstring).
    test : str or IndependenceTest
        ``"auto"``, ``"fisherz"``, ``"gsq"``, ``"chisq"``, ``"dg"``, ``"kci"``,
        or a test object. Not used by GES.
    alpha : float
        Significance level: a pair is independent when ``p > alpha``.
    max_depth : int
        The largest conditioning set tried (``-1``: unlimited). PC and FCI
        only.
    knowledge : Knowledge, optional
        Tiers, forbidden and required edges (PC and FCI only).
    regime : str
        The regime column; it is made exogenous.
    seed : int
        Seeds numpy's global generator during the search (restored after).
    progress : callable, optional
        Called after each new CI test as ``progress(tests_so_far, size of
        its conditioning set)``; GES calls it once at the end with ``(0, 0)``.
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
        without ``raw`` or with more than :data:`KCI_MAX_ROWS` rows),
        knowledge with GES, or a GES result that compels an edge into the
        regime.
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

    if method == "ges":
        if knowledge is not None and not knowledge.is_empty():
            raise DiscoveryError(
                "causal-learn's GES takes no background knowledge (tiers, forbidden or required "
                "edges); use --method pc or fci (config: method), or drop the knowledge"
            )
        if not (isinstance(test, str) and test == "auto"):
            notes.append("GES is score-based: the test setting was not used")
        if max_depth != -1:
            notes.append("GES does not use max_depth")
        graph = _run_ges(stats, regime, notes, seed)
        settings.update(test="bic", score="local_score_BIC (from the covariance)")
        if progress is not None:
            progress(0, 0)
        return DiscoveryResult(graph=graph, ci_tests=[], settings=settings, notes=notes)

    tester = test if isinstance(test, IndependenceTest) else make_test(stats, test, raw=raw)
    settings["test"] = tester.name
    search_knowledge, mutual = full.split_mutual(names)
    required = {frozenset((names.index(a), names.index(b))) for a, b in full.required}
    session = _Session(tester, names, float(alpha), required, progress)
    # causal-learn is imported here, not at module level: it takes seconds to
    # import, and the commands that never search should not pay for it.
    from causallearn.graph.GraphNode import GraphNode

    from mesalens.pipeline.causallearn_bridge import CIT_NAME, patched_fci_orientation
    from mesalens.pipeline.formats.causallearn import from_causallearn

    nodes = [GraphNode(name) for name in names]
    bk = search_knowledge.to_causallearn(nodes)
    # A placeholder of the right width: the searches read only its shape.
    placeholder = np.zeros((max(len(names), 2), len(names)))

    with _CAUSALLEARN_LOCK, _quiet(notes, seed):
        if method == "pc":
            from causallearn.search.ConstraintBased.PC import pc

            settings.update(stable=True, uc_rule=0, uc_priority=2)
            cg = pc(
                placeholder,
                float(alpha),
                CIT_NAME,
                stable=True,
                uc_rule=0,
                uc_priority=2,
                background_knowledge=bk,
                verbose=False,
                show_progress=False,
                node_names=names,
                max_k=None if max_depth == -1 else max_depth,
                session=session,
            )
            general = cg.G
        else:
            from causallearn.search.ConstraintBased.FCI import fci

            settings.update(max_path_length=-1)
            with patched_fci_orientation(frozenset(full.exogenous)):
                general, _ = fci(
                    placeholder,
                    CIT_NAME,
                    float(alpha),
                    depth=int(max_depth),
                    max_path_length=-1,
                    verbose=False,
                    background_knowledge=bk,
                    show_progress=False,
                    node_names=names,
                    session=session,
                )
    graph = from_causallearn(general, names)

    for pair, record in sorted(session.kept.items(), key=lambda kv: sorted(kv[0])):
        a, b = _required_direction(full, names, pair)
        given = ", ".join(record.conditioning_set) or "nothing"
        notes.append(
            f"required edge {a} --> {b} was kept although the data found {a} and {b} "
            f"independent given {given} (p = {record.p_value:.3g})"
        )
    graph = _remove_mutual(graph, mutual, notes)
    graph = _enforce_required(graph, full, method, notes)
    _check_regime_root(graph, regime, method)
    if method == "pc" and graph.kind() != "pag" and not is_consistent_pattern(graph, regime):
        graph = _repair_orientations(graph, full, session.records, regime, notes)
    if method == "fci":
        # FCI's tests can contradict each other into a graph that is no PAG:
        # repaired as Tetrad's guaranteePag does (mesalens.pipeline.pag_repair).
        from mesalens.pipeline.pag_repair import pag_problem, repair_pag

        if pag_problem(graph) is not None:
            with _CAUSALLEARN_LOCK, _quiet(notes, seed):
                repair = repair_pag(graph, regime, full)
            graph = repair.graph
            notes.append(repair.note())
    return DiscoveryResult(graph=graph, ci_tests=session.records, settings=settings, notes=notes)


def _causallearn_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("causal-learn")
    except PackageNotFoundError:  # pragma: no cover - installed from source
        return "unknown"


def _required_direction(
    knowledge: Knowledge, names: Sequence[str], pair: frozenset[int]
) -> tuple[str, str]:
    i, j = sorted(pair)
    a, b = names[i], names[j]
    return (a, b) if knowledge.is_required(a, b) else (b, a)


def _edge_text(edge: Edge) -> str:
    """An edge written with its arrowhead (or circle) on the right, as graph listings do."""
    if edge.kind in ("<--", "<-o", "o--"):
        edge = Edge(edge.v, edge.u, edge.mark_v, edge.mark_u)
    return str(edge)


def _remove_mutual(
    graph: CausalGraph, mutual: Sequence[tuple[str, str]], notes: list[str]
) -> CausalGraph:
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


def _enforce_required(
    graph: CausalGraph, knowledge: Knowledge, method: str, notes: list[str]
) -> CausalGraph:
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


def _repair_orientations(
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


def _check_regime_root(graph: CausalGraph, regime: str, method: str) -> None:
    for other in graph.adjacent(regime):
        edge = graph.edge(other, regime)
        assert edge is not None
        if edge.mark_v == Mark.ARROW:
            raise DiscoveryError(
                f"{method.upper()} returned {edge}, an arrowhead at the regime, despite the "
                "knowledge that nothing causes it; this is a bug: please report it with the data"
            )


def _run_ges(stats: SufficientStatistics, regime: str, notes: list[str], seed: int) -> CausalGraph:
    """GES with the BIC score on the covariance matrix (no rows needed)."""
    from causallearn.search.ScoreBased.GES import ges

    from mesalens.pipeline.formats.causallearn import from_causallearn

    if not _binary_or_continuous(stats):
        wide = [c for c in stats.discrete_columns if stats.cardinality(c) > 2]
        raise DiscoveryError(
            f"GES here scores linear Gaussian models, which cannot use the level codes of "
            f"{', '.join(map(repr, wide))} (more than two levels); use --method pc with "
            "--test dg or gsq (config: method, test)"
        )
    _require_variance(stats, "BIC")
    names = list(stats.columns)
    with _CAUSALLEARN_LOCK, _quiet(notes, seed):
        record = ges(
            None,
            score_func="local_score_BIC",
            node_names=names,
            cov=stats.covariance_ml(),
            n=stats.n,
        )
    graph = from_causallearn(record["G"], names)
    into = [
        other
        for other in graph.adjacent(regime)
        if (edge := graph.edge(other, regime)) is not None
        and edge.mark_v == Mark.ARROW
        and edge.mark_u == Mark.TAIL
    ]
    if into:
        graph = _repair_ges_at_the_regime(graph, regime, into, notes)
    return _orient_from_regime(graph, regime, notes)


def _repair_ges_at_the_regime(
    graph: CausalGraph, regime: str, into: list[str], notes: list[str]
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
    closed under Meek's rules. A note names the dropped colliders.
    """
    repair = repair_orientations(
        graph, regime=regime, forced=(), collider_evidence=lambda x, z, y: 0.0
    )
    edges = ", ".join(f"{other} --> {regime}" for other in into)
    if not repair.extendable:
        raise DiscoveryError(
            f"GES learned a CPDAG in which every DAG has {edges}, edges into the regime, and no "
            "DAG of its skeleton has the regime as a root; the data contradict an exogenous "
            "regime (check how the regime column was recorded, or use --method pc "
            "(config: method), which imposes it)"
        )
    dropped = "; ".join(f"{x} --> {z} <-- {y}" for x, z, y in repair.dropped)
    notes.append(
        f"GES's CPDAG compelled {edges}, edges into the regime, which nothing causes (a "
        "finite-sample error: GES takes no background knowledge); its orientations were "
        "rebuilt with the regime a root, keeping its skeleton and its other colliders "
        f"(dropped: {dropped or 'none'})"
    )
    return repair.graph


def _orient_from_regime(graph: CausalGraph, regime: str, notes: list[str]) -> CausalGraph:
    """Impose the regime-root knowledge on a CPDAG: every ``regime --- x`` becomes ``regime --> x``.

    The result is the MPDAG of the CPDAG's DAGs in which the regime has no
    parents: orient the regime's undirected edges out of it, then close under
    Meek's rules (the class restriction of the spec, "Over an equivalence
    class"). Orienting every edge at one node of a CPDAG keeps an extension
    (the empty parent set is a clique), so this cannot fail.
    """
    undirected = [
        other
        for other in graph.adjacent(regime)
        if (edge := graph.edge(regime, other)) is not None and edge.kind == "---"
    ]
    if not undirected:
        return graph
    pdag = Pdag.from_graph(graph, "orienting GES's edges at the regime")
    before = {(e.u, e.v) for e in graph.edges() if e.kind == "-->"}
    orient_and_close(pdag, graph.nodes.index(regime), ())
    result = pdag.to_graph(graph.nodes)
    propagated = [
        f"{e.u} --> {e.v}"
        for e in result.edges()
        if e.kind == "-->" and (e.u, e.v) not in before and e.u != regime
    ]
    oriented = ", ".join(f"{regime} --> {other}" for other in undirected)
    note = (
        "GES takes no background knowledge, so the regime-root knowledge (nothing causes the "
        f"regime) oriented its undirected edges at the regime after the search: {oriented}"
    )
    if propagated:
        note += f"; Meek's rules then oriented {', '.join(propagated)}"
    notes.append(note)
    return result
