"""The direct test's statistics: the two tests, Holm's adjustment, the gap estimators, the curve.

Fisher-z from the sufficient statistics and Shah & Peters' GCM for
``Y_b ⊥ s | Y_m`` per pair of regimes, :func:`holm` over a family of
p-values, the linear (HC3) and flexible (cross-fitted AIPW) estimators of
the alignment gap, and the binned ``E[Y_b | Y_m]`` curve per regime;
:mod:`mesalens.pipeline.alignment_gap` describes each and runs them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

# Normal tail areas and quantiles through scipy.special (scipy.stats's
# norm.sf(x) is ndtr(-x), norm.ppf is ndtri), which imports in a fraction of
# scipy.stats's time.
from scipy.special import ndtr, ndtri

from mesalens.pipeline.gap_regressions import is_text, regime_pairs
from mesalens.pipeline.statistics import SufficientStatistics

__all__ = [
    "aipw_gaps",
    "binned_curve",
    "fisher_z",
    "gcm",
    "holm",
    "linear_gaps",
    "within_sd",
]

# A bin of the E[Y_b | Y_m] curve needs this many rows of a regime to be drawn.
_MIN_BIN_ROWS = 5


def within_sd(y: np.ndarray, codes: np.ndarray, k: int) -> float:
    """The pooled within-regime standard deviation of ``y``: ``sqrt(Σ_g (n_g - 1) s_g² / (n - k))``.

    The unit of a tolerance given in standard deviations of ``Y_b``
    (:mod:`mesalens.pipeline.confirmation`): the spread of the base objective
    within a regime, which a shift of the regime's mean does not inflate.
    NaN when there are no more rows than regimes.

    >>> round(within_sd(np.array([0.0, 2.0, 10.0, 12.0]), np.array([0, 0, 1, 1]), 2), 6)
    1.414214
    """
    y = np.asarray(y, dtype=float)
    counts = np.bincount(codes, minlength=k)
    if len(y) <= k:
        return math.nan
    means = np.bincount(codes, weights=y, minlength=k) / np.maximum(counts, 1)
    residual = y - means[codes]
    return float(math.sqrt(residual @ residual / (len(y) - k)))


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


def fisher_z(
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


def gcm(
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


def linear_gaps(
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
    for i, j in regime_pairs(k):
        c = np.zeros(design.shape[1])
        c[j * width] = 1.0
        c[i * width] = -1.0
        slope = beta[j * width + 1 : (j + 1) * width] - beta[i * width + 1 : (i + 1) * width]
        variance = c @ covariance @ c + (slope @ mean_cov @ slope if q else 0.0)
        out.append((float(c @ beta), math.sqrt(max(variance, 0.0))))
    return out


def aipw_gaps(
    y: np.ndarray, codes: np.ndarray, mu: np.ndarray, pi: np.ndarray, k: int, clip: float
) -> list[tuple[float, float]]:
    """Cross-fitted AIPW: regime ``j``'s gap over ``i`` and its influence-function SE, per pair."""
    n = len(y)
    weights = np.clip(pi, clip, None)
    rows = np.arange(n)
    correction = np.zeros((n, k))
    correction[rows, codes] = (y - mu[rows, codes]) / weights[rows, codes]
    out = []
    for i, j in regime_pairs(k):
        psi = mu[:, j] - mu[:, i] + correction[:, j] - correction[:, i]
        out.append((float(psi.mean()), float(psi.std(ddof=1) / math.sqrt(n))))
    return out


def binned_curve(
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
    if is_text(column):
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
