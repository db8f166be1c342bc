r"""The direct finite-sample test of ``Y_b ⊥ s | Y_m`` and the alignment gap, on the logs.

The structural verdict asks whether ``(Y_b ⊥ s | Y_m)`` is a d-separation in
every DAG of the learned class, i.e. whether *any* shift through the same
graph could move the base objective at a fixed mesa objective. The logged
rows are already samples under the trained policy σ (spec, "What the data
can say directly"), so the equality that the criterion licenses,

.. math::  E[Y_b \mid Y_m, s; σ] = E[Y_b \mid Y_m; σ],

can also be checked on *this* shift, directly: a conditional-independence
test of ``Y_b ⊥ s | Y_m`` on the pooled logs, and an estimate of how far the
regression function moves, the **alignment gap**

.. math::  θ_j = E_{Y_m \sim P_{pool}}\,[\,μ_j(Y_m) - μ_0(Y_m)\,],
           \qquad μ_l(y) = E[Y_b \mid Y_m = y, s = l],

regime ``j`` against the reference regime ``0`` (the first regime given,
normally training), averaged over the pooled distribution of ``Y_m`` (with
more than two regimes, every pair ``(i, j)``, ``μ_i`` in place of ``μ_0``). This is
the question the post behind the tool asks in its section 3.3 ("if we know
``Y_m``, then knowing ``s`` doesn't give us any more info about ``Y_b``").
Under the null ``μ_j = μ_0`` and ``θ_j = 0``.

Tests
-----
* **Fisher-z** (``fisherz``): the partial correlation of ``Y_b`` and the
  indicator ``1[s = j]`` given ``Y_m`` and the other regimes' indicators
  (discrete ``Y_m`` columns enter as level indicators), from the one-pass
  sufficient statistics (:class:`~mesalens.pipeline.statistics.SufficientStatistics`,
  all rows), with Fisher's z transform (Fisher 1924; as in PC, Kalisch &
  Bühlmann, JMLR 2007). It is the t-test of the regime coefficient in the
  linear model ``Y_b ~ Y_m + regime``, exact for linear-Gaussian data and
  wrong when ``E[Y_b | Y_m]`` is not linear (a curved regression function
  and a regime-dependent ``Y_m`` distribution make the linear residual
  depend on the regime) or ``Y_b`` is discrete.
* **GCM** (``gcm``): the generalised covariance measure of Shah & Peters
  ("The hardness of conditional independence testing and the generalised
  covariance measure", Annals of Statistics 48(3), 2020). With
  cross-fitted flexible regressions ``m̂(y) ≈ E[Y_b | Y_m = y]`` and
  ``p̂(y) ≈ P(s = j | Y_m = y)`` (within the pair of regimes compared),
  ``R_i = (Y_{b,i} - m̂(Y_{m,i}))(A_i - p̂(Y_{m,i}))`` and
  ``T = √n R̄ / sd(R)`` is asymptotically standard normal under the null
  whenever the product of the two regressions' errors is ``o(n^{-1/2})``;
  it needs no linearity and handles a discrete ``Y_b`` (a regression of
  its value, or of a level's indicator). The regressions are scikit-learn's
  histogram gradient boosting, cross-fitted over K folds (Chernozhukov et
  al., "Double/debiased machine learning", Econometrics Journal 2018), so
  that no row is predicted by a model that saw it.

``method="auto"`` uses Fisher-z when ``Y_b`` and every ``Y_m`` column are
continuous and the per-regime regressions look linear, and GCM otherwise.
"Look linear" is a pre-test that does not involve the regime contrast: the
cross-fitted squared errors of per-regime OLS fits and of the boosted fits
are compared row by row, and a one-sided paired test at ``alpha`` that the
boosted fits predict better flags nonlinearity. Both tests are reported
whenever they apply; the chosen one decides.

With ``k > 2`` regimes there is one test per pair of regimes (``k(k-1)/2``
comparisons: ``j`` against ``i`` for ``i < j``), and all the deciding tests
of a run (every base column by every pair) form one family, adjusted with
Holm's step-down
procedure (Holm, Scandinavian Journal of Statistics 1979): the direct test
rejects when any adjusted p-value is below ``alpha``, which controls the
family-wise error of the joint null ``Y_b ⊥ s | Y_m``.

Gap estimators
--------------
* **Linear**: OLS of ``Y_b`` on a separate intercept and slope per regime,
  ``Y_m`` centred at its pooled mean, so that ``θ_j`` is the difference of
  two intercepts; heteroskedasticity-consistent HC3 standard errors
  (MacKinnon & White, Journal of Econometrics 1985; Long & Ervin, American
  Statistician 2000), plus the delta-method term for the estimated pooled
  mean.
* **Flexible**: the augmented inverse-probability-weighted (doubly robust)
  estimator of Robins, Rotnitzky & Zhao (JASA 1994) with cross-fitting
  (Chernozhukov et al. 2018): per row
  ``ψ_i = μ̂_j(Y_{m,i}) - μ̂_0(Y_{m,i}) + 1[s_i = j](Y_{b,i} - μ̂_j)/π̂_j
  - 1[s_i = 0](Y_{b,i} - μ̂_0)/π̂_0``, ``θ̂_j = mean ψ`` and the standard
  error ``sd(ψ)/√n`` (the influence function). ``μ̂_l`` is boosted within
  regime ``l``; ``π̂_l(y) = P(s = l | Y_m = y)`` is a boosted classifier,
  clipped below at ``clip`` (the share of clipped rows is reported: many
  mean poor overlap of the regimes' ``Y_m`` distributions). Where one
  regime's ``Y_m`` reaches values the other barely has (a variance shift,
  say), ``μ̂`` extrapolates there and the interval can undercover: with
  ``Y_m`` 1.5 times wider in deployment and ``Y_b = Y_m²``, 2,000 rows and
  the defaults, it covered the true 0 in 72% of 40 draws (the linear one in
  none; both cover 95-100% of linear-Gaussian draws).

Both estimators, GCM and the overlap diagnostic run on a uniform sample of
at most ``rows`` rows drawn from the dask frame in one pass (bottom-k
sampling: every row gets a seeded uniform key, the ``rows`` smallest are
kept), so the result is the same for the same seed and sources. Fisher-z
uses every row through the sufficient statistics.

Several base columns give one result each; several mesa columns are all
conditioned on. A discrete base column with numeric levels is used as a
number (the gap is a difference of means, e.g. of a success rate); a text
base column gives one outcome per level but its first (the gap is a
difference of probabilities).

Examples
--------
>>> import functools, numpy as np, pandas as pd, dask.dataframe as dd
>>> from mesalens.connectors.loader import LoadedData
>>> rng = np.random.default_rng(0)
>>> s = np.repeat([0, 1], 400); ym = rng.normal(size=800) + s
>>> yb = ym + rng.normal(size=800)                       # Y_b ⊥ s | Y_m holds
>>> frame = pd.DataFrame({"regime": s, "ym": ym, "yb": yb})
>>> data = LoadedData(functools.partial(dd.from_pandas, frame, npartitions=2), "regime",
...                   ("train", "deploy"), ("regime", "ym", "yb"),
...                   {"regime": "discrete", "ym": "continuous", "yb": "continuous"}, {}, ())
>>> result = direct_test(data, base=("yb",), mesa=("ym",),
...                      settings=DirectTestSettings(folds=2, trees=20))
>>> result.outcomes[0].method, result.reject
('fisherz', False)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import dask
import numpy as np
import pandas as pd
from pandas.api import types as ptypes

# Normal tail areas and quantiles through scipy.special (scipy.stats's
# norm.sf(x) is ndtr(-x), norm.ppf is ndtri), which imports in a fraction of
# scipy.stats's time; scikit-learn is imported inside the functions that fit.
from scipy.special import ndtr, ndtri
from threadpoolctl import threadpool_limits

from mesalens.connectors.errors import DataError, InputError
from mesalens.connectors.sampling import (
    Sample,
    bottom_k,
    key_order,
    merge_samples,
    partition_keys,
)
from mesalens.pipeline.statistics import CONTINUOUS, SufficientStatistics

if TYPE_CHECKING:
    from mesalens.connectors.loader import LoadedData

__all__ = [
    "DIRECT_TEST_METHODS",
    "DirectTestError",
    "DirectTestResult",
    "DirectTestSettings",
    "GapEstimate",
    "OutcomeResult",
    "PairTest",
    "direct_test",
    "holm",
]

#: What ``DirectTestSettings.method`` accepts.
DIRECT_TEST_METHODS = ("auto", "fisherz", "gcm")

# Partition samples are merged this many at a time (a shallow tree of small tasks).
_SPLIT_EVERY = 8
# Boosting stops when a held-out 10% of its training rows stops improving (fewer
# trees, less overfitting of the propensities), once there are this many rows.
_EARLY_STOPPING_ROWS = 500
# A bin of the E[Y_b | Y_m] curve needs this many rows of a regime to be drawn.
_MIN_BIN_ROWS = 5


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
        p-value of the pre-test that the boosted regressions predict better
        than the linear ones (None when not run).
    tests : tuple of PairTest
        Every test that applies, for every pair of regimes.
    gaps : tuple of GapEstimate
        Linear and flexible gap for every pair of regimes.
    curve : dict or None
        The binned ``E[Y_b | Y_m]`` per regime along the first mesa column.
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
            "comparisons": "every pair of regimes; Holm over all tests",
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
                }
                for o in self.outcomes
            ],
        }


def _number(value: Any) -> Any:
    """Floats as JSON numbers (NaN and infinities as null); other values unchanged."""
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    return value


# ------------------------------------------------------------------ multiplicity


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (Holm 1979), in the input order.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03]).round(3).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out


# ------------------------------------------------------------------ the sample


def _bottom_k(part: pd.DataFrame, index: int, seed: int, k: int) -> tuple[int, Sample]:
    """The ``k`` rows of a partition with the smallest seeded keys (and the partition's size)."""
    keys = partition_keys(seed, index, len(part))
    return len(part), bottom_k(keys, {c: part[c].to_numpy() for c in part.columns}, k)


def _merge_samples(k: int, *parts: tuple[int, Sample]) -> tuple[int, Sample]:
    rows = sum(n for n, _ in parts)
    return rows, merge_samples([sample for _, sample in parts], k)


def _sample(data: LoadedData, columns: list[str], k: int, seed: int) -> tuple[int, pd.DataFrame]:
    """A uniform sample of at most ``k`` rows of ``columns`` and the number of rows, one pass.

    Every row gets a uniform key from a generator seeded by ``(seed,
    partition)``; the ``k`` smallest keys form a uniform sample without
    replacement (bottom-k sampling, :mod:`mesalens.connectors.sampling`), the
    same for the same seed and sources. The loader's pass draws the same
    sample when asked (``sample_rows``); then it is taken from there and the
    data are not read again.
    """
    pooled = _sample_from_the_pass(data, k, seed)
    if pooled is not None:
        return pooled[0], pooled[1][columns]
    parts = [
        dask.delayed(_bottom_k)(part, i, seed, k)
        for i, part in enumerate(data.frame[columns].to_delayed())
    ]
    while len(parts) > 1:
        parts = [
            dask.delayed(_merge_samples)(k, *parts[i : i + _SPLIT_EVERY])
            for i in range(0, len(parts), _SPLIT_EVERY)
        ]
    ((rows, sample),) = dask.compute(parts[0])
    keep = key_order(sample.keys, k)
    # The partitions' values went through numpy: give them back the frame's dtypes.
    dtypes = data.frame[columns].dtypes
    frame = pd.DataFrame({c: pd.Series(sample.values[c][keep]).astype(dtypes[c]) for c in columns})
    return int(rows), frame


def _sample_from_the_pass(data: LoadedData, k: int, seed: int) -> tuple[int, pd.DataFrame] | None:
    """The loader's pooled sample cut to ``k`` rows, if drawn with ``seed`` and big enough."""
    profile = data.profile
    if profile is None or profile.pooled_sample is None or profile.sample_seed != seed:
        return None
    rows = sum(summary.rows_kept for summary in data.summary.values())
    pooled = profile.pooled_sample
    if len(pooled) < min(k, rows):
        return None  # drawn for fewer rows than asked for now
    return rows, pooled.iloc[:k].reset_index(drop=True)


# ------------------------------------------------------------------ features


def _is_text(series: pd.Series) -> bool:
    return isinstance(series.dtype, pd.CategoricalDtype) or not ptypes.is_numeric_dtype(series)


def _linear_features(frame: pd.DataFrame, mesa: Sequence[str], kinds: Mapping[str, str]):
    """Mesa columns for OLS: continuous as values, discrete as level indicators (saturated)."""
    blocks = []
    for name in mesa:
        column = frame[name]
        if kinds.get(name) == CONTINUOUS and not _is_text(column):
            blocks.append(column.to_numpy(dtype=float)[:, None])
        else:
            dummies = pd.get_dummies(column.astype("category"), drop_first=True, dtype=float)
            if dummies.shape[1]:
                blocks.append(dummies.to_numpy())
    return np.hstack(blocks) if blocks else np.zeros((len(frame), 0))


def _boost_features(frame: pd.DataFrame, mesa: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Mesa columns for boosting: numbers as values, text as category codes (flagged)."""
    columns, categorical = [], []
    for name in mesa:
        column = frame[name]
        if _is_text(column):
            columns.append(column.astype("category").cat.codes.to_numpy(dtype=float))
            categorical.append(True)
        else:
            columns.append(column.to_numpy(dtype=float))
            categorical.append(False)
    return np.column_stack(columns), np.array(categorical)


def _outcomes(frame: pd.DataFrame, column: str, kind: str) -> list[tuple[str, np.ndarray]]:
    """The numeric outcome(s) of a base column: its values, or one indicator per level."""
    series = frame[column]
    if not _is_text(series):
        return [(column, series.to_numpy(dtype=float))]
    levels = list(series.astype("category").cat.categories)
    return [(f"{column}={level}", (series == level).to_numpy(dtype=float)) for level in levels[1:]]


# ------------------------------------------------------------------ nuisances


def _folds(codes: np.ndarray, k: int, seed: int) -> np.ndarray:
    from sklearn.model_selection import StratifiedKFold

    fold = np.empty(len(codes), dtype=int)
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    for f, (_, test) in enumerate(splitter.split(np.zeros(len(codes)), codes)):
        fold[test] = f
    return fold


def _propensities(
    x: np.ndarray,
    categorical: np.ndarray,
    codes: np.ndarray,
    k: int,
    fold: np.ndarray,
    settings: DirectTestSettings,
) -> np.ndarray:
    """Cross-fitted ``P(s = l | Y_m)`` for every row and regime, shape (n, k)."""
    out = np.empty((len(codes), k))
    for f in range(settings.folds):
        train = fold != f
        model = _boosted(x, codes, train, categorical, settings, classify=True)
        proba = model.predict_proba(x[~train])
        out[~train] = 0.0
        out[np.ix_(~train, model.classes_)] = proba
    return out


def _regressions(
    x: np.ndarray,
    categorical: np.ndarray,
    y: np.ndarray,
    codes: np.ndarray,
    k: int,
    fold: np.ndarray,
    settings: DirectTestSettings,
) -> np.ndarray:
    """Cross-fitted ``μ_l(Y_m)`` (boosted within regime ``l``) for every row, shape (n, k)."""
    out = np.empty((len(y), k))
    for f in range(settings.folds):
        held = fold == f
        for level in range(k):
            train = ~held & (codes == level)
            model = _boosted(x, y, train, categorical, settings)
            out[held, level] = model.predict(x[held])
    return out


def _boosted(
    x: np.ndarray,
    y: np.ndarray,
    train: np.ndarray,
    categorical: np.ndarray,
    settings: DirectTestSettings,
    *,
    classify: bool = False,
) -> Any:
    """Gradient boosting of ``y`` on ``x`` (classifier if ``classify``) on the rows ``train``."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    model = HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor
    return model(
        max_iter=settings.trees,
        categorical_features=categorical,
        early_stopping=bool(train.sum() >= _EARLY_STOPPING_ROWS),
        random_state=settings.seed,
    ).fit(x[train], y[train])


def _regime_pairs(k: int) -> list[tuple[int, int]]:
    """Every pair ``(i, j)`` of regime codes, ``i < j``: ``(0, 1), (0, 2), ..., (1, 2), ...``."""
    return list(itertools.combinations(range(k), 2))


def _pair_regressions(
    x: np.ndarray,
    categorical: np.ndarray,
    y: np.ndarray,
    codes: np.ndarray,
    k: int,
    fold: np.ndarray,
    settings: DirectTestSettings,
) -> dict[tuple[int, int], np.ndarray]:
    """Cross-fitted ``E[y | Y_m]`` within regimes ``{i, j}``, per pair (GCM's ``m̂``).

    A direct regression on the pair's rows: it is less biased where the regimes'
    ``Y_m`` ranges differ than mixing the per-regime fits with the propensities.
    Rows of other regimes are NaN.
    """
    out = {}
    for i, j in _regime_pairs(k):
        fitted = np.full(len(y), np.nan)
        pair = (codes == i) | (codes == j)
        for f in range(settings.folds):
            held = pair & (fold == f)
            train = pair & (fold != f)
            model = _boosted(x, y, train, categorical, settings)
            fitted[held] = model.predict(x[held])
        out[(i, j)] = fitted
    return out


def _linear_cross_fit(
    z: np.ndarray, y: np.ndarray, codes: np.ndarray, k: int, fold: np.ndarray, folds: int
) -> np.ndarray:
    """Cross-fitted per-regime OLS predictions of ``y`` for each row's own regime."""
    out = np.empty(len(y))
    design = np.column_stack([np.ones(len(y)), z])
    for f in range(folds):
        held = fold == f
        for level in range(k):
            train = ~held & (codes == level)
            rows = held & (codes == level)
            beta, *_ = np.linalg.lstsq(design[train], y[train], rcond=None)
            out[rows] = design[rows] @ beta
    return out


# ------------------------------------------------------------------ tests


def _fisher_z(
    statistics: SufficientStatistics,
    outcome: str,
    mesa: Sequence[str],
    regime: str,
    pair: tuple[int, int],
) -> tuple[float, float]:
    """Fisher's z for ``outcome ⊥ 1[s = j] | mesa, 1[s = l] for l ∉ {i, j}`` (all rows).

    With regime ``i`` as the left-out level of the indicators, the partial
    correlation of ``1[s = j]`` is the contrast between regimes ``j`` and
    ``i``. The statistics hold the indicators of every level but the first;
    when ``i`` is not the first, the first's indicator is one minus the sum
    of the others, so its covariances are minus their sums.
    """
    i, j = pair
    index = statistics.expanded_index
    levels = list(statistics.levels[regime])
    # The regime's codes are its levels; every level but the first has an indicator.
    dummies = dict(zip(levels[1:], index[regime], strict=True))
    mesa_positions = [p for m in mesa for p in index[m]]
    # Rows of a linear map from the expanded variables to the ones the test uses.
    width = statistics.expanded_covariance.shape[0]

    def indicator(code: int) -> np.ndarray:
        row = np.zeros(width)
        if code in dummies:
            row[dummies[code]] = 1.0
        else:  # the first level: 1 - sum of the others (the constant drops out)
            row[list(dummies.values())] = -1.0
        return row

    def unit(position: int) -> np.ndarray:
        row = np.zeros(width)
        row[position] = 1.0
        return row

    others = [code for code in levels if code not in (i, j)]
    rows = [indicator(j), unit(index[outcome][0])]
    rows += [unit(p) for p in mesa_positions] + [indicator(code) for code in others]
    transform = np.vstack(rows)
    conditioning = rows[2:]
    cov = transform @ statistics.expanded_covariance @ transform.T
    scale = np.sqrt(np.diag(cov))
    precision = np.linalg.pinv(cov / np.outer(scale, scale))
    r = -precision[0, 1] / math.sqrt(precision[0, 0] * precision[1, 1])
    r = float(np.clip(r, -1 + 1e-12, 1 - 1e-12))
    z = math.atanh(r) * math.sqrt(max(statistics.n - len(conditioning) - 3, 1))
    return z, float(2 * ndtr(-abs(z)))


def _gcm(
    y: np.ndarray,
    codes: np.ndarray,
    m_pair: dict[tuple[int, int], np.ndarray],
    pi: np.ndarray,
    pair: tuple[int, int],
) -> tuple[float, float, int]:
    """Shah & Peters' GCM statistic of ``y ⊥ 1[s = j] | Y_m`` on the rows of regimes i and j."""
    i, j = pair
    rows = (codes == i) | (codes == j)
    total = pi[rows, i] + pi[rows, j]
    p = np.divide(pi[rows, j], total, out=np.full(rows.sum(), 0.5), where=total > 0)
    m = m_pair[pair][rows]
    a = (codes[rows] == j).astype(float)
    r = (y[rows] - m) * (a - p)
    n = len(r)
    sd = r.std()
    t = math.sqrt(n) * r.mean() / sd if sd > 0 else 0.0
    return float(t), float(2 * ndtr(-abs(t))), int(n)


# ------------------------------------------------------------------ gaps


def _linear_gaps(
    z: np.ndarray, y: np.ndarray, codes: np.ndarray, k: int
) -> list[tuple[float, float]]:
    """OLS per regime on centred ``Y_m``: ``θ_j - θ_i`` and its HC3 standard error, per pair."""
    n, q = z.shape
    centred = z - z.mean(axis=0)
    blocks = []
    for level in range(k):
        indicator = (codes == level).astype(float)[:, None]
        blocks.append(np.hstack([indicator, indicator * centred]))
    design = np.hstack(blocks)
    bread = np.linalg.pinv(design.T @ design)
    beta = bread @ design.T @ y
    residual = y - design @ beta
    leverage = np.einsum("ij,jk,ik->i", design, bread, design)
    weights = residual**2 / np.clip(1 - leverage, 1e-8, None) ** 2
    covariance = bread @ (design.T * weights) @ design @ bread
    # The pooled mean of Y_m is estimated too: θ_j moves by (b_j - b_0)·Δz̄.
    mean_cov = np.atleast_2d(np.cov(z, rowvar=False)) / n if q else np.zeros((0, 0))
    width = q + 1
    out = []
    for i, j in _regime_pairs(k):
        c = np.zeros(design.shape[1])
        c[j * width] = 1.0
        c[i * width] = -1.0
        slope = beta[j * width + 1 : (j + 1) * width] - beta[i * width + 1 : (i + 1) * width]
        variance = c @ covariance @ c + (slope @ mean_cov @ slope if q else 0.0)
        out.append((float(c @ beta), math.sqrt(max(variance, 0.0))))
    return out


def _aipw_gaps(
    y: np.ndarray, codes: np.ndarray, mu: np.ndarray, pi: np.ndarray, k: int, clip: float
) -> list[tuple[float, float]]:
    """Cross-fitted AIPW: regime ``j``'s gap over ``i`` and its influence-function SE, per pair."""
    n = len(y)
    weights = np.clip(pi, clip, None)
    rows = np.arange(n)
    correction = np.zeros((n, k))
    correction[rows, codes] = (y - mu[rows, codes]) / weights[rows, codes]
    out = []
    for i, j in _regime_pairs(k):
        psi = mu[:, j] - mu[:, i] + correction[:, j] - correction[:, i]
        out.append((float(psi.mean()), float(psi.std(ddof=1) / math.sqrt(n))))
    return out


def _curve(
    frame: pd.DataFrame,
    mesa: str,
    y: np.ndarray,
    codes: np.ndarray,
    labels: Sequence[str],
    bins: int,
    level: float,
) -> dict[str, Any] | None:
    """Binned ``E[Y_b | Y_m]`` per regime along one mesa column (quantile bins)."""
    column = frame[mesa]
    if _is_text(column):
        return None
    values = column.to_numpy(dtype=float)
    edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)))
    if len(edges) < 3:
        return None
    which = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
    quantile = ndtri(0.5 + level / 2)
    x = [float(np.median(values[which == b])) for b in range(len(edges) - 1)]
    series = []
    for code, label in enumerate(labels):
        means, lower, upper = [], [], []
        for b in range(len(edges) - 1):
            chosen = y[(which == b) & (codes == code)]
            if len(chosen) < _MIN_BIN_ROWS:
                means.append(None), lower.append(None), upper.append(None)
                continue
            mean = float(chosen.mean())
            half = quantile * float(chosen.std(ddof=1)) / math.sqrt(len(chosen))
            means.append(mean), lower.append(mean - half), upper.append(mean + half)
        series.append({"regime": label, "mean": means, "lower": lower, "upper": upper})
    return {"mesa": mesa, "x": x, "series": series}


# ------------------------------------------------------------------ entry point


def direct_test(
    data: LoadedData,
    *,
    base: Sequence[str],
    mesa: Sequence[str],
    statistics: SufficientStatistics | None = None,
    settings: DirectTestSettings | None = None,
    too_few_rows: str = "raise",
) -> DirectTestResult:
    """Test ``Y_b ⊥ s | Y_m`` on the pooled logs and estimate the alignment gap.

    Parameters
    ----------
    data : LoadedData
        The pooled regimes (the regime column holds codes ``0..k-1``).
    base : sequence of str
        The base objective's columns (one result per column, or per level
        of a text column).
    mesa : sequence of str
        The mesa objective's columns (all conditioned on).
    statistics : SufficientStatistics, optional
        The one-pass statistics of ``data`` (for Fisher-z on every row);
        computed when not given and Fisher-z may be needed.
    settings : DirectTestSettings, optional
        Sample size, folds, trees, levels, method and seed.
    too_few_rows : {"raise", "skip"}
        When a regime has too few rows for cross-fitting: raise
        :class:`DirectTestError`, or return a result with status
        ``"skipped"`` and the reason as its note (a run keeps its verdict).

    Returns
    -------
    DirectTestResult
        Tests and gap estimates per base objective and regime comparison.

    Raises
    ------
    InputError
        If a role is not a column of the data.
    DirectTestError
        If a regime has too few rows for cross-fitting (``too_few_rows="raise"``).
    """
    settings = settings or DirectTestSettings()
    base, mesa = tuple(base), tuple(mesa)
    regime = data.regime_name
    for option, names in (("base", base), ("mesa", mesa)):
        for name in names:
            if name not in data.columns or name == regime:
                raise InputError(
                    f"direct test --{option} {name!r} is not a column of the data; the columns "
                    f"are {', '.join(repr(c) for c in data.variables)}"
                )

    # One OpenMP thread per model: on a shared machine the boosting's thread
    # pool spins against other processes and runs many times slower (and the
    # seeded fits stay bitwise reproducible). threadpoolctl only limits
    # runtimes already loaded, so scikit-learn's is loaded first.
    import sklearn.ensemble  # noqa: F401

    with threadpool_limits(limits=1, user_api="openmp"):
        try:
            return _direct_test(data, base, mesa, statistics, settings)
        except DirectTestError as exc:
            if too_few_rows != "skip":
                raise
            labels = tuple(data.regime_labels)
            return DirectTestResult(
                regime=regime,
                reference=labels[0],
                regimes=labels,
                mesa=mesa,
                outcomes=(),
                rows=exc.rows,
                rows_used=exc.rows,
                settings=settings,
                clipped_share=float("nan"),
                notes=(str(exc),),
                status="skipped",
            )


def _direct_test(
    data: LoadedData,
    base: tuple[str, ...],
    mesa: tuple[str, ...],
    statistics: SufficientStatistics | None,
    settings: DirectTestSettings,
) -> DirectTestResult:
    regime = data.regime_name
    labels = tuple(data.regime_labels)
    k = len(labels)
    rows, frame = _sample(data, [regime, *mesa, *base], settings.rows, settings.seed)
    codes = frame[regime].to_numpy(dtype=int)
    counts = np.bincount(codes, minlength=k)
    needed = 10 * settings.folds
    if counts.min() < needed:
        small = labels[int(counts.argmin())]
        error = DirectTestError(
            f"regime {small!r} has {int(counts.min())} rows in the direct test's sample, fewer "
            f"than the {needed} that {settings.folds}-fold cross-fitting needs; log more rows, "
            "raise --direct-test-rows, or pass --no-direct-test"
        )
        error.rows = rows
        raise error

    all_continuous = all(data.kinds.get(m) == CONTINUOUS for m in mesa)
    z = _linear_features(frame, mesa, data.kinds)
    x, categorical = _boost_features(frame, mesa)
    fold = _folds(codes, settings.folds, settings.seed)
    pi = _propensities(x, categorical, codes, k, fold, settings)
    clipped = float((pi[np.arange(len(codes)), codes] < settings.clip).mean())
    quantile = float(ndtri(0.5 + settings.level / 2))
    notes = []
    if rows > len(frame):
        notes.append(
            f"the regression estimators and GCM used a uniform sample of {len(frame):,} of "
            f"{rows:,} rows (seed {settings.seed}); Fisher-z used every row"
        )
    if clipped > 0.05:
        notes.append(
            f"{clipped:.0%} of rows had an estimated regime probability below {settings.clip}: "
            "the regimes' mesa objective distributions overlap poorly, so the flexible gap "
            "extrapolates and its interval may be too narrow"
        )

    if statistics is None and settings.method != "gcm":
        from mesalens.pipeline.statistics import compute_statistics

        statistics = compute_statistics(
            lambda: data.frame, data.kinds, data.columns, precomputed=data.profile
        )

    drafts = []
    for column in base:
        kind = data.kinds.get(column, CONTINUOUS)
        for name, y in _outcomes(frame, column, kind):
            mu = _regressions(x, categorical, y, codes, k, fold, settings)
            m_pair = _pair_regressions(x, categorical, y, codes, k, fold, settings)
            fisher_ok = kind == CONTINUOUS and name == column and statistics is not None
            nonlinearity_p = None
            if fisher_ok and all_continuous:
                linear = _linear_cross_fit(z, y, codes, k, fold, settings.folds)
                flexible = mu[np.arange(len(y)), codes]
                diff = (y - linear) ** 2 - (y - flexible) ** 2
                spread = diff.std(ddof=1)
                t = math.sqrt(len(diff)) * diff.mean() / spread if spread > 0 else 0.0
                nonlinearity_p = float(ndtr(-t))
            if settings.method == "gcm":
                method, reason = "gcm", "GCM was asked for"
            elif not fisher_ok:
                method = "gcm"
                reason = (
                    "the base objective is discrete, so Fisher-z's Gaussian model does not hold"
                )
            elif settings.method == "fisherz":
                method, reason = "fisherz", "Fisher-z was asked for"
            elif not all_continuous:
                method = "gcm"
                reason = "a mesa column is discrete; GCM makes no linear-Gaussian assumption"
            elif nonlinearity_p is not None and nonlinearity_p < settings.alpha:
                method = "gcm"
                reason = (
                    f"boosted regressions predict the base objective better than linear ones "
                    f"(p = {nonlinearity_p:.2g}): E[Y_b | Y_m] is not linear, so Fisher-z is "
                    "misspecified"
                )
            else:
                method = "fisherz"
                reason = "all continuous and E[Y_b | Y_m] looks linear (no gain from boosting)"
            raw = []
            for pair in _regime_pairs(k):
                if fisher_ok:
                    stat, p = _fisher_z(statistics, column, mesa, regime, pair)
                    raw.append(("fisherz", pair, stat, p, int(statistics.n)))
                stat, p, n_pair = _gcm(y, codes, m_pair, pi, pair)
                raw.append(("gcm", pair, stat, p, n_pair))
            gaps = []
            for estimator, values in (
                ("linear", _linear_gaps(z, y, codes, k)),
                ("flexible", _aipw_gaps(y, codes, mu, pi, k, settings.clip)),
            ):
                for (i, j), (estimate, se) in zip(_regime_pairs(k), values, strict=True):
                    gaps.append(
                        GapEstimate(
                            estimator,
                            labels[j],
                            labels[i],
                            estimate,
                            se,
                            estimate - quantile * se,
                            estimate + quantile * se,
                        )
                    )
            curve = _curve(frame, mesa[0], y, codes, labels, settings.bins, settings.level)
            drafts.append((name, column, kind, method, reason, nonlinearity_p, raw, gaps, curve))

    # Holm within each method's family; the deciding family is each outcome's chosen tests.
    adjusted: dict[tuple[int, int], float] = {}
    for family in ("decide", "fisherz", "gcm"):
        members = [
            (d, r)
            for d, draft in enumerate(drafts)
            for r, test in enumerate(draft[6])
            if (test[0] == draft[3] if family == "decide" else test[0] == family)
            and (family == "decide" or test[0] != draft[3])
        ]
        if members:
            values = holm([drafts[d][6][r][3] for d, r in members])
            adjusted.update({member: float(v) for member, v in zip(members, values, strict=True)})
    outcomes = []
    for d, (name, column, kind, method, reason, nl_p, raw, gaps, curve) in enumerate(drafts):
        tests = tuple(
            PairTest(
                method=m,
                regime=labels[j],
                reference=labels[i],
                statistic=stat,
                p_value=p,
                p_holm=adjusted[(d, r)],
                reject=adjusted[(d, r)] < settings.alpha,
                rows=n_pair,
            )
            for r, (m, (i, j), stat, p, n_pair) in enumerate(raw)
        )
        outcomes.append(
            OutcomeResult(name, column, kind, method, reason, nl_p, tests, tuple(gaps), curve)
        )
    return DirectTestResult(
        regime=regime,
        reference=labels[0],
        regimes=labels,
        mesa=mesa,
        outcomes=tuple(outcomes),
        rows=rows,
        rows_used=len(frame),
        settings=settings,
        clipped_share=clipped,
        notes=tuple(notes),
    )
