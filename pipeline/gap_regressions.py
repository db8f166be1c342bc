"""The direct test's cross-fitted regressions: the features, the folds and the nuisance fits.

The estimators of :mod:`mesalens.pipeline.gap_estimators` read these: the
mesa columns as features for least squares and for the flexible fits, the
outcome(s) of a base column, stratified folds, and per row the cross-fitted
regime probabilities and regression functions, each predicted by a model
that did not see the row (scikit-learn, imported inside the functions that
fit).

Two learners make the flexible fits (:func:`learner_for`):

``spline`` (one continuous mesa column, the common case)
    Cubic regression splines in ``Y_m`` (B-splines, knots at quantiles,
    continued linearly beyond the outer knots). The regression of regime
    ``l`` is ``μ_l = f + g_l``: ``f`` a ridge spline fitted to the rows of
    *every* regime of the training folds, ``g_l`` a coarser ridge spline
    fitted to regime ``l``'s residuals from ``f`` (ridge penalties chosen
    by generalised cross-validation). Where one regime's ``Y_m`` reaches
    values the other barely has, ``f`` still follows the data there and
    only the regime difference ``g_l`` is extrapolated, so under the null
    (``g_l = 0``) nothing is; per-regime boosted fits extrapolated each
    regression flat instead, and the gap's interval undercovered (see
    :mod:`mesalens.pipeline.alignment_gap`). The regime probabilities are a
    logistic regression on the same basis (smooth and calibrated, so the
    inverse-probability weights stay moderate).
``boost`` (several mesa columns, or a discrete one)
    scikit-learn's histogram gradient boosting, per regime for ``μ_l``, a
    classifier for the regime probabilities.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from mesalens.pipeline.gap_results import (
    ALL_PAIRS_MAX_REGIMES,
    DirectTestSettings,
    pairs_rule,
    regime_pairs,
)
from mesalens.pipeline.statistics import CONTINUOUS

__all__ = [
    "ALL_PAIRS_MAX_REGIMES",
    "LEARNERS",
    "boost_features",
    "cross_fit_folds",
    "is_text",
    "learner_for",
    "linear_cross_fit",
    "linear_features",
    "outcome_values",
    "pair_regressions",
    "pairs_rule",
    "propensities",
    "regime_pairs",
    "regressions",
]

#: The flexible learners (see the module docstring).
LEARNERS = ("spline", "boost")

# Spline knots (quantiles of the training rows) of the pooled fit f and of a
# regime's difference g_l, and the ridge penalties generalised cross-validation
# chooses from (the B-spline basis has values in [0, 1]).
_KNOTS_POOLED = 12
_KNOTS_DIFFERENCE = 6
_RIDGE_ALPHAS = tuple(10.0**e for e in range(-4, 5))
# The logistic regression's inverse penalty on the spline basis.
_LOGISTIC_C = 1.0
# A mesa column needs this many distinct values for splines (else boosting).
_MIN_SPLINE_VALUES = 20

# Boosting stops when a held-out 10% of its training rows stops improving (fewer
# trees, less overfitting of the propensities), once there are this many rows.
_EARLY_STOPPING_ROWS = 500


def is_text(series: pd.Series) -> bool:
    """Whether a column holds text or categories rather than numbers."""
    return isinstance(series.dtype, pd.CategoricalDtype) or not ptypes.is_numeric_dtype(series)


def linear_features(frame: pd.DataFrame, mesa: Sequence[str], kinds: Mapping[str, str]):
    """Mesa columns for OLS: continuous as values, discrete as level indicators (saturated)."""
    blocks = []
    for name in mesa:
        column = frame[name]
        if kinds.get(name) == CONTINUOUS and not is_text(column):
            blocks.append(column.to_numpy(dtype=float)[:, None])
        else:
            dummies = pd.get_dummies(column.astype("category"), drop_first=True, dtype=float)
            if dummies.shape[1]:
                blocks.append(dummies.to_numpy())
    return np.hstack(blocks) if blocks else np.zeros((len(frame), 0))


def boost_features(frame: pd.DataFrame, mesa: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Mesa columns for boosting: numbers as values, text as category codes (flagged)."""
    columns, categorical = [], []
    for name in mesa:
        column = frame[name]
        if is_text(column):
            columns.append(column.astype("category").cat.codes.to_numpy(dtype=float))
            categorical.append(True)
        else:
            columns.append(column.to_numpy(dtype=float))
            categorical.append(False)
    return np.column_stack(columns), np.array(categorical)


def outcome_values(frame: pd.DataFrame, column: str, kind: str) -> list[tuple[str, np.ndarray]]:
    """The numeric outcome(s) of a base column: its values, or one indicator per level."""
    series = frame[column]
    if not is_text(series):
        return [(column, series.to_numpy(dtype=float))]
    levels = list(series.astype("category").cat.categories)
    return [(f"{column}={level}", (series == level).to_numpy(dtype=float)) for level in levels[1:]]


# ------------------------------------------------------------------ nuisances


def learner_for(frame: pd.DataFrame, mesa: Sequence[str], kinds: Mapping[str, str]) -> str:
    """``"spline"`` for one continuous, finite mesa column with enough values, else ``"boost"``."""
    if len(mesa) != 1:
        return "boost"
    column = frame[mesa[0]]
    if kinds.get(mesa[0]) != CONTINUOUS or is_text(column):
        return "boost"
    # Splines need finite values (boosting takes a missing value as a value of its own),
    # and a basis that stays finite (values of extreme magnitude can overflow it).
    values = column.to_numpy(dtype=float)[:, None]
    if not np.isfinite(values).all() or column.nunique() < _MIN_SPLINE_VALUES:
        return "boost"
    with np.errstate(all="ignore"):
        finite = np.isfinite(_basis(values, _KNOTS_POOLED).transform(values)).all()
    return "spline" if finite else "boost"


def _basis(x: np.ndarray, knots: int) -> Any:
    """A cubic B-spline basis in the one column of ``x``, knots at its quantiles, linear beyond."""
    from sklearn.preprocessing import SplineTransformer

    distinct = len(np.unique(x[:, 0]))
    return SplineTransformer(
        n_knots=max(2, min(knots, distinct - 1)),
        degree=3,
        knots="quantile",
        extrapolation="linear",
    ).fit(x)


def _spline_fit(x: np.ndarray, y: np.ndarray, knots: int) -> Any:
    """A ridge regression of ``y`` on a spline basis in ``x`` (GCV penalty); returns ``predict``."""
    from sklearn.linear_model import RidgeCV

    basis = _basis(x, knots)
    model = RidgeCV(alphas=_RIDGE_ALPHAS).fit(basis.transform(x), y)
    return lambda rows: model.predict(basis.transform(rows))


def _spline_regressions(
    x: np.ndarray, y: np.ndarray, codes: np.ndarray, k: int, fold: np.ndarray, folds: int
) -> np.ndarray:
    """Cross-fitted ``μ_l = f + g_l`` (see the module docstring) for every row, shape (n, k)."""
    out = np.empty((len(y), k))
    for f in range(folds):
        held, train = fold == f, fold != f
        pooled = _spline_fit(x[train], y[train], _KNOTS_POOLED)
        residual = y[train] - pooled(x[train])
        base = pooled(x[held])
        for level in range(k):
            own = codes[train] == level
            difference = _spline_fit(x[train][own], residual[own], _KNOTS_DIFFERENCE)
            out[held, level] = base + difference(x[held])
    return out


def _spline_propensities(
    x: np.ndarray, codes: np.ndarray, k: int, fold: np.ndarray, folds: int
) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    out = np.zeros((len(codes), k))
    for f in range(folds):
        held, train = fold == f, fold != f
        basis = _basis(x[train], _KNOTS_POOLED)
        model = LogisticRegression(C=_LOGISTIC_C, max_iter=1000)
        model.fit(basis.transform(x[train]), codes[train])
        out[np.ix_(held, model.classes_)] = model.predict_proba(basis.transform(x[held]))
    return out


def cross_fit_folds(codes: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Each row's cross-fitting fold, ``0..k-1``, stratified by regime and seeded."""
    from sklearn.model_selection import StratifiedKFold

    fold = np.empty(len(codes), dtype=int)
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    for f, (_, test) in enumerate(splitter.split(np.zeros(len(codes)), codes)):
        fold[test] = f
    return fold


def propensities(
    x: np.ndarray,
    categorical: np.ndarray,
    codes: np.ndarray,
    k: int,
    fold: np.ndarray,
    settings: DirectTestSettings,
    learner: str = "boost",
) -> np.ndarray:
    """Cross-fitted ``P(s = l | Y_m)`` for every row and regime, shape (n, k)."""
    if learner == "spline":
        return _spline_propensities(x, codes, k, fold, settings.folds)
    out = np.empty((len(codes), k))
    for f in range(settings.folds):
        train = fold != f
        model = _boosted(x, codes, train, categorical, settings, classify=True)
        proba = model.predict_proba(x[~train])
        out[~train] = 0.0
        out[np.ix_(~train, model.classes_)] = proba
    return out


def regressions(
    x: np.ndarray,
    categorical: np.ndarray,
    y: np.ndarray,
    codes: np.ndarray,
    k: int,
    fold: np.ndarray,
    settings: DirectTestSettings,
    learner: str = "boost",
) -> np.ndarray:
    """Cross-fitted ``μ_l(Y_m)`` for every row, shape (n, k): splines, or boosted within ``l``."""
    if learner == "spline":
        return _spline_regressions(x, y, codes, k, fold, settings.folds)
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


def pair_regressions(
    x: np.ndarray,
    categorical: np.ndarray,
    y: np.ndarray,
    codes: np.ndarray,
    k: int,
    fold: np.ndarray,
    settings: DirectTestSettings,
    learner: str = "boost",
) -> dict[tuple[int, int], np.ndarray]:
    """Cross-fitted ``E[y | Y_m]`` within regimes ``{i, j}``, per pair (GCM's ``m̂``).

    A direct regression on the pair's rows: it is less biased where the regimes'
    ``Y_m`` ranges differ than mixing the per-regime fits with the propensities.
    Rows of other regimes are NaN.
    """
    out = {}
    for i, j in regime_pairs(k):
        fitted = np.full(len(y), np.nan)
        pair = (codes == i) | (codes == j)
        for f in range(settings.folds):
            held = pair & (fold == f)
            train = pair & (fold != f)
            if learner == "spline":
                fitted[held] = _spline_fit(x[train], y[train], _KNOTS_POOLED)(x[held])
                continue
            model = _boosted(x, y, train, categorical, settings)
            fitted[held] = model.predict(x[held])
        out[(i, j)] = fitted
    return out


def linear_cross_fit(
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
