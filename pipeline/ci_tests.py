"""The conditional-independence tests of discovery, computed from sufficient statistics.

One family (:class:`IndependenceTest` and its subclasses), one registry of
names (:data:`TESTS`, :data:`REGISTRY`) and one factory (:func:`make_test`).
Every test but KCI answers from a :class:`SufficientStatistics` (one dask
pass over the data, see :mod:`mesalens.pipeline.statistics`), not from rows:

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
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence

import numpy as np

# p-values through scipy.special (norm.cdf is ndtr, chi2.sf is chdtrc: the
# same functions scipy.stats calls), which imports in a fraction of the time.
from scipy.special import chdtrc, ndtr

from mesalens.pipeline.contingency import Strata, chi_squared, count_table, g_squared
from mesalens.pipeline.errors import DiscoveryError
from mesalens.pipeline.statistics import CONTINUOUS, DISCRETE, SufficientStatistics

__all__ = [
    "KCI_MAX_ROWS",
    "REGISTRY",
    "TESTS",
    "ChiSquareTest",
    "DegenerateGaussianTest",
    "FisherZTest",
    "IndependenceTest",
    "KCITest",
    "binary_or_continuous",
    "make_test",
    "require_variance",
]

#: KCI builds n x n kernel matrices: above this many rows it is refused.
KCI_MAX_ROWS = 5_000


class IndependenceTest(abc.ABC):
    """A conditional-independence test on variables given by column index.

    Subclasses implement :meth:`__call__`;
    :func:`~mesalens.pipeline.discovery.discover` accepts an
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


def require_variance(stats: SufficientStatistics, test: str) -> None:
    """Refuse constant columns, which the ``test`` test (or score) cannot use."""
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
        require_variance(stats, "Fisher-z")
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
    (and Tetrad), so that empty cells do not inflate them. The tables come
    from :mod:`mesalens.pipeline.contingency`, which keeps the strata of each
    conditioning set across tests.
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
        self.weights = stats.cell_counts.astype(np.float64)
        self.cardinality = [stats.cardinality(c) for c in stats.columns]
        self.strata = Strata(stats.discrete_codes, self.cardinality)

    def __call__(self, x: int, y: int, conditioning: tuple[int, ...]) -> tuple[float, float]:
        """Return ``(statistic, p)``."""
        stratum, strata = self.strata(conditioning)
        columns = self.strata.columns
        table = count_table(
            stratum,
            strata,
            columns[x],
            columns[y],
            self.cardinality[x],
            self.cardinality[y],
            self.weights,
        )
        statistic, dof = g_squared(table) if self.g_squared else chi_squared(table)
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


def binary_or_continuous(stats: SufficientStatistics) -> bool:
    """Whether every column is continuous or discrete with at most two levels."""
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
        elif binary_or_continuous(stats):
            test = "fisherz"
        else:
            test = "dg"
    if test == "fisherz":
        if not binary_or_continuous(stats):
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


#: The tests by name (``gsq`` and ``chisq`` are one class, two statistics).
REGISTRY: dict[str, type[IndependenceTest]] = {
    "fisherz": FisherZTest,
    "gsq": ChiSquareTest,
    "chisq": ChiSquareTest,
    "dg": DegenerateGaussianTest,
    "kci": KCITest,
}
#: Every name ``make_test`` accepts: ``"auto"`` (module docstring), then the registry's.
TESTS = ("auto", *REGISTRY)
