"""The direct test's settings and results, and their JSON form.

What :func:`mesalens.pipeline.alignment_gap.direct_test` is given
(:class:`DirectTestSettings`) and returns (:class:`DirectTestResult`: per
base objective an :class:`OutcomeResult` with its :class:`PairTest` and
:class:`GapEstimate` entries), and the error it raises when the logs cannot
support it.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from mesalens.connectors.errors import DataError, InputError

__all__ = [
    "ALL_PAIRS_MAX_REGIMES",
    "DIRECT_TEST_LEARNERS",
    "DIRECT_TEST_METHODS",
    "DirectTestError",
    "DirectTestResult",
    "DirectTestSettings",
    "GapEstimate",
    "OutcomeResult",
    "PairTest",
    "PointGap",
    "pairs_rule",
    "regime_pairs",
]

#: What ``DirectTestSettings.method`` accepts.
DIRECT_TEST_METHODS = ("auto", "fisherz", "gcm")
#: What ``DirectTestSettings.learner`` accepts.
DIRECT_TEST_LEARNERS = ("auto", "boost")


#: Up to this many regimes the direct test compares every pair; with more, each
#: regime against the reference (the first): ``k - 1`` pairs instead of
#: ``k(k-1)/2`` (19,900 at 200 regimes). The joint null ``μ_j = μ_0`` for
#: every ``j`` is the same null, so the test keeps its level.
ALL_PAIRS_MAX_REGIMES = 10


def regime_pairs(k: int) -> list[tuple[int, int]]:
    """The pairs ``(i, j)`` of regime codes the direct test compares, ``i < j``.

    Every pair up to :data:`ALL_PAIRS_MAX_REGIMES` regimes, else each regime
    against the reference ``0``.

    >>> regime_pairs(3)
    [(0, 1), (0, 2), (1, 2)]
    >>> len(regime_pairs(10)), len(regime_pairs(11)), regime_pairs(12)[-1]
    (45, 10, (0, 11))
    """
    if k <= ALL_PAIRS_MAX_REGIMES:
        return list(itertools.combinations(range(k), 2))
    return [(0, j) for j in range(1, k)]


def pairs_rule(k: int) -> str:
    """The comparisons :func:`regime_pairs` makes for ``k`` regimes, in words.

    >>> pairs_rule(2)
    'every pair of regimes (1)'
    >>> pairs_rule(200)
    'each regime against the reference (199 pairs; every pair up to 10 regimes)'
    """
    n = len(regime_pairs(k))
    if k <= ALL_PAIRS_MAX_REGIMES:
        return f"every pair of regimes ({n})"
    return (
        f"each regime against the reference ({n} pairs; every pair up to "
        f"{ALL_PAIRS_MAX_REGIMES} regimes)"
    )


class DirectTestError(DataError):
    """The logs cannot support the direct test (too few rows of a regime, ...)."""

    #: Rows in the pooled logs, when known.
    rows: int = 0


@dataclass(frozen=True)
class DirectTestSettings:
    """How to run the direct test.

    Attributes
    ----------
    rows : int
        At most this many rows (a seeded uniform sample) feed the regression
        estimators and GCM.
    folds : int
        Cross-fitting folds (K).
    trees : int
        Boosting iterations per gradient-boosting model.
    alpha : float
        Level of the tests (after Holm's adjustment).
    level : float
        Coverage of the confidence intervals.
    method : str
        ``"auto"``, ``"fisherz"`` or ``"gcm"``: which test decides.
    seed : int
        Seed of the sample, the folds and the boosting.
    bins : int
        Quantile bins of the binned ``E[Y_b | Y_m]`` curve.
    clip : float
        Lower clip of the estimated regime probabilities in the AIPW weights.
    learner : str
        The flexible fits: ``"auto"`` (splines for one continuous mesa
        column, gradient boosting otherwise) or ``"boost"`` (always
        boosting, as before splines were added);
        :mod:`mesalens.pipeline.gap_regressions`.
    """

    rows: int = 100_000
    folds: int = 5
    trees: int = 200
    alpha: float = 0.05
    level: float = 0.95
    method: str = "auto"
    seed: int = 0
    bins: int = 10
    clip: float = 0.01
    learner: str = "auto"

    def __post_init__(self) -> None:
        checks = (
            ("rows", self.rows, isinstance(self.rows, int) and self.rows >= 100, "at least 100"),
            ("folds", self.folds, isinstance(self.folds, int) and self.folds >= 2, "at least 2"),
            ("trees", self.trees, isinstance(self.trees, int) and self.trees >= 1, "at least 1"),
            ("alpha", self.alpha, 0 < self.alpha < 1, "strictly between 0 and 1"),
            ("level", self.level, 0 < self.level < 1, "strictly between 0 and 1"),
            ("bins", self.bins, isinstance(self.bins, int) and self.bins >= 2, "at least 2"),
            ("clip", self.clip, 0 < self.clip < 0.5, "strictly between 0 and 0.5"),
        )
        for name, value, ok, what in checks:
            if not ok:
                raise InputError(f"direct test {name} must be {what}, got {value!r}")
        if self.learner not in DIRECT_TEST_LEARNERS:
            raise InputError(
                f"direct test learner must be one of {', '.join(DIRECT_TEST_LEARNERS)}, "
                f"got {self.learner!r}"
            )
        if self.method not in DIRECT_TEST_METHODS:
            raise InputError(
                f"direct test method must be one of {', '.join(DIRECT_TEST_METHODS)}, "
                f"got {self.method!r}"
            )


@dataclass(frozen=True)
class PairTest:
    """One test of ``Y_b ⊥ s | Y_m`` between two regimes: ``regime`` against ``reference``."""

    method: str
    regime: str
    reference: str
    statistic: float
    p_value: float
    p_holm: float
    reject: bool
    rows: int


@dataclass(frozen=True)
class GapEstimate:
    """An estimate of the alignment gap ``θ_j`` with its confidence interval."""

    estimator: str
    regime: str
    reference: str
    estimate: float
    se: float
    lower: float
    upper: float

    @property
    def covers_zero(self) -> bool:
        """True when the interval contains 0 (no detectable gap)."""
        return self.lower <= 0.0 <= self.upper


@dataclass(frozen=True)
class PointGap:
    """The alignment gap at one value of ``Y_m`` (:mod:`mesalens.pipeline.pointwise_gap`).

    Attributes
    ----------
    estimator : str
        ``linear`` or ``flexible``.
    regime, reference : str
        The pair: ``regime`` against ``reference``.
    at : str
        Where: a decile of the reference regime's ``Y_m`` (``"90%"``) or a level.
    value : float or str
        ``Y_m``'s value there.
    estimate, se : float
        ``E[Y_b | Y_m, regime] - E[Y_b | Y_m, reference]`` there and its
        standard error (NaN when the rows cannot give one).
    lower, upper : float
        The confidence interval at the direct test's level.
    """

    estimator: str
    regime: str
    reference: str
    at: str
    value: float | str
    estimate: float
    se: float
    lower: float
    upper: float


@dataclass(frozen=True)
class OutcomeResult:
    """The direct test and the gaps for one base objective (a column, or a level of one).

    Attributes
    ----------
    base : str
        The outcome's name: the column, or ``"column=level"`` for a level's indicator.
    column : str
        The base column it comes from.
    kind : str
        The column's kind (``continuous`` or ``discrete``).
    method : str
        The test that decides (``fisherz`` or ``gcm``).
    method_reason : str
        Why that test, in one sentence.
    nonlinearity_p : float or None
        p-value of the pre-test that the flexible regressions predict better
        than the linear ones (None when not run).
    tests : tuple of PairTest
        Every test that applies, for every pair of regimes compared
        (:func:`~mesalens.pipeline.gap_regressions.regime_pairs`).
    gaps : tuple of GapEstimate
        Linear and flexible gap for every pair of regimes compared.
    curve : dict or None
        The binned ``E[Y_b | Y_m]`` per regime along the first mesa column.
    within_sd : float
        The pooled within-regime standard deviation of the outcome.
    pointwise : tuple of PointGap
        Linear and flexible gap at each decile (or level) of the reference's
        ``Y_m``, for every pair; empty with several mesa columns.
    """

    base: str
    column: str
    kind: str
    method: str
    method_reason: str
    nonlinearity_p: float | None
    tests: tuple[PairTest, ...]
    gaps: tuple[GapEstimate, ...]
    curve: dict[str, Any] | None = None
    within_sd: float = math.nan
    pointwise: tuple[PointGap, ...] = ()

    @property
    def reject(self) -> bool:
        """True when a deciding test rejects after Holm's adjustment."""
        return any(t.reject for t in self.tests if t.method == self.method)


@dataclass(frozen=True)
class DirectTestResult:
    """The direct test of one run.

    Attributes
    ----------
    regime : str
        The regime column.
    reference : str
        The reference regime (code 0) every other regime is compared with.
    regimes : tuple of str
        All regime labels, in code order.
    mesa : tuple of str
        The conditioning columns.
    outcomes : tuple of OutcomeResult
        One per base objective.
    rows : int
        Rows in the pooled logs.
    rows_used : int
        Rows of the sample the regression estimators and GCM used.
    settings : DirectTestSettings
        The settings used.
    clipped_share : float
        Share of sampled rows whose estimated regime probability was clipped.
    notes : tuple of str
        Anything a reader should know (sampling, clipping, fallbacks).
    status : str
        ``"done"``, or ``"skipped"`` when the logs could not support the test
        (the reason is the first note; there are no outcomes).
    learner : str
        The learner of the flexible fits: ``"spline"`` or ``"boost"``.
    """

    regime: str
    reference: str
    regimes: tuple[str, ...]
    mesa: tuple[str, ...]
    outcomes: tuple[OutcomeResult, ...]
    rows: int
    rows_used: int
    settings: DirectTestSettings
    clipped_share: float
    notes: tuple[str, ...] = field(default_factory=tuple)
    status: str = "done"
    learner: str = "boost"

    @property
    def sampled(self) -> bool:
        """True when the regression estimators used a sample, not every row."""
        return self.rows_used < self.rows

    @property
    def reject(self) -> bool:
        """True when ``Y_b ⊥ s | Y_m`` is rejected (Holm over every deciding test)."""
        return any(o.reject for o in self.outcomes)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (the ``direct_test`` key of ``result.json``)."""
        return {
            "regime": self.regime,
            "reference": self.reference,
            "regimes": list(self.regimes),
            "status": self.status,
            "comparisons": f"{pairs_rule(len(self.regimes))}; Holm over all tests",
            "pairs": len(regime_pairs(len(self.regimes))),
            "mesa": list(self.mesa),
            "reject": self.reject,
            "alpha": self.settings.alpha,
            "level": self.settings.level,
            "rows": self.rows,
            "rows_used": self.rows_used,
            "sampled": self.sampled,
            "seed": self.settings.seed,
            "settings": asdict(self.settings),
            "clipped_share": _number(self.clipped_share),
            "learner": self.learner,
            "notes": list(self.notes),
            "outcomes": [
                {
                    "base": o.base,
                    "column": o.column,
                    "kind": o.kind,
                    "method": o.method,
                    "method_reason": o.method_reason,
                    "nonlinearity_p": _number(o.nonlinearity_p),
                    "reject": o.reject,
                    "tests": [{k: _number(v) for k, v in asdict(t).items()} for t in o.tests],
                    "gaps": [
                        {
                            **{k: _number(v) for k, v in asdict(g).items()},
                            "covers_zero": g.covers_zero,
                        }
                        for g in o.gaps
                    ],
                    "curve": o.curve,
                    "within_sd": _number(o.within_sd),
                    "pointwise_gaps": [
                        {k: _number(v) for k, v in asdict(g).items()} for g in o.pointwise
                    ],
                }
                for o in self.outcomes
            ],
        }


def _number(value: Any) -> Any:
    """Floats as JSON numbers (NaN and infinities as null); other values unchanged."""
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    return value
