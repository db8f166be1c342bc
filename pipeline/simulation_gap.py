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

The direct test's estimand
--------------------------
:func:`exact_theta` gives what the direct test's gap estimators estimate
(:mod:`mesalens.pipeline.alignment_gap`): the gap averaged over the
*pooled* distribution of ``Y_m`` (half the rows in each regime, as
:meth:`sample` draws them),

.. math::  θ = \sum_{l} \tfrac12 E_l\bigl[μ_1(Y_m) - μ_0(Y_m)\bigr],
           \qquad μ_l(y) = E[Y_b \mid Y_m = y, s = l],

in ``Y_b``'s units (:attr:`ThetaValue.theta`), with
:attr:`ThetaValue.scale` the pooled within-regime SD of ``Y_b`` defined as
above. How (:attr:`ThetaValue.method`):

``analytic``
    Linear-Gaussian models (the confounded family's included): ``μ_1 - μ_0``
    is the constant :meth:`~mesalens.connectors.random_scm.RandomSCM.alignment_gap`,
    so ``θ`` is that constant, exactly.
``zero``
    The criterion holds in the true DAG, or ``δ = 0``: ``θ = 0`` exactly.
``enumerated``
    All-discrete models: the sum over ``Y_m``'s levels of the pooled
    probability times ``μ_1 - μ_0``, from the joint table, exactly.
``monte-carlo``
    The nonlinear and mixed families. A *conditional* Monte Carlo: given
    every node but the objectives (``W``), ``Y_m``'s density (or level
    probabilities) ``f_l(y | W)`` and ``E[Y_b | Y_m = y, W, s = l]`` are
    known in closed form from the mechanisms, so with ``W`` sampled
    (:data:`THETA_ROWS` = 100,000 rows per regime) ``μ_l(y) =
    E_l[f_l(y | W) E[Y_b | y, W, l]] / E_l[f_l(y | W)]`` on a grid of
    ``y`` (spacing an eighth of ``Y_m``'s noise SD; trapezoid rule), and
    the noise of ``Y_m`` and ``Y_b`` is integrated out exactly. Its
    Monte-Carlo error (:attr:`ThetaValue.mc_error`, the spread of the
    estimate over 8 disjoint batches of ``W``, divided by ``√8``) is of
    the order of 0.001-0.005 SD of ``Y_b`` (``bench/bench_gap_coverage.py``
    reports it per model); the bias of the ratio is of smaller order.

The gap pointwise
-----------------
:func:`exact_curve` gives ``gap(y)`` itself as a function (a
:class:`GapCurve`), by the same methods: a constant for linear-Gaussian
models, per level from the joint table for all-discrete ones, and
``μ_1 - μ_0`` on the conditional Monte Carlo's grid otherwise (read between
grid points by linear interpolation; error per point from the 8 batches).
It is what the pointwise gaps of :mod:`mesalens.pipeline.pointwise_gap`
estimate, and ``bench/bench_gap_coverage.py`` checks their intervals
against it at the points they were read at.
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
    "THETA_ROWS",
    "GapCurve",
    "GapSummary",
    "ThetaValue",
    "enumerated_gap",
    "exact_curve",
    "exact_gap",
    "exact_theta",
    "monte_carlo_gap",
]

#: Rows per regime of the Monte-Carlo sample of the true model.
MONTE_CARLO_ROWS = 200_000
#: Where a continuous Y_m's gap is read: these quantiles of its train distribution.
DECILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
#: A discrete Y_m's levels with less train probability are left out.
MIN_LEVEL_SHARE = 0.05
#: Rows per regime of the conditional Monte-Carlo sample behind :func:`exact_theta`.
THETA_ROWS = 100_000
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


# ------------------------------------------------------------------ the direct test's estimand


@dataclass(frozen=True)
class ThetaValue:
    """The exact value of the direct test's estimand ``θ`` for one model and shift.

    Attributes
    ----------
    theta : float
        ``θ`` in ``Y_b``'s own units (the units of the direct test's gaps).
    scale : float
        The pooled within-regime SD of ``Y_b``,
        ``sqrt((Var(Y_b | train) + Var(Y_b | deploy)) / 2)``: ``θ / scale``
        is in the units of a tolerance given in SDs.
    mc_error : float
        The Monte-Carlo standard error of ``theta`` (0 when exact).
    method : str
        One of :data:`GAP_METHODS`.
    """

    theta: float
    scale: float
    mc_error: float
    method: str

    @property
    def theta_sd(self) -> float:
        """``θ`` in pooled within-regime SDs of ``Y_b``."""
        return self.theta / self.scale if self.scale > 0 else float("nan")


_BATCHES = 8
_CHUNK = 8_192
_GRID_STEPS_PER_SD = 8
_GRID_MARGIN_SDS = 5.0


def _enumerated_theta(scm: AdditiveSCM, strength: float) -> ThetaValue:
    m, b = scm.nodes.index(MESA), scm.nodes.index(BASE)
    masses, means, variances = [], [], []
    for deployed in (False, True):
        configurations, probabilities = scm.joint(strength, deployed)
        y_m, y_b = configurations[:, m], configurations[:, b]
        levels = np.arange(int(scm.levels[m]))
        mass = np.array([probabilities[y_m == y].sum() for y in levels])
        masses.append(mass)
        means.append(np.array([(probabilities * y_b)[y_m == y].sum() for y in levels]) / mass)
        mean = float(probabilities @ y_b)
        variances.append(float(probabilities @ (y_b * y_b)) - mean * mean)
    pooled = (masses[0] + masses[1]) / 2
    theta = float(pooled @ (means[1] - means[0]))
    return ThetaValue(theta, float(np.sqrt(sum(variances) / 2)), 0.0, "enumerated")


def _signals(scm: AdditiveSCM, values: np.ndarray) -> np.ndarray:
    """Each node's signal (standardized value or centred level code), as its children read it."""
    signals = (values - scm.centre) / scm.scale
    for j in np.flatnonzero(scm.levels):
        if j:
            signals[:, j] = scm._code_signal(j, values[:, j])
    return signals


def _conditional_parts(
    scm: AdditiveSCM,
    strength: float,
    deployed: int,
    signals: np.ndarray,
    grid: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per grid point ``y``: ``Σ_W f_l(y | W)`` and ``Σ_W f_l(y | W) E[Y_b | y, W, l]``.

    ``signals`` are the sampled ``W`` rows (every node's signal; the
    objectives' columns are overwritten here). ``f_l`` is ``Y_m``'s density
    (continuous) or level probability (discrete) given its parents.
    """
    m, b = scm.nodes.index(MESA), scm.nodes.index(BASE)
    rows = len(signals)
    regime = np.full(rows, float(deployed))
    eta_m = scm._parent_term(m, signals)
    if scm.levels[m]:
        density = scm._level_probabilities(m, eta_m, regime, strength)[:, grid.astype(int)]
        y_signal = scm._code_signal(m, grid)
    else:
        mean = eta_m + strength * scm.direction[m] * scm.scale[m] * deployed
        sd = scm.noise[m]
        density = np.exp(-0.5 * ((grid[None, :] - mean[:, None]) / sd) ** 2) / sd
        y_signal = (grid - scm.centre[m]) / scm.scale[m]
    # E[Y_b | Y_m = y, W, l]: Y_b's parent term is additive, so only Y_m's own term moves
    # with y: η_b(y, W) = η_b(W with Y_m's signal 0) + own(y) - own(0).
    without = signals.copy()
    without[:, m] = 0.0
    rest = scm._parent_term(b, without)
    at_grid = np.zeros((len(grid), signals.shape[1]))
    at_grid[:, m] = y_signal
    own = scm._parent_term(b, at_grid) - scm._parent_term(b, np.zeros_like(at_grid))
    if scm.levels[b]:
        k = int(scm.levels[b])
        expected = np.empty((rows, len(grid)))
        for g, term in enumerate(own):
            expected[:, g] = scm._level_probabilities(b, rest + term, regime, strength) @ np.arange(
                k
            )
    else:
        shift = strength * scm.direction[b] * scm.scale[b] * deployed
        expected = (rest + shift)[:, None] + own[None, :]
    return density.sum(axis=0), (density * expected).sum(axis=0)


def _conditional_sums(
    scm: AdditiveSCM, strength: float, seed: int | Sequence[int], rows: int, *, zero: bool
) -> tuple[float, np.ndarray | None, np.ndarray | None]:
    """``Y_b``'s pooled within-regime SD, ``Y_m``'s grid and the per-batch sums behind ``μ_l``.

    The sums have shape ``(regime, batch, {Σf, Σf·E}, grid)``; with ``zero`` only
    the SD is computed (grid and sums None).
    """
    m, b = scm.nodes.index(MESA), scm.nodes.index(BASE)
    n = len(scm.nodes)
    rng = np.random.default_rng(seed)
    samples = []
    for deployed in (0, 1):
        regime = np.full(rows, float(deployed))
        values = scm._propagate(
            float(strength), regime, rng.standard_normal((rows, n)), rng.random((rows, n))
        )
        samples.append(values)
    scale = float(np.sqrt(sum(float(values[:, b].var()) for values in samples) / 2))
    if zero:
        return scale, None, None
    if scm.levels[m]:
        grid = np.arange(int(scm.levels[m]), dtype=float)
    else:
        pooled = np.concatenate([values[:, m] for values in samples])
        sd = float(scm.noise[m])
        low = pooled.min() - _GRID_MARGIN_SDS * sd
        high = pooled.max() + _GRID_MARGIN_SDS * sd
        grid = np.linspace(low, high, int(np.ceil((high - low) / sd * _GRID_STEPS_PER_SD)) + 1)
    # Per regime and batch: Σ f and Σ f·E over that batch's W rows.
    sums = np.zeros((2, _BATCHES, 2, len(grid)))
    batch_of = np.arange(rows) * _BATCHES // rows
    for deployed, values in enumerate(samples):
        signals = _signals(scm, values)
        for start in range(0, rows, _CHUNK):
            part = slice(start, min(start + _CHUNK, rows))
            for batch in np.unique(batch_of[part]):
                chosen = np.arange(part.start, part.stop)[batch_of[part] == batch]
                density, weighted = _conditional_parts(
                    scm, float(strength), deployed, signals[chosen], grid
                )
                sums[deployed, batch, 0] += density
                sums[deployed, batch, 1] += weighted
    return scale, grid, sums


def _curve_of(total: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``μ_1 - μ_0`` on the grid and the regimes' ``Σf``, from ``(regime, {Σf, Σf·E}, grid)``."""
    p0, p1 = total[0, 0], total[1, 0]
    mu0 = np.divide(total[0, 1], p0, out=np.zeros_like(p0), where=p0 > 0)
    mu1 = np.divide(total[1, 1], p1, out=np.zeros_like(p1), where=p1 > 0)
    return mu1 - mu0, p0, p1


def _monte_carlo_theta(
    scm: AdditiveSCM, strength: float, seed: int | Sequence[int], rows: int, *, zero: bool
) -> ThetaValue:
    m = scm.nodes.index(MESA)
    scale, grid, sums = _conditional_sums(scm, strength, seed, rows, zero=zero)
    if grid is None or sums is None:
        return ThetaValue(0.0, scale, 0.0, "zero")

    def theta_of(total: np.ndarray) -> float:
        # total: (regime, {Σf, Σf·E}, grid), each regime's sums over the same number of rows.
        difference, p0, p1 = _curve_of(total)
        pooled_density = (p0 + p1) / 2
        integrand = pooled_density * difference
        if scm.levels[m]:
            return float(integrand.sum() / pooled_density.sum())
        return float(np.trapezoid(integrand, grid) / np.trapezoid(pooled_density, grid))

    theta = theta_of(sums.sum(axis=1))
    by_batch = [theta_of(sums[:, batch]) for batch in range(_BATCHES)]
    error = float(np.std(by_batch, ddof=1) / np.sqrt(_BATCHES))
    return ThetaValue(theta, scale, error, "monte-carlo")


def exact_theta(
    scm: RandomSCM | AdditiveSCM,
    strength: float,
    *,
    holds: bool,
    seed: int | Sequence[int],
    rows: int = THETA_ROWS,
) -> ThetaValue:
    """The exact value of the direct test's estimand ``θ`` (see the module docstring).

    Parameters
    ----------
    scm : RandomSCM or AdditiveSCM
        The true model.
    strength : float
        The shift strength ``δ``.
    holds : bool
        Whether the criterion holds in the true DAG (``θ`` is then zero).
    seed : int or sequence of int
        Seed of the Monte-Carlo sample, when one is needed (the nonlinear
        and mixed families).
    rows : int
        Rows per regime of that sample.

    Returns
    -------
    ThetaValue

    Examples
    --------
    >>> from mesalens.connectors.random_scm import SCMFamily
    >>> scm = SCMFamily(nodes=6).draw(seed=[0, 3])
    >>> value = exact_theta(scm, 0.5, holds=False, seed=0)
    >>> value.method, round(value.theta_sd - scm.alignment_gap(0.5), 12)
    ('analytic', 0.0)
    """
    if isinstance(scm, RandomSCM):
        b = scm.nodes.index(BASE)
        scale = float(np.sqrt(scm.within_covariance()[b, b]))
        theta = 0.0 if holds or strength == 0 else scm.alignment_gap(strength) * scale
        return ThetaValue(theta, scale, 0.0, "zero" if theta == 0.0 else "analytic")
    if isinstance(scm, AdditiveSCM) and scm.enumerable:
        value = _enumerated_theta(scm, strength)
        if holds or strength == 0:
            return ThetaValue(0.0, value.scale, 0.0, "zero")
        return value
    return _monte_carlo_theta(scm, strength, seed, rows, zero=holds or strength == 0)


# ------------------------------------------------------------------ the gap pointwise


@dataclass(frozen=True)
class GapCurve:
    """The exact gap ``Δ(y) = μ_1(y) - μ_0(y)`` of one model and shift, in ``Y_b``'s units.

    What the pointwise gap of :mod:`mesalens.pipeline.pointwise_gap` estimates.

    Attributes
    ----------
    grid : numpy.ndarray
        Values of ``Y_m`` (its levels when discrete; empty when ``Δ`` is a constant).
    gap : numpy.ndarray
        ``Δ`` on the grid (or the constant, one value).
    mc_error : numpy.ndarray
        Its Monte-Carlo standard error on the grid (zeros when exact).
    scale : float
        The pooled within-regime SD of ``Y_b``.
    method : str
        One of :data:`GAP_METHODS`.
    discrete : bool
        Whether ``Y_m`` is discrete (read at its levels, not interpolated).
    """

    grid: np.ndarray
    gap: np.ndarray
    mc_error: np.ndarray
    scale: float
    method: str
    discrete: bool = False

    def at(self, values: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
        """``Δ`` and its Monte-Carlo error at ``values`` (linear interpolation on the grid)."""
        values = np.asarray(values, dtype=float)
        if not len(self.grid):
            return np.full(len(values), float(self.gap[0])), np.zeros(len(values))
        if self.discrete:
            index = np.searchsorted(self.grid, values)
            return self.gap[index], self.mc_error[index]
        return (
            np.interp(values, self.grid, self.gap),
            np.interp(values, self.grid, self.mc_error),
        )


def exact_curve(
    scm: RandomSCM | AdditiveSCM,
    strength: float,
    *,
    holds: bool,
    seed: int | Sequence[int],
    rows: int = THETA_ROWS,
) -> GapCurve:
    """The exact gap as a function of ``Y_m``'s value (same methods as :func:`exact_theta`).

    Linear-Gaussian models: the constant
    :meth:`~mesalens.connectors.random_scm.RandomSCM.alignment_gap`; all-discrete
    models: per level from the joint table; otherwise the conditional Monte
    Carlo of :func:`exact_theta` (``μ_l`` on its grid, an eighth of ``Y_m``'s
    noise SD apart; the error per point is the spread over 8 batches / √8).

    >>> from mesalens.connectors.random_scm import SCMFamily
    >>> scm = SCMFamily(nodes=6).draw(seed=[0, 3])
    >>> curve = exact_curve(scm, 0.5, holds=False, seed=0)
    >>> value, _ = curve.at([0.0, 3.0])
    >>> curve.method, bool(abs(value[0] / curve.scale - scm.alignment_gap(0.5)) < 1e-12)
    ('analytic', True)
    """
    empty = np.zeros(0)
    if isinstance(scm, RandomSCM):
        theta = exact_theta(scm, strength, holds=holds, seed=seed)
        return GapCurve(empty, np.array([theta.theta]), np.zeros(1), theta.scale, theta.method)
    m = scm.nodes.index(MESA)
    discrete = bool(scm.levels[m])
    zero = holds or strength == 0
    if scm.enumerable:
        value = _enumerated_theta(scm, strength)
        if zero:
            return GapCurve(empty, np.zeros(1), np.zeros(1), value.scale, "zero")
        means, masses = [], []
        b = scm.nodes.index(BASE)
        for deployed in (False, True):
            configurations, probabilities = scm.joint(strength, deployed)
            y_m, y_b = configurations[:, m], configurations[:, b]
            levels = np.arange(int(scm.levels[m]))
            mass = np.array([probabilities[y_m == y].sum() for y in levels])
            masses.append(mass)
            means.append(np.array([(probabilities * y_b)[y_m == y].sum() for y in levels]) / mass)
        gap = means[1] - means[0]
        grid = np.arange(len(gap), dtype=float)
        return GapCurve(grid, gap, np.zeros(len(gap)), value.scale, "enumerated", True)
    scale, grid, sums = _conditional_sums(scm, strength, seed, rows, zero=zero)
    if grid is None or sums is None:
        return GapCurve(empty, np.zeros(1), np.zeros(1), scale, "zero")
    gap = _curve_of(sums.sum(axis=1))[0]
    batches = np.array([_curve_of(sums[:, batch])[0] for batch in range(_BATCHES)])
    error = batches.std(axis=0, ddof=1) / np.sqrt(_BATCHES)
    return GapCurve(grid, gap, error, scale, "monte-carlo", discrete)
