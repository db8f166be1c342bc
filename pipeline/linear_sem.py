r"""The linear-Gaussian SEM of a σ-graph: its least-squares fit and the effects it implies.

Each node is regressed on its parents, from a covariance matrix and ``n``
(:func:`fit_linear_sem`); on the fit, the total effects
``T = (I - B)^{-1}``, the regime's direct effect on ``Y_b`` avoiding ``Y_m``
(:func:`direct_effect`), the gap at fixed ``Y_m`` (:func:`gap`,
:func:`implied_gap`) and its line in λ (:func:`gap_line`), with the delta
method's standard errors. :mod:`mesalens.pipeline.sensitivity` says what
these quantities mean and runs them over the σ-graphs of a class.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["LinearSem", "direct_effect", "fit_linear_sem", "gap", "gap_line", "implied_gap"]


@dataclass(frozen=True)
class LinearSem:
    """A linear SEM fitted on one σ-graph, over the model's columns.

    Attributes
    ----------
    columns : tuple of str
        The model's columns: the regime indicators (``"regime=deploy"``) and
        one column per other node.
    exogenous : tuple of int
        The positions of the regime indicators (no equation: their joint
        covariance is the data's).
    coefficients : ndarray of shape (q, q)
        ``B[i, j]``, the coefficient of column ``i`` in column ``j``'s equation.
    noise : ndarray of shape (q,)
        ``ω_j``, the residual variance of each equation (the indicators' rows
        are unused).
    parents : tuple of tuple of int
        Each column's regressors (positions).
    coefficient_covariance : tuple of ndarray
        The asymptotic covariance of each equation's coefficients.
    noise_variance : ndarray of shape (q,)
        The asymptotic variance of each ``ω_j`` (``2 ω_j² / dof``).
    indicator_covariance : ndarray
        The covariance of the regime indicators.
    """

    columns: tuple[str, ...]
    exogenous: tuple[int, ...]
    coefficients: np.ndarray
    noise: np.ndarray
    parents: tuple[tuple[int, ...], ...]
    coefficient_covariance: tuple[np.ndarray, ...]
    noise_variance: np.ndarray
    indicator_covariance: np.ndarray

    def total_effects(self, coefficients: np.ndarray | None = None) -> np.ndarray:
        """``T = (I - B)^{-1}``: ``T[u, v]`` sums coefficient products over paths u ⇝ v."""
        b = self.coefficients if coefficients is None else coefficients
        return np.linalg.inv(np.eye(len(b)) - b)

    def conditional_covariance(
        self, coefficients: np.ndarray | None = None, noise: np.ndarray | None = None
    ) -> np.ndarray:
        """The covariance of all columns given the regime (``T^T Ω T``; indicator rows zero)."""
        b = self.coefficients if coefficients is None else coefficients
        omega = np.array(self.noise if noise is None else noise, dtype=float)
        omega[list(self.exogenous)] = 0.0
        t = self.total_effects(b)
        return t.T @ np.diag(omega) @ t

    def joint_covariance(self) -> np.ndarray:
        """The implied covariance of all columns, regime indicators included."""
        psi = np.diag(np.array(self.noise, dtype=float))
        ex = list(self.exogenous)
        psi[np.ix_(ex, ex)] = self.indicator_covariance
        t = self.total_effects()
        return t.T @ psi @ t


def fit_linear_sem(
    covariance: np.ndarray,
    n: int,
    columns: Sequence[str],
    exogenous: Sequence[int],
    parents: Sequence[Sequence[int]],
) -> LinearSem:
    """Fit a linear SEM by least squares from a covariance matrix.

    Parameters
    ----------
    covariance : ndarray of shape (q, q)
        The (unbiased) covariance of the model's columns.
    n : int
        The number of rows it was computed from.
    columns : sequence of str
        The column names (for the result).
    exogenous : sequence of int
        Columns without an equation (the regime indicators).
    parents : sequence of sequence of int
        The regressors of each column (ignored for the exogenous ones).

    Returns
    -------
    LinearSem
        Coefficients ``B[i, j] = (C_PP^{-1} C_Pj)_i``, residual variances
        ``ω_j = C_jj - C_jP B_Pj`` and their asymptotic (co)variances.
    """
    q = len(columns)
    b = np.zeros((q, q))
    omega = np.zeros(q)
    coefficient_cov: list[np.ndarray] = []
    omega_var = np.zeros(q)
    exo = set(exogenous)
    for j in range(q):
        pa = list(parents[j]) if j not in exo else []
        if j in exo:
            coefficient_cov.append(np.zeros((0, 0)))
            omega[j] = covariance[j, j]
            continue
        if pa:
            c_pp = covariance[np.ix_(pa, pa)]
            # lstsq rather than solve: collinear parents (a degenerate fit)
            # get the minimum-norm coefficients instead of an error.
            beta = np.linalg.lstsq(c_pp, covariance[pa, j], rcond=None)[0]
            b[pa, j] = beta
            omega[j] = max(covariance[j, j] - covariance[j, pa] @ beta, 0.0)
            dof = max(n - len(pa) - 1, 1)
            coefficient_cov.append(omega[j] / dof * np.linalg.pinv(c_pp))
        else:
            omega[j] = covariance[j, j]
            dof = max(n - 1, 1)
            coefficient_cov.append(np.zeros((0, 0)))
        omega_var[j] = 2.0 * omega[j] ** 2 / dof
    ex = list(exogenous)
    return LinearSem(
        columns=tuple(columns),
        exogenous=tuple(exogenous),
        coefficients=b,
        noise=omega,
        parents=tuple(tuple(p) if j not in exo else () for j, p in enumerate(parents)),
        coefficient_covariance=tuple(coefficient_cov),
        noise_variance=omega_var,
        indicator_covariance=covariance[np.ix_(ex, ex)],
    )


def _standard_error(sem: LinearSem, grad_b: np.ndarray, grad_w: np.ndarray) -> float:
    """The delta-method standard error from the gradient in ``B`` and in ``ω``.

    The equations' estimates are asymptotically independent (a Gaussian DAG
    model's likelihood factorises over them), so the variance is a sum over
    equations of ``g^T Cov(β̂_j) g`` and ``(∂/∂ω_j)² Var(ω̂_j)``.
    """
    variance = 0.0
    for j, pa in enumerate(sem.parents):
        if j in sem.exogenous:
            continue
        if pa:
            g = grad_b[list(pa), j]
            variance += float(g @ sem.coefficient_covariance[j] @ g)
        variance += float(grad_w[j]) ** 2 * float(sem.noise_variance[j])
    return float(np.sqrt(max(variance, 0.0)))


def direct_effect(
    sem: LinearSem, source: int, base: int, mesa: Sequence[int]
) -> tuple[float, float]:
    """The regime's effect on ``base`` along paths avoiding ``mesa``, and its standard error.

    ``T'_{source, base}`` with ``T' = (I - B')^{-1}`` and ``B'`` = ``B``
    without the edges out of the mesa columns; ``∂T'_{sb} / ∂B_{ij} =
    T'_{si} T'_{jb}`` for every edge that is kept.
    """
    pruned = sem.coefficients.copy()
    pruned[list(mesa), :] = 0.0
    t = sem.total_effects(pruned)
    grad_b = np.outer(t[source], t[:, base])
    grad_b[list(mesa), :] = 0.0
    return float(t[source, base]), _standard_error(sem, grad_b, np.zeros(len(t)))


def gap(sem: LinearSem, source: int, base: int, mesa: Sequence[int]) -> tuple[float, float]:
    """The gap ``E[base | mesa, s = source] - E[base | mesa, s = 0]`` and its standard error.

    With ``T = (I - B)^{-1}``, ``Σ = T^T Ω T`` (the covariance given the
    regime), ``k = Σ_{mm}^{-1} Σ_{mb}`` and ``w = e_b - e_m k``, the gap is
    ``e_s^T T w``. Its gradient, for ``a = e_m Σ_{mm}^{-1} Δ_m`` with
    ``Δ = T^T e_s``: ``∂/∂B_{ij} = T_{si} (Tw)_j - (Σw)_i (Ta)_j - (Σa)_i (Tw)_j``
    and ``∂/∂ω_j = -(Ta)_j (Tw)_j``.
    """
    mesa = list(mesa)
    t = sem.total_effects()
    sigma = sem.conditional_covariance()
    sigma_mm = sigma[np.ix_(mesa, mesa)]
    k = np.linalg.lstsq(sigma_mm, sigma[mesa, base], rcond=None)[0]
    w = np.zeros(len(t))
    w[base] = 1.0
    w[mesa] -= k
    delta = t[source]
    a = np.zeros(len(t))
    a[mesa] = np.linalg.lstsq(sigma_mm, delta[mesa], rcond=None)[0]
    tw, ta = t @ w, t @ a
    grad_b = np.outer(delta, tw) - np.outer(sigma @ w, ta) - np.outer(sigma @ a, tw)
    grad_w = -ta * tw
    return float(delta @ w), _standard_error(sem, grad_b, grad_w)


def gap_line(
    sem: LinearSem, source: int, base: int, mesa: Sequence[int], scale: float
) -> tuple[float, np.ndarray]:
    """The gap at λ = ``scale`` from the implied Gaussians of both regimes, and the slope change.

    The regime's coefficients (the rows of ``B`` for the indicators) are
    scaled; given the regime, the columns are Gaussian with mean shifted by
    ``T_{source, ·}`` and a covariance that does not involve those
    coefficients, so the conditional mean of ``base`` given ``mesa`` moves by
    the same amount at every value of ``mesa``: the gap is evaluated at any
    point (the pooled mean) and the slope change is zero.
    """
    mesa = list(mesa)
    scaled = sem.coefficients.copy()
    scaled[list(sem.exogenous), :] *= scale
    shift = sem.total_effects(scaled)[source]
    sigma = sem.conditional_covariance()
    slope = np.linalg.lstsq(sigma[np.ix_(mesa, mesa)], sigma[mesa, base], rcond=None)[0]
    # E[base | mesa = y] = μ_b + slope (y - μ_m) in each regime, with the same slope.
    deploy_slope, reference_slope = slope, slope
    return float(shift[base] - slope @ shift[mesa]), deploy_slope - reference_slope


def implied_gap(sem: LinearSem, source: int, base: int, mesa: Sequence[int]) -> float:
    """The fitted model's gap: the regime indicator's coefficient in E[base | mesa, regime].

    Computed from the implied joint covariance of all columns (a separate
    route from the λ curve, which it must meet at λ = 1).
    """
    sigma = sem.joint_covariance()
    given = [*mesa, *sem.exogenous]
    coef = np.linalg.lstsq(sigma[np.ix_(given, given)], sigma[given, base], rcond=None)[0]
    return float(coef[len(mesa) + list(sem.exogenous).index(source)])
