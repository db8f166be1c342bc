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
more than two regimes, every pair ``(i, j)`` compared, ``μ_i`` in place of ``μ_0``). This is
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
  its value, or of a level's indicator). The regressions are the flexible
  fits described under the flexible gap below (splines or gradient
  boosting), cross-fitted over K folds (Chernozhukov et al.,
  "Double/debiased machine learning", Econometrics Journal 2018), so that
  no row is predicted by a model that saw it.

``method="auto"`` uses Fisher-z when ``Y_b`` and every ``Y_m`` column are
continuous and the per-regime regressions look linear, and GCM otherwise.
"Look linear" is a pre-test that does not involve the regime contrast: the
cross-fitted squared errors of per-regime OLS fits and of the flexible fits
are compared row by row, and a one-sided paired test at ``alpha`` that the
flexible fits predict better flags nonlinearity. Both tests are reported
whenever they apply; the chosen one decides.

With ``k > 2`` regimes there is one test per pair of regimes compared: up to
ten regimes every pair (``k(k-1)/2`` comparisons, ``j`` against ``i`` for
``i < j``); with more, each regime against the reference (``k - 1``
comparisons: 199 instead of 19,900 at 200 regimes; the joint null, every
``μ_j`` equal to ``μ_0``, is the same, and any two regimes that differ differ
from the reference too), :func:`~mesalens.pipeline.gap_results.regime_pairs`.
The per-pair regressions and tests are then linear in the regimes. All the deciding tests
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
  error ``sd(ψ)/√n`` (the influence function). ``π̂_l(y) = P(s = l | Y_m =
  y)`` is clipped below at ``clip`` (the share of clipped rows is reported:
  many mean poor overlap of the regimes' ``Y_m`` distributions). The fits
  (:mod:`mesalens.pipeline.gap_regressions`, ``settings.learner``): with
  one continuous mesa column, cubic regression splines, ``μ̂_l = f̂ + ĝ_l``
  with ``f̂`` fitted to every regime's rows and ``ĝ_l`` to regime ``l``'s
  residuals, and a logistic regression on the spline basis for ``π̂``;
  otherwise gradient boosting (``μ̂_l`` within regime ``l``, a boosted
  classifier for ``π̂``). Per-regime boosted fits extrapolate flat where one
  regime's ``Y_m`` reaches values the other barely has, and the interval
  undercovered: with ``Y_m`` 1.5 times wider in deployment, ``Y_b = Y_m²``
  and 1,000 rows per regime, it covered the true 0 in 26 of 40 draws (65%);
  the spline fits cover it in 36 of 40 (90%), with intervals less than half
  as wide. In the families of ``mesalens simulate``, the coverage of both
  against the exact gap (:func:`mesalens.pipeline.simulation_gap.exact_theta`)
  is in ``bench/RESULTS.md``, "Coverage of the gap interval"
  (``bench/bench_gap_coverage.py``).

**Pointwise**: both estimators also give the gap at each decile of the
reference regime's ``Y_m`` (each level of a discrete one), ``μ_j(y) -
μ_i(y)`` from a line or a regression spline per regime
(:mod:`mesalens.pipeline.pointwise_gap`): the averaged ``θ_j`` can be 0
while the regression functions cross, and exit 0 needs the gap within the
tolerance at every point (:mod:`mesalens.pipeline.confirmation`).

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
>>> from mesalens.connectors.loaded import LoadedData
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

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import dask
import numpy as np
import pandas as pd

# Normal tail areas and quantiles through scipy.special (scipy.stats's
# norm.sf(x) is ndtr(-x), norm.ppf is ndtri), which imports in a fraction of
# scipy.stats's time; scikit-learn is imported inside the functions that fit.
from scipy.special import ndtr, ndtri
from threadpoolctl import threadpool_limits

from mesalens.connectors.errors import InputError
from mesalens.connectors.moments import unit_exponent
from mesalens.connectors.sampling import (
    Sample,
    bottom_k,
    key_order,
    merge_samples,
    partition_keys,
)
from mesalens.pipeline.gap_estimators import (
    aipw_gaps,
    binned_curve,
    fisher_z,
    gcm,
    holm,
    linear_gaps,
    within_sd,
)
from mesalens.pipeline.gap_regressions import (
    boost_features,
    cross_fit_folds,
    learner_for,
    linear_cross_fit,
    linear_features,
    outcome_values,
    pair_regressions,
    propensities,
    regime_pairs,
    regressions,
)
from mesalens.pipeline.gap_results import (
    ALL_PAIRS_MAX_REGIMES,
    DirectTestError,
    DirectTestResult,
    DirectTestSettings,
    GapEstimate,
    OutcomeResult,
    PairTest,
    PointGap,
)
from mesalens.pipeline.pointwise_gap import pointwise_gaps
from mesalens.pipeline.statistics import CONTINUOUS, SufficientStatistics

if TYPE_CHECKING:
    from mesalens.connectors.loaded import LoadedData

__all__ = ["direct_test"]

# Partition samples are merged this many at a time (a shallow tree of small tasks).
_SPLIT_EVERY = 8


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


def _in_safe_units(
    frame: pd.DataFrame, columns: list[str], kinds: Mapping[str, str]
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Continuous columns of extreme magnitude (``1e300``, ``1e-300``) in units of ``2**e``.

    The boosted regressions square residuals in float32 and the linear ones
    in float64: values near either end of the range overflow or vanish. A
    power of two changes the unit exactly, and no test depends on it.
    """
    units: dict[str, int] = {}
    for column in dict.fromkeys(columns):
        if kinds.get(column) != CONTINUOUS:
            continue
        values = frame[column].to_numpy(dtype=np.float64)
        finite = values[np.isfinite(values)]
        exponent = unit_exponent(float(finite.min()), float(finite.max())) if len(finite) else 0
        if exponent:
            if not units:
                frame = frame.copy()
            frame[column] = np.ldexp(values, -exponent)
            units[column] = exponent
    return frame, units


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


class _PairView:
    """The rows of one pair of regimes, their codes as 0 (reference) and 1, their folds."""

    def __init__(self, pair: tuple[int, int], codes: np.ndarray, fold: np.ndarray):
        self.rows = (codes == pair[0]) | (codes == pair[1])
        self.codes = (codes[self.rows] == pair[1]).astype(int)
        self.fold = fold[self.rows]
        self.pi: np.ndarray = np.empty((0, 2))


class _PairProgress:
    """Calls ``on_progress(done, total)`` about every 2% of the pairs (and at the end)."""

    def __init__(self, on_progress: Callable[[int, int], None] | None, total: int):
        self.on_progress, self.total, self.done = on_progress, total, 0
        self.every = max(1, total // 50)

    def advance(self) -> None:
        self.done += 1
        if self.on_progress is not None and (
            self.done % self.every == 0 or self.done == self.total
        ):
            self.on_progress(self.done, self.total)


def _outcome_count(frame: pd.DataFrame, base: Sequence[str], kinds: Mapping[str, str]) -> int:
    return sum(len(outcome_values(frame, column, kinds.get(column, CONTINUOUS))) for column in base)


# ------------------------------------------------------------------ entry point


def direct_test(
    data: LoadedData,
    *,
    base: Sequence[str],
    mesa: Sequence[str],
    statistics: SufficientStatistics | None = None,
    settings: DirectTestSettings | None = None,
    too_few_rows: str = "raise",
    on_progress: Callable[[int, int], None] | None = None,
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
    on_progress : callable, optional
        ``on_progress(done, total)``: regime pairs done, of all (one round
        per base outcome, and one for the propensities of a pair when each
        regime is compared with the reference); with many regimes this is the
        long stage.

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

    # One OpenMP and one BLAS thread per model: on a shared machine the
    # boosting's thread pool (and BLAS's, under the spline fits) spins against
    # other processes and runs many times slower (and the seeded fits stay
    # bitwise reproducible). threadpoolctl only limits runtimes already
    # loaded, so scikit-learn's is loaded first.
    import sklearn.ensemble  # noqa: F401

    with threadpool_limits(limits=1):
        try:
            return _direct_test(data, base, mesa, statistics, settings, on_progress)
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
    on_progress: Callable[[int, int], None] | None = None,
) -> DirectTestResult:
    regime = data.regime_name
    labels = tuple(data.regime_labels)
    k = len(labels)
    rows, frame = _sample(data, [regime, *mesa, *base], settings.rows, settings.seed)
    frame, units = _in_safe_units(frame, [*mesa, *base], data.kinds)
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
    z = linear_features(frame, mesa, data.kinds)
    x, categorical = boost_features(frame, mesa)
    fold = cross_fit_folds(codes, settings.folds, settings.seed)
    learner = learner_for(frame, mesa, data.kinds) if settings.learner == "auto" else "boost"
    pairs = regime_pairs(k)
    steps = len(pairs) * (_outcome_count(frame, base, data.kinds) + (k > ALL_PAIRS_MAX_REGIMES))
    progress = _PairProgress(on_progress, steps)
    if k > ALL_PAIRS_MAX_REGIMES:
        # Each regime against the reference, on those two regimes' rows, with a
        # two-class propensity: a k-class one would spread P(s | Y_m) over k
        # regimes (each below the clip at 200 regimes) and cost k trees a round.
        views = {pair: _PairView(pair, codes, fold) for pair in pairs}
        for view in views.values():
            view.pi = propensities(
                x[view.rows], categorical, view.codes, 2, view.fold, settings, learner
            )
            progress.advance()
        own = np.concatenate([v.pi[np.arange(len(v.codes)), v.codes] for v in views.values()])
        clipped = float((own < settings.clip).mean())
        pi = None
    else:
        views = None
        pi = propensities(x, categorical, codes, k, fold, settings, learner)
        clipped = float((pi[np.arange(len(codes)), codes] < settings.clip).mean())
    quantile = float(ndtri(0.5 + settings.level / 2))
    notes = [
        f"{column!r} entered the regressions in units of 2**{e} (its magnitude is beyond what "
        "they handle); its gaps and curves are in that unit"
        for column, e in units.items()
    ]
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
        for name, y in outcome_values(frame, column, kind):
            mu = regressions(x, categorical, y, codes, k, fold, settings, learner)
            m_pair = pair_regressions(x, categorical, y, codes, k, fold, settings, learner)
            fisher_ok = kind == CONTINUOUS and name == column and statistics is not None
            nonlinearity_p = None
            if fisher_ok and all_continuous:
                linear = linear_cross_fit(z, y, codes, k, fold, settings.folds)
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
                    f"{'spline' if learner == 'spline' else 'boosted'} regressions predict the "
                    "base objective better than linear ones "
                    f"(p = {nonlinearity_p:.2g}): E[Y_b | Y_m] is not linear, so Fisher-z is "
                    "misspecified"
                )
            else:
                method = "fisherz"
                reason = "all continuous and E[Y_b | Y_m] looks linear (no gain from flexible fits)"
            raw = []
            for pair in pairs:
                if fisher_ok:
                    stat, p = fisher_z(statistics, column, mesa, regime, pair)
                    raw.append(("fisherz", pair, stat, p, int(statistics.n)))
                if views is None:
                    stat, p, n_pair = gcm(y, codes, m_pair, pi, pair)
                else:
                    view = views[pair]
                    fitted = {(0, 1): m_pair[pair][view.rows]}
                    stat, p, n_pair = gcm(y[view.rows], view.codes, fitted, view.pi, (0, 1))
                raw.append(("gcm", pair, stat, p, n_pair))
                progress.advance()
            if views is None:
                linear_values = linear_gaps(z, y, codes, k)
                flexible_values = aipw_gaps(y, codes, mu, pi, k, settings.clip)
            else:
                linear_values, flexible_values = [], []
                for (i, j), view in views.items():
                    in_pair = view.rows
                    linear_values += linear_gaps(z[in_pair], y[in_pair], view.codes, 2)
                    flexible_values += aipw_gaps(
                        y[in_pair], view.codes, mu[in_pair][:, [i, j]], view.pi, 2, settings.clip
                    )
            gaps = []
            for estimator, values in (
                ("linear", linear_values),
                ("flexible", flexible_values),
            ):
                for (i, j), (estimate, se) in zip(pairs, values, strict=True):
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
            curve = binned_curve(frame, mesa[0], y, codes, labels, settings.bins, settings.level)
            spread = within_sd(y, codes, k)
            points = pointwise_gaps(frame, mesa, data.kinds, y, codes, pairs) or {}
            pointwise = tuple(
                PointGap(
                    estimator,
                    labels[j],
                    labels[i],
                    at,
                    value,
                    e,
                    se,
                    e - quantile * se,
                    e + quantile * se,
                )
                for estimator, per_pair in points.items()
                for (i, j), values in zip(pairs, per_pair, strict=True)
                for at, value, e, se in values
            )
            drafts.append(
                (
                    name,
                    column,
                    kind,
                    method,
                    reason,
                    nonlinearity_p,
                    raw,
                    gaps,
                    curve,
                    spread,
                    pointwise,
                )
            )

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
    for d, draft in enumerate(drafts):
        name, column, kind, method, reason, nl_p, raw, gaps, curve, spread, pointwise = draft
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
            OutcomeResult(
                name,
                column,
                kind,
                method,
                reason,
                nl_p,
                tests,
                tuple(gaps),
                curve,
                spread,
                pointwise,
            )
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
        learner=learner,
    )
