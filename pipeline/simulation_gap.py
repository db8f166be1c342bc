r"""The exact alignment gap of a simulated agent model, summarised as one number.

The *alignment gap* of a model at shift ``δ`` is a function of ``Y_m``'s value ``y``:

    gap(y) = E[Y_b | Y_m = y, deploy] - E[Y_b | Y_m = y, train]

It is zero for every ``y`` when ``Y_b ⊥ s | Y_m``; issue 13's tolerance is a
bound on it in within-regime SDs of ``Y_b``. :func:`exact_gap` summarises it
per model and shift:

* **where it is read**: at the deciles 10%, 20%, ..., 90% of ``Y_m``'s train
  distribution when ``Y_m`` is continuous, at each level of ``Y_m`` with train
  probability at least 5% when it is discrete. The points follow the training
  distribution (each decile carries a tenth of it), and its thin tails,
  where few logged rows could ever show a gap, are left out.
* **the summary**: ``gap(y*)`` at the point ``y*`` where ``|gap|`` is
  largest, signed, in ``Y_b``'s own units (:attr:`GapSummary.gap_units`)
  and divided by the pooled within-regime SD of ``Y_b``,
  ``sqrt((Var(Y_b | train) + Var(Y_b | deploy)) / 2)``
  (:attr:`GapSummary.gap`, the units of the tolerance). For a binary ``Y_b``
  the gap is a difference of success probabilities.

How it is computed (:attr:`GapSummary.method`):

``analytic``
    Linear-Gaussian models, the confounded family's included
    (:class:`~mesalens.connectors.random_scm.RandomSCM`): ``gap(y)`` is a
    constant, :meth:`~mesalens.connectors.random_scm.RandomSCM.alignment_gap`.
``zero``
    The true DAG d-separates the regime from ``Y_b`` given ``Y_m`` (the
    criterion holds), or ``δ = 0``: ``gap(y) = 0`` for every ``y`` exactly
    (the Markov property), nothing to estimate.
``enumerated``
    All-discrete models (the discrete family): exact, from the CPTs, by
    summing the joint table
    (:meth:`~mesalens.connectors.additive_scm.AdditiveSCM.joint`).
``monte-carlo``
    Otherwise (the nonlinear and mixed families): from
    :data:`MONTE_CARLO_ROWS` = 200,000 rows per regime sampled from the true
    model with a fixed seed (the study passes ``[seed, replicate, 1]``). For
    a discrete ``Y_m``, ``E[Y_b | Y_m = y]`` is the mean in each level; for
    a continuous one, a least-squares cubic spline of ``Y_b`` on ``Y_m`` per
    regime (knots at the train quantiles 10, 25, 50, 75 and 90%), evaluated
    at the deciles. Its standard error is about 0.01 within-regime SD of
    ``Y_b`` per point, so ``|gap|`` is biased up by about 0.01-0.02 SD (the
    largest of nine noisy values).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mesalens.connectors.additive_scm import AdditiveSCM
from mesalens.connectors.agent_graph import BASE, MESA
from mesalens.connectors.random_scm import RandomSCM

__all__ = [
    "DECILES",
    "GAP_METHODS",
    "MIN_LEVEL_SHARE",
    "MONTE_CARLO_ROWS",
    "GapSummary",
    "enumerated_gap",
    "exact_gap",
    "monte_carlo_gap",
]

#: Rows per regime of the Monte-Carlo sample of the true model.
MONTE_CARLO_ROWS = 200_000
#: Where a continuous Y_m's gap is read: these quantiles of its train distribution.
DECILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
#: A discrete Y_m's levels with less train probability are left out.
MIN_LEVEL_SHARE = 0.05
#: The values of :attr:`GapSummary.method`.
GAP_METHODS = ("analytic", "zero", "enumerated", "monte-carlo")

_KNOTS = (0.1, 0.25, 0.5, 0.75, 0.9)


@dataclass(frozen=True)
class GapSummary:
    """One model's alignment gap at one shift (see the module docstring).

    Attributes
    ----------
    gap : float
        ``gap(y*)`` in pooled within-regime SDs of ``Y_b`` (signed).
    gap_units : float
        ``gap(y*)`` in ``Y_b``'s own units.
    method : str
        One of :data:`GAP_METHODS`.
    """

    gap: float
    gap_units: float
    method: str


def _largest(gaps: Sequence[float], var_train: float, var_deploy: float, method: str) -> GapSummary:
    """The summary of the gaps read at the points: the one of largest magnitude."""
    values = np.asarray(gaps, dtype=float)
    values = values[np.isfinite(values)]
    if not len(values):
        return GapSummary(float("nan"), float("nan"), method)
    largest = float(values[np.argmax(np.abs(values))])
    pooled = float(np.sqrt((var_train + var_deploy) / 2))
    return GapSummary(largest / pooled, largest, method)


def enumerated_gap(scm: AdditiveSCM, strength: float) -> GapSummary:
    """The exact gap summary of an all-discrete model, from its joint table."""
    m, b = scm.nodes.index(MESA), scm.nodes.index(BASE)
    by_regime = []
    for deployed in (False, True):
        configurations, probabilities = scm.joint(strength, deployed)
        y_m, y_b = configurations[:, m], configurations[:, b]
        levels = np.arange(int(scm.levels[m]))
        mass = np.array([probabilities[y_m == y].sum() for y in levels])
        means = np.array([(probabilities * y_b)[y_m == y].sum() for y in levels]) / mass
        mean = float(probabilities @ y_b)
        variance = float(probabilities @ (y_b * y_b)) - mean * mean
        by_regime.append((mass, means, variance))
    (train_mass, train_means, var_train), (_, deploy_means, var_deploy) = by_regime
    shown = train_mass >= MIN_LEVEL_SHARE
    return _largest((deploy_means - train_means)[shown], var_train, var_deploy, "enumerated")


def _spline_basis(t: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """A cubic regression spline's truncated-power basis at ``t``."""
    columns = [np.ones_like(t), t, t * t, t**3]
    columns += [np.clip(t - k, 0, None) ** 3 for k in knots]
    return np.column_stack(columns)


def monte_carlo_gap(
    scm: RandomSCM | AdditiveSCM,
    strength: float,
    seed: int | Sequence[int],
    rows: int = MONTE_CARLO_ROWS,
) -> GapSummary:
    """The gap summary from ``rows`` sampled rows per regime of the true model.

    Parameters
    ----------
    scm : RandomSCM or AdditiveSCM
        The model (anything with ``sample(strength, rows, seed)``).
    strength : float
        The shift strength ``δ``.
    seed : int or sequence of int
        Seed of the sample.
    rows : int
        Rows per regime.

    Returns
    -------
    GapSummary
        With method ``"monte-carlo"``.
    """
    frames = scm.sample(strength, 2 * rows, seed)
    train, deploy = frames["train"], frames["deploy"]
    var_train, var_deploy = float(train[BASE].var()), float(deploy[BASE].var())
    if pd.api.types.is_integer_dtype(train[MESA]):
        shares = train[MESA].value_counts(normalize=True)
        levels = sorted(y for y, share in shares.items() if share >= MIN_LEVEL_SHARE)
        train_means = train.groupby(MESA)[BASE].mean()
        deploy_means = deploy.groupby(MESA)[BASE].mean()
        gaps = [deploy_means.get(y, np.nan) - train_means[y] for y in levels]
        return _largest(gaps, var_train, var_deploy, "monte-carlo")
    centre, scale = float(train[MESA].mean()), float(train[MESA].std())
    knots = (np.quantile(train[MESA], _KNOTS) - centre) / scale
    points = (np.quantile(train[MESA], DECILES) - centre) / scale
    fitted = []
    for frame in (train, deploy):
        t = (frame[MESA].to_numpy() - centre) / scale
        coefficients, *_ = np.linalg.lstsq(
            _spline_basis(t, knots), frame[BASE].to_numpy(), rcond=None
        )
        fitted.append(_spline_basis(points, knots) @ coefficients)
    return _largest(fitted[1] - fitted[0], var_train, var_deploy, "monte-carlo")


def exact_gap(
    scm: RandomSCM | AdditiveSCM,
    strength: float,
    *,
    holds: bool,
    seed: int | Sequence[int],
    rows: int = MONTE_CARLO_ROWS,
) -> GapSummary:
    """The model's gap summary at ``strength``, by the most exact method available.

    Parameters
    ----------
    scm : RandomSCM or AdditiveSCM
        The true model.
    strength : float
        The shift strength ``δ``.
    holds : bool
        Whether the criterion holds in the true DAG (d-separation: the gap
        is then exactly zero).
    seed : int or sequence of int
        Seed of the Monte-Carlo sample, when one is needed.
    rows : int
        Rows per regime of that sample.

    Returns
    -------
    GapSummary
    """
    if isinstance(scm, RandomSCM):
        gap = scm.alignment_gap(strength)
        b = scm.nodes.index(BASE)
        return GapSummary(gap, gap * float(np.sqrt(scm.within_covariance()[b, b])), "analytic")
    if holds or strength == 0:
        return GapSummary(0.0, 0.0, "zero")
    if isinstance(scm, AdditiveSCM) and scm.enumerable:
        return enumerated_gap(scm, strength)
    return monte_carlo_gap(scm, strength, seed, rows)
