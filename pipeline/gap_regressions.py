"""The direct test's cross-fitted regressions: the features, the folds and the nuisance fits.

The estimators of :mod:`mesalens.pipeline.gap_estimators` read these: the
mesa columns as features for least squares and for gradient boosting, the
outcome(s) of a base column, stratified folds, and per row the cross-fitted
regime probabilities and regression functions (scikit-learn's histogram
gradient boosting, imported inside the functions that fit), each predicted
by a model that did not see the row.
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
    "boost_features",
    "cross_fit_folds",
    "is_text",
    "linear_cross_fit",
    "linear_features",
    "outcome_values",
    "pair_regressions",
    "pairs_rule",
    "propensities",
    "regime_pairs",
    "regressions",
]

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


def regressions(
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


def pair_regressions(
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
    for i, j in regime_pairs(k):
        fitted = np.full(len(y), np.nan)
        pair = (codes == i) | (codes == j)
        for f in range(settings.folds):
            held = pair & (fold == f)
            train = pair & (fold != f)
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
