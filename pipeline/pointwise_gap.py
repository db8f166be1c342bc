r"""The alignment gap pointwise in ``Y_m``: at the reference regime's deciles, or per level.

Issue 13 defines the alignment gap as a function of the mesa objective's value,

.. math::  Δ_{ij}(y) = μ_j(y) - μ_i(y), \qquad μ_l(y) = E[Y_b \mid Y_m = y, s = l],

and exit 0 as ``|Δ(y)| < δ`` over ``Y_m``'s central range. The averaged gap
``θ`` of :mod:`mesalens.pipeline.alignment_gap` can be 0 while ``Δ`` is
``±0.3`` SD at the ends (regimes with different slopes), so the confirmation
(:mod:`mesalens.pipeline.confirmation`) also tests ``Δ`` at the points
below, each with its own interval (an intersection-union test needs no
multiplicity adjustment).

Where it is read (:func:`points`), on the sample the direct test uses:

* one **continuous** mesa column: the deciles 10%, 20%, ..., 90% of
  ``Y_m`` among the rows of the pair's *reference* regime ``i`` (normally
  training), the points :func:`mesalens.pipeline.simulation_gap.exact_gap`
  reads the exact gap at (there on the population);
* one **discrete** mesa column: each level with at least
  :data:`MIN_LEVEL_SHARE` of the reference regime's rows;
* several mesa columns: nowhere (no estimate; the confirmation says that
  only the averaged gap was tested).

The estimators, per pair of regimes on those two regimes' rows, each regime
fitted separately (the full regime × ``Y_m`` interaction), ordinary least
squares with HC3 standard errors (MacKinnon & White 1985), the gap at ``y``
being ``b(y)ᵀ(β̂_j - β̂_i)`` with variance ``b(y)ᵀ(V̂_j + V̂_i) b(y)``:

``linear`` (goes with Fisher-z)
    ``b(y) = (1, y)``: ``Δ(y) = a + c y``, linear in ``y``, so its largest
    magnitude over the deciles is at the 10% or the 90% one; **unless the
    line does not fit**: a specification test of the line per regime
    against a regression spline per regime (:func:`line_test`, the
    nested-model Wald test with HC3 errors, in the spirit of Ramsey's RESET,
    1969, with spline terms in place of powers) below
    :data:`LINE_TEST_LEVEL` = 0.2 puts the spline's estimate in its place,
    with an interval that holds both fits' intervals (:func:`_both`; the
    spline's alone, chosen after a test that rejected the line, covered a
    linear gap less often than either fit: 92.9% at 2,000 rows per regime
    in the linear-Gaussian family, the usual cost of a pre-test).
    Fisher-z decides when the direct test's own pre-test (out-of-fold
    squared errors of a line against boosting, at the direct test's α) finds
    no curvature, and that pre-test is built to keep Fisher-z: in about 10%
    of the mixed family's draws at 8,000 rows per regime it kept it on
    curved data, where a line per regime misses the gap (81.6% coverage).
    This test is independent of that one and liberal on purpose (a pre-test
    that picks the model is conservative when it is liberal: a false
    rejection costs a wider interval, a missed curve a biased one); on
    straight lines it picks the spline in 20-30% of draws (HC3 Wald in finite
    samples). It is not run when a regime of the pair has fewer than
    :data:`LINE_TEST_MIN_ROWS` rows (the spline's coverage is measured from
    500 rows per regime; at 150 a shifted regime's spline gave an interval
    2.8 SE off a true gap of 0 in the ``pilot`` demo). Coverage and recall
    measured in ``bench/RESULTS.md``, "Pointwise gap".
``flexible`` (goes with the GCM)
    ``b(y)`` a cubic B-spline basis (:func:`spline_knots` knots at the
    quantiles of the pair's pooled ``Y_m``, continued linearly beyond):
    a regression spline per regime. The knots grow slowly with the rows
    (``n^{1/5}``) so that the spline's bias shrinks; the coverage against the exact ``Δ`` in every
    ``mesalens simulate`` family is in ``bench/RESULTS.md``, "Pointwise gap".
``levels`` (a discrete ``Y_m``, both estimators)
    the difference of the two regimes' means of ``Y_b`` in the level, with
    the unpooled standard error ``√(s_i²/n_i + s_j²/n_j)``; a level with
    fewer than :data:`MIN_LEVEL_ROWS` rows in either regime gets no
    interval (it cannot be confirmed).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> codes = np.repeat([0, 1], 2000)
>>> ym = rng.normal(size=4000)
>>> yb = np.where(codes == 1, 1.3, 1.0) * ym + 0.5 * rng.normal(size=4000)
>>> gaps = linear_point_gaps(ym, yb, codes, (0, 1))
>>> [g[0] for g in gaps][:2], round(gaps[0][2], 1), round(gaps[-1][2], 1)
(['10%', '20%'], -0.4, 0.4)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.special import chdtrc

from mesalens.pipeline.gap_regressions import is_text
from mesalens.pipeline.statistics import CONTINUOUS

__all__ = [
    "DECILES",
    "LINE_TEST_LEVEL",
    "LINE_TEST_MIN_ROWS",
    "MIN_LEVEL_ROWS",
    "MIN_LEVEL_SHARE",
    "PointValue",
    "level_point_gaps",
    "line_test",
    "linear_point_gaps",
    "pointwise_gaps",
    "spline_knots",
    "spline_point_gaps",
]

#: Where a continuous Y_m's gap is read: these quantiles of the reference regime's Y_m
#: (the same as :data:`mesalens.pipeline.simulation_gap.DECILES`).
DECILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
#: A discrete Y_m's levels with a smaller share of the reference regime's rows are left out.
MIN_LEVEL_SHARE = 0.05
#: A level needs this many rows in each regime of the pair for an interval.
MIN_LEVEL_ROWS = 20

#: The line per regime is kept for the ``linear`` points unless :func:`line_test` is below this.
LINE_TEST_LEVEL = 0.2
#: ... and unless either regime of the pair has fewer rows than this (then the line is kept).
LINE_TEST_MIN_ROWS = 500

#: Where the line is rejected, the interval holds both fits' intervals at every quantile above this.
UNION_QUANTILE = 1.6448536269514722  # Φ⁻¹(0.95)

#: One point's gap: ``(label, value of Y_m, estimate, se)``.
PointValue = tuple[str, float | str, float, float]


def spline_knots(rows: int) -> int:
    """Knots (boundary ones included) of the flexible pointwise fit for ``rows`` rows in a regime.

    ``round(rows^{1/5}) + 1``, between 5 and 10: 5 at 500 rows, 6 at 2,000, 7
    at 8,000. Few knots keep the pointwise interval narrow, and they grow
    with the rows so that the spline's bias keeps shrinking; with
    ``n^{1/4}`` (11 knots at 8,000 rows) the intervals were wider *and*
    covered less often in the nonlinear family (``bench/RESULTS.md``,
    "Pointwise gap").

    >>> [spline_knots(n) for n in (100, 500, 2000, 8000, 10**6)]
    [5, 5, 6, 7, 10]
    """
    return int(min(10, max(5, round(rows**0.2) + 1)))


def _hc3_fit(design: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OLS coefficients and their HC3 covariance."""
    bread = np.linalg.pinv(design.T @ design)
    beta = bread @ design.T @ y
    residual = y - design @ beta
    leverage = np.einsum("ij,jk,ik->i", design, bread, design)
    weights = residual**2 / np.clip(1 - leverage, 1e-8, None) ** 2
    return beta, bread @ (design.T * weights) @ design @ bread


def _label(q: float) -> str:
    return f"{round(100 * q)}%"


def _basis_gaps(
    basis, ym: np.ndarray, y: np.ndarray, codes: np.ndarray, pair: tuple[int, int]
) -> list[PointValue]:
    """``b(y)ᵀ(β̂_j - β̂_i)`` at the reference regime's deciles, with HC3 standard errors."""
    i, j = pair
    reference = ym[codes == i]
    at = np.quantile(reference, DECILES)
    try:
        with np.errstate(all="ignore"):
            fits = [_hc3_fit(basis(ym[codes == level]), y[codes == level]) for level in (i, j)]
            (beta_i, cov_i), (beta_j, cov_j) = fits
            points = basis(at)
            estimate = points @ (beta_j - beta_i)
            variance = np.einsum("ij,jk,ik->i", points, cov_i + cov_j, points)
    except np.linalg.LinAlgError:
        # Values no fit can take (extreme magnitudes): no estimate, so nothing is confirmed.
        estimate = variance = np.full(len(DECILES), math.nan)
    return [
        (_label(q), float(value), float(e), math.sqrt(max(float(v), 0.0)))
        for q, value, e, v in zip(DECILES, at, estimate, variance, strict=True)
    ]


def linear_point_gaps(
    ym: np.ndarray, y: np.ndarray, codes: np.ndarray, pair: tuple[int, int]
) -> list[PointValue]:
    """The linear pointwise gap (intercept and slope per regime) at the reference's deciles."""
    centre = float(np.mean(ym))
    return _basis_gaps(
        lambda values: np.column_stack([np.ones(len(values)), values - centre]), ym, y, codes, pair
    )


def _spline_basis(ym: np.ndarray, codes: np.ndarray, pair: tuple[int, int], knots: int | None):
    """The flexible fit's basis ``b(y)``: cubic B-splines, knots at the pair's ``Y_m`` quantiles."""
    from sklearn.preprocessing import SplineTransformer

    i, j = pair
    fewest = int(min((codes == i).sum(), (codes == j).sum()))
    distinct = len(np.unique(ym))
    transformer = SplineTransformer(
        n_knots=max(2, min(knots or spline_knots(fewest), distinct - 1)),
        degree=3,
        knots="quantile",
        extrapolation="linear",
    ).fit(ym[:, None])
    return lambda values: transformer.transform(np.asarray(values, dtype=float)[:, None])


def spline_point_gaps(
    ym: np.ndarray,
    y: np.ndarray,
    codes: np.ndarray,
    pair: tuple[int, int],
    knots: int | None = None,
) -> list[PointValue]:
    """The flexible pointwise gap (a regression spline per regime) at the reference's deciles.

    ``knots`` overrides :func:`spline_knots` (the benchmark compares choices).
    """
    return _basis_gaps(_spline_basis(ym, codes, pair, knots), ym, y, codes, pair)


def line_test(ym: np.ndarray, y: np.ndarray, codes: np.ndarray, pair: tuple[int, int]) -> float:
    """P-value of a line per regime against a regression spline per regime (HC3 Wald test).

    Per regime ``l`` of the pair: the cubic B-spline basis with
    :func:`spline_knots` knots at *that regime's* ``Y_m`` quantiles spans the
    line, so the models are nested; its columns are projected off
    ``(1, y)`` (an orthonormal remainder ``Z_l``, rank ``k``), ``Y_b`` is
    regressed on ``(1, y, Z_l)`` with HC3 errors, and
    ``W_l = ĉᵀ V̂_c⁻¹ ĉ`` tests that the coefficients ``c`` of
    ``Z_l`` are 0. The regimes' samples are
    independent, so ``W_i + W_j`` is ``χ²`` with the summed ranks under the
    line. (Knots at the pair's pooled quantiles, as in the estimator, left
    the outer basis functions of the regime shifted away from them with few
    rows, and the test was liberal: 30% below 0.2 on straight lines.)
    NaN when it cannot be computed (no remainder, a singular covariance).
    """
    from sklearn.preprocessing import SplineTransformer

    statistic, freedom = 0.0, 0
    try:
        with np.errstate(all="ignore"):
            for level in pair:
                values, target = ym[codes == level], y[codes == level]
                distinct = len(np.unique(values))
                if distinct < 4:
                    continue
                spline = SplineTransformer(
                    n_knots=max(2, min(spline_knots(len(values)), distinct - 1)),
                    degree=3,
                    knots="quantile",
                ).fit_transform(values[:, None])
                line = np.column_stack([np.ones(len(values)), values - float(np.mean(values))])
                remainder = spline - line @ np.linalg.lstsq(line, spline, rcond=None)[0]
                left, singular, _ = np.linalg.svd(remainder, full_matrices=False)
                keep = singular > 1e-8 * max(float(singular[0]), 1e-300)
                if not keep.any():
                    continue
                beta, cov = _hc3_fit(np.column_stack([line, left[:, keep]]), target)
                gamma = beta[2:]
                statistic += float(gamma @ np.linalg.solve(cov[2:, 2:], gamma))
                freedom += int(keep.sum())
    except np.linalg.LinAlgError:
        return math.nan
    if freedom == 0 or not math.isfinite(statistic):
        return math.nan
    return float(chdtrc(freedom, statistic))


def level_point_gaps(
    ym: pd.Series, y: np.ndarray, codes: np.ndarray, pair: tuple[int, int]
) -> list[PointValue]:
    """Per level of a discrete ``Y_m`` (share of the reference at least :data:`MIN_LEVEL_SHARE`)."""
    i, j = pair
    values = ym.to_numpy()
    reference = values[codes == i]
    levels, counts = np.unique(reference, return_counts=True)
    out: list[PointValue] = []
    for level, count in zip(levels, counts, strict=True):
        if count < MIN_LEVEL_SHARE * len(reference):
            continue
        parts = [y[(codes == c) & (values == level)] for c in (i, j)]
        label = str(level)
        shown: float | str = level.item() if isinstance(level, np.generic) else str(level)
        if min(len(p) for p in parts) < MIN_LEVEL_ROWS:
            both = all(len(p) for p in parts)
            estimate = float(parts[1].mean() - parts[0].mean()) if both else math.nan
            out.append((label, shown, estimate, math.nan))
            continue
        estimate = float(parts[1].mean() - parts[0].mean())
        se = math.sqrt(sum(float(p.var(ddof=1)) / len(p) for p in parts))
        out.append((label, shown, estimate, se))
    return out


def _both(spline: list[PointValue], line: list[PointValue]) -> list[PointValue]:
    """The spline's estimate with an interval holding both fits' intervals (levels ≥ 90%).

    ``se = max(se_s, se_l + |e_s - e_l| / z)``, ``z = Φ⁻¹(0.95)``: for every
    quantile ``q ≥ z`` (two-sided levels of 90% and more, the TOST's and
    the coverage's), ``e_s ± q se`` contains ``e_s ± q se_s`` and
    ``e_l ± q se_l``, so it covers whenever either fit's interval does.
    """
    out: list[PointValue] = []
    for (label, at, e_s, se_s), (_, _, e_l, se_l) in zip(spline, line, strict=True):
        widened = se_l + abs(e_s - e_l) / UNION_QUANTILE
        out.append((label, at, e_s, max(se_s, widened) if math.isfinite(widened) else se_s))
    return out


def pointwise_gaps(
    frame: pd.DataFrame,
    mesa: Sequence[str],
    kinds: Mapping[str, str],
    y: np.ndarray,
    codes: np.ndarray,
    pairs: Sequence[tuple[int, int]],
) -> dict[str, list[list[PointValue]]] | None:
    """Both estimators' pointwise gaps per pair (see the module docstring), or None.

    Returns
    -------
    dict or None
        ``{"linear": [...], "flexible": [...]}``, one list of points per
        pair in the order of ``pairs``; None with several mesa columns.
    """
    if len(mesa) != 1:
        return None
    column = frame[mesa[0]]
    out: dict[str, list[list[PointValue]]] = {"linear": [], "flexible": []}
    continuous = kinds.get(mesa[0]) == CONTINUOUS and not is_text(column)
    values = column.to_numpy(dtype=float) if continuous else None
    if values is not None and not np.isfinite(values).all():
        return None
    for pair in pairs:
        in_pair = (codes == pair[0]) | (codes == pair[1])
        if values is None:
            points = level_point_gaps(column[in_pair], y[in_pair], codes[in_pair], pair)
            out["linear"].append(points)
            out["flexible"].append(points)
            continue
        ym, yy, cc = values[in_pair], y[in_pair], codes[in_pair]
        flexible = spline_point_gaps(ym, yy, cc, pair)
        fewest = min(int((cc == pair[0]).sum()), int((cc == pair[1]).sum()))
        # NaN (no test) or too few rows for the test: nothing speaks against the line.
        line_fits = fewest < LINE_TEST_MIN_ROWS or not line_test(ym, yy, cc, pair) < LINE_TEST_LEVEL
        line = linear_point_gaps(ym, yy, cc, pair)
        out["linear"].append(line if line_fits else _both(flexible, line))
        out["flexible"].append(flexible)
    return out
