r"""Sensitivity of the base objective to the regime shift, in a linear-Gaussian model.

The criterion (``spec/criterion.md``) is all-or-nothing: ``Y_m`` screens the
regime ``s`` off from ``Y_b`` in ``G_σ`` or it does not. The post behind
mesalens asks next, in its section 4, *how much* the base objective moves
when it does not: "assuming this is the mesa objective, how sensitive is
``Y_b`` to a small regime change in the data?" With a parametrisation of the
world this has a number. This module uses the simplest one, a linear
structural equation model (SEM) with Gaussian noise on each σ-graph of the
class:

.. math::

    X_j = c_j + \sum_{i ∈ pa_σ(j)} B_{ij} X_i + ε_j, \qquad ε_j \sim N(0, ω_j),

fitted by regressing every node on its parents in ``G_σ``. The logs were
produced under the trained policy σ, so they are samples of ``G_σ``'s
distribution. The regime, with levels ``0 .. k-1``, enters as the ``k - 1``
indicators of levels ``1 .. k-1``, so its effects are mean shifts measured
against the first regime (the *reference*, usually ``train``): each
*contrast* compares the reference with one other regime.

Everything is computed from the sufficient statistics
(:class:`~mesalens.pipeline.statistics.SufficientStatistics`): the covariance
of the expanded columns (regime indicators and continuous columns) and ``n``.

Two quantities are reported per σ-graph, for every contrast ``r`` and base
column ``b``:

**The direct effect.** The regime's effect on ``Y_b`` that does not pass
through ``Y_m``: the sum over directed paths ``s → … → Y_b`` that avoid
``Y_m`` of the products of their coefficients, i.e. the controlled direct
effect ``E[Y_b | do(s = r), do(Y_m = y)] - E[Y_b | do(s = 0), do(Y_m = y)]``.
With ``T' = (I - B')^{-1}``, where ``B'`` is ``B`` without the edges out of
``Y_m``, it is ``T'_{s_r, b}``. Its standard error is the delta method's,
with the usual asymptotic covariance of least-squares coefficients
(independent across equations in a Gaussian DAG model).

As in IDA (Maathuis, Kalisch & Bühlmann, "Estimating high-dimensional
intervention effects from observational data", Ann. Stat. 2009) the class
gives not one value but a *set* of possible values, one per distinct
σ-graph. The σ-graphs of Markov equivalent DAGs in which ``D_m`` has the
same parents are Markov equivalent (spec), so they imply the same fitted
distribution; the direct effect is a joint intervention on ``(s, Y_m)`` and
is determined by that distribution and the parent sets of ``s`` (empty: the
regime is a root) and ``Y_m`` (joint-IDA, Nandy, Maathuis & Richardson,
Ann. Stat. 2017). So the set is enumerated exactly by the valid parent sets
of ``D_m`` (the checker's table) and, within each, the valid parent sets of
``Y_m``, each with its exact DAG count.

**The λ curve.** How far ``E[Y_b | Y_m = y]`` under deployment departs from
training at fixed ``Y_m``, as the regime's mechanism changes (the
coefficients ``B_{s_r, j}`` of the edges out of ``s``) are scaled by
``λ ∈ [0, 1]``:

.. math::

    \mathrm{gap}(λ, y) = E_λ[Y_b | Y_m = y, s = r] - E[Y_b | Y_m = y, s = 0].

Given the regime, ``X`` is Gaussian with mean ``μ_0 + λ T_{s_r, ·}`` and a
covariance ``Σ`` that does not involve the regime's coefficients, so
``gap(λ, y) = λ (Δ_b - Σ_{bm} Σ_{mm}^{-1} Δ_m)`` with ``Δ = T_{s_r, ·}``:
zero at ``λ = 0``, linear in ``λ``, and the same at every ``y`` (the slope
change, reported, is 0 in this parametrisation: the regime only shifts
means). It is reported at ``y`` = the pooled mean of ``Y_m``. At ``λ = 1`` it
equals the gap the fitted model implies (the coefficient of the regime
indicator in the implied regression of ``Y_b`` on ``Y_m`` and the regime,
computed separately from the implied joint covariance). Where the criterion
holds in ``G_σ`` the fitted model satisfies ``Y_b ⊥ s | Y_m`` exactly, so the
curve is identically zero. Unlike the direct effect, the gap depends only on
the implied distribution, hence only on the parent set of ``D_m``.

Only continuous role variables fit this parametrisation: with a discrete
base, mesa or decision column the analysis is skipped with a note, as it is
for a discrete non-role column with more than two levels (a two-level one
enters as its 0/1 indicator).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mesalens.pipeline.check_result import CheckResult, ParentSetResult
from mesalens.pipeline.checker import PolicyPartCounter, valid_parent_sets
from mesalens.pipeline.errors import InputError
from mesalens.pipeline.graph import CausalGraph
from mesalens.pipeline.linear_sem import (
    LinearSem,
    direct_effect,
    fit_linear_sem,
    gap,
    gap_line,
    implied_gap,
)
from mesalens.pipeline.pdag import Pdag
from mesalens.pipeline.roles import Roles
from mesalens.pipeline.statistics import DISCRETE, SufficientStatistics

__all__ = [
    "DEFAULT_LAMBDAS",
    "MAX_MESA_PARENT_SETS",
    "Contrast",
    "DirectEffect",
    "ParentSetSensitivity",
    "SensitivityResult",
    "sensitivity_analysis",
]

#: The λ grid of the curves: 21 points from 0 to 1.
DEFAULT_LAMBDAS: tuple[float, ...] = tuple(k / 20 for k in range(21))

#: Per parent set of ``D_m``, at most this many parent sets of ``Y_m`` are visited.
MAX_MESA_PARENT_SETS = 64


# ----------------------------------------------------------------- results
@dataclass(frozen=True)
class DirectEffect:
    """The direct effect in the σ-graphs with given parents of ``D_m`` and ``Y_m``."""

    mesa_parents: dict[str, tuple[str, ...]]
    n_dags: int
    estimate: float
    standard_error: float


@dataclass(frozen=True)
class Contrast:
    """One regime contrast and base column within a parent set of ``D_m``.

    ``curve[k]`` is the gap at ``lambdas[k]`` at the pooled mean of ``Y_m``;
    its standard error is ``lambdas[k] * gap_standard_error``.
    """

    regime: str
    base: str
    direct_effects: tuple[DirectEffect, ...]
    gap: float
    gap_standard_error: float
    implied_gap: float
    slope_change: dict[str, float]
    curve: tuple[float, ...]


@dataclass(frozen=True)
class ParentSetSensitivity:
    """The fitted σ-graphs of one valid parent set of ``D_m``."""

    parents: dict[str, tuple[str, ...]]
    status: str
    n_dags: int
    complete: bool
    contrasts: tuple[Contrast, ...]


@dataclass(frozen=True)
class SensitivityResult:
    """The sensitivity analysis of a run, or why it was skipped.

    Attributes
    ----------
    status : str
        ``"done"`` or ``"skipped"``.
    notes : tuple of str
        Why it was skipped, or what the reader should know (columns treated
        as 0/1, tables cut short).
    reference_regime : str or None
        The regime every contrast is measured from (the first).
    regimes : tuple of str
        The other regimes, one contrast each.
    lambdas : tuple of float
        The λ grid of the curves.
    mesa_at : dict of str to float
        The pooled means of the mesa columns, where the gaps are evaluated.
    parent_sets : tuple of ParentSetSensitivity
        One per valid parent set of ``D_m`` in the checker's table.
    """

    status: str
    notes: tuple[str, ...] = ()
    reference_regime: str | None = None
    regimes: tuple[str, ...] = ()
    lambdas: tuple[float, ...] = DEFAULT_LAMBDAS
    mesa_at: dict[str, float] = field(default_factory=dict)
    parent_sets: tuple[ParentSetSensitivity, ...] = ()

    def possible_direct_effects(self, regime: str, base: str) -> list[tuple[float, int]]:
        """The IDA-style set: the distinct direct effects with their DAG counts, ascending.

        Values equal up to rounding (relative 1e-9: σ-graphs that imply the
        same effect through different regressions) are one value.
        """
        found = sorted(
            (effect.estimate, effect.n_dags)
            for entry in self.parent_sets
            for contrast in entry.contrasts
            if contrast.regime == regime and contrast.base == base
            for effect in contrast.direct_effects
        )
        merged: list[tuple[float, int]] = []
        for value, count in found:
            if merged and abs(value - merged[-1][0]) <= 1e-9 * max(1.0, abs(value)):
                merged[-1] = (merged[-1][0], merged[-1][1] + count)
            else:
                merged.append((value, count))
        return merged

    def as_dict(self) -> dict[str, Any]:
        """The ``"sensitivity"`` part of ``result.json`` (plain, JSON-ready values)."""
        parent_sets = []
        for entry in self.parent_sets:
            parent_sets.append(
                {
                    "parents": {d: sorted(p) for d, p in entry.parents.items()},
                    "status": entry.status,
                    "n_dags": int(entry.n_dags),
                    "complete": entry.complete,
                    "contrasts": [
                        {
                            "regime": c.regime,
                            "base": c.base,
                            "direct_effects": [
                                {
                                    "mesa_parents": {m: list(p) for m, p in e.mesa_parents.items()},
                                    "n_dags": int(e.n_dags),
                                    "estimate": e.estimate,
                                    "standard_error": e.standard_error,
                                }
                                for e in c.direct_effects
                            ],
                            "gap": c.gap,
                            "gap_standard_error": c.gap_standard_error,
                            "implied_gap": c.implied_gap,
                            "slope_change": dict(c.slope_change),
                            "curve": list(c.curve),
                        }
                        for c in entry.contrasts
                    ],
                }
            )
        possible = []
        bases = sorted({c.base for e in self.parent_sets for c in e.contrasts})
        for regime in self.regimes:
            for base in bases:
                possible.append(
                    {
                        "regime": regime,
                        "base": base,
                        "values": [
                            {"estimate": value, "n_dags": int(count)}
                            for value, count in self.possible_direct_effects(regime, base)
                        ],
                    }
                )
        return {
            "status": self.status,
            "model": (
                "linear-Gaussian SEM per σ-graph, fitted by least squares on the pooled logs; "
                "the regime enters as indicators of each regime against the reference"
            ),
            "notes": list(self.notes),
            "reference_regime": self.reference_regime,
            "regimes": list(self.regimes),
            "lambdas": list(self.lambdas),
            "mesa_at": dict(self.mesa_at),
            "parent_sets": parent_sets,
            "possible_direct_effects": possible,
        }


def _skipped(note: str) -> SensitivityResult:
    return SensitivityResult(status="skipped", notes=(note,))


# ----------------------------------------------------------------- the analysis
@dataclass(frozen=True)
class _Layout:
    """Where each graph node sits among the model's columns."""

    columns: tuple[str, ...]
    expanded: tuple[int, ...]  # each model column's index in the expanded statistics
    positions: dict[str, tuple[int, ...]]  # node -> its model columns
    indicators: tuple[int, ...]  # the regime's model columns


def _layout(
    stats: SufficientStatistics, nodes: Sequence[str], regime: str, roles: set[str]
) -> _Layout | str:
    """The model's columns, or a note saying why the data do not fit the linear model."""
    columns: list[str] = []
    expanded: list[int] = []
    positions: dict[str, tuple[int, ...]] = {}
    for node in nodes:
        if node not in stats.expanded_index:
            return f"the graph's node {node!r} is not a column of the data's statistics"
        where = stats.expanded_index[node]
        if node != regime and stats.kinds[node] == DISCRETE:
            levels = stats.levels[node]
            if node in roles:
                return (
                    f"the role variable {node!r} is discrete ({len(levels)} levels); the "
                    "linear-Gaussian sensitivity analysis needs continuous base, mesa and "
                    "decision columns, so it was skipped"
                )
            if len(where) != 1:
                return (
                    f"the column {node!r} is discrete with {len(levels)} levels; the linear "
                    "sensitivity analysis handles continuous and two-level columns only, so it "
                    "was skipped (drop the column with --columns to include it)"
                )
        positions[node] = tuple(range(len(columns), len(columns) + len(where)))
        columns.extend(stats.expanded_columns[k] for k in where)
        expanded.extend(where)
    if not positions[regime]:
        return "the data hold a single regime, so there is no regime shift to analyse"
    return _Layout(tuple(columns), tuple(expanded), positions, positions[regime])


@dataclass(frozen=True)
class _Model:
    """What every fit of one analysis shares: the columns, their covariance, the roles."""

    layout: _Layout
    covariance: np.ndarray
    n: int
    roles: Roles
    labels: tuple[str, ...]
    grid: tuple[float, ...]

    def sem(self, graph: CausalGraph) -> LinearSem:
        """Regress every column on its parents in ``graph`` (the regime as its indicators).

        Only the regime and the ancestors of the base and mesa columns are
        fitted: the marginal of an ancestral set of a linear SEM is the SEM
        of its equations, so nothing else changes the effects or the gap.
        """
        into: dict[str, list[str]] = {node: [] for node in graph.nodes}
        for i, j in graph.directed_index_edges():
            into[graph.nodes[j]].append(graph.nodes[i])
        relevant = {self.roles.regime}
        stack = [*self.roles.base, *self.roles.mesa]
        while stack:
            node = stack.pop()
            if node not in relevant:
                relevant.add(node)
                stack.extend(into[node])
        nodes = [v for v in graph.nodes if v in relevant]
        positions: dict[str, list[int]] = {}
        columns: list[int] = []
        for node in nodes:
            positions[node] = list(
                range(len(columns), len(columns) + len(self.layout.positions[node]))
            )
            columns.extend(self.layout.positions[node])
        parents: list[list[int]] = [[] for _ in columns]
        for node in nodes:
            if node != self.roles.regime:
                for parent in into[node]:
                    parents[positions[node][0]].extend(positions[parent])
        return fit_linear_sem(
            self.covariance[np.ix_(columns, columns)],
            self.n,
            [self.layout.columns[c] for c in columns],
            positions[self.roles.regime],
            [sorted(p) for p in parents],
        )


def _oriented_parts(check: CheckResult) -> dict[tuple[tuple[str, tuple[str, ...]], ...], Pdag]:
    """The restricted class with every edge at the decisions directed, per parent set."""
    names = check.node_names
    decisions = [names.index(d) for d in check.roles.decision]
    parts = {}
    for number, oriented in enumerate(valid_parent_sets(check.restricted_pdag, decisions)):
        if number >= len(check.parent_sets) and not check.parent_sets_complete:
            break
        key = tuple(
            (names[d], tuple(names[p] for p in sorted(oriented.parents[d]))) for d in decisions
        )
        parts[key] = oriented
    return parts


def _mesa_parts(
    counter: PolicyPartCounter, oriented: Pdag, mesa: list[int]
) -> tuple[list[tuple[CausalGraph, int]], bool]:
    """One σ-graph and the valid DAG count per valid parent set of ``Y_m`` in a part."""
    found: list[tuple[CausalGraph, int]] = []
    for number, sub in enumerate(valid_parent_sets(oriented, mesa)):
        if number == MAX_MESA_PARENT_SETS:
            return found, False
        graph, count = counter.sigma_graph_and_count(sub)
        if graph is not None:
            found.append((graph, count))
    return found, True


def sensitivity_analysis(
    statistics: SufficientStatistics,
    check: CheckResult,
    *,
    regime_labels: Sequence[str] | None = None,
    lambdas: Sequence[float] = DEFAULT_LAMBDAS,
) -> SensitivityResult:
    """Fit a linear SEM per σ-graph of the class and report effects and λ curves.

    Parameters
    ----------
    statistics : SufficientStatistics
        The pooled data's statistics; the regime is a discrete column coded
        ``0 .. k-1``.
    check : CheckResult
        The checker's result on the learned class (its table of valid parent
        sets of ``D_m`` and their witnesses).
    regime_labels : sequence of str, optional
        The regime names by code (default: the codes as text).
    lambdas : sequence of float, default 21 points from 0 to 1
        The scale factors of the regime's mechanism changes.

    Returns
    -------
    SensitivityResult
        ``status = "done"`` with one entry per valid parent set of ``D_m``,
        or ``"skipped"`` with a note saying why (discrete role variables, no
        valid DAG, ...).

    Raises
    ------
    InputError
        If ``lambdas`` is empty or holds a negative or non-finite value.
    """
    grid = tuple(float(x) for x in lambdas)
    if not grid or not all(np.isfinite(x) and x >= 0 for x in grid):
        raise InputError(
            f"lambdas must be non-negative finite numbers; got {list(lambdas)!r}: "
            "use e.g. 21 points from 0 to 1"
        )
    roles = check.roles
    if not isinstance(getattr(check, "restricted_pdag", None), Pdag):
        return _skipped(
            "the class is a PAG (latent confounding); a linear SEM per σ-graph needs DAGs "
            "without latent variables, so the sensitivity analysis was skipped"
        )
    if check.verdict == "invalid":
        return _skipped(
            "no DAG of the class admits the declared policy, so there is no σ-graph to fit"
        )
    role_names = {*roles.base, *roles.mesa, *roles.decision}
    layout = _layout(statistics, check.node_names, roles.regime, role_names)
    if isinstance(layout, str):
        return _skipped(layout)

    notes: list[str] = []
    for node in check.node_names:
        if node != roles.regime and node not in role_names and statistics.kinds[node] == DISCRETE:
            notes.append(f"the two-level column {node!r} enters the linear model as 0/1")
    if not check.parent_sets_complete:
        notes.append(
            f"the class has more parent sets of the decision than the {len(check.parent_sets)} "
            "the checker lists with --policy-inputs keep; only those are fitted"
        )
    index = np.array(layout.expanded)
    codes = statistics.levels[roles.regime]
    labels = tuple(
        str(regime_labels[c])
        if regime_labels is not None and isinstance(c, int) and 0 <= c < len(regime_labels)
        else str(c)
        for c in codes
    )
    model = _Model(
        layout=layout,
        covariance=statistics.expanded_covariance[np.ix_(index, index)],
        n=statistics.n,
        roles=roles,
        labels=labels,
        grid=grid,
    )
    means = statistics.expanded_means[index]
    mesa_at = {m: float(means[layout.positions[m][0]]) for m in roles.mesa}

    # The checker's own refinement gives the valid DAGs of each part and their counts.
    counter = PolicyPartCounter(check)
    mesa_index = [check.node_names.index(m) for m in roles.mesa]
    parts = _oriented_parts(check)
    entries: list[ParentSetSensitivity] = []
    for entry in check.parent_sets:
        if entry.status not in ("hold", "fail") or entry.witness is None:
            continue
        key = tuple((d, tuple(entry.parents[d])) for d in roles.decision)
        sub_parts, complete = _mesa_parts(counter, parts[key], mesa_index)
        if not complete:
            notes.append(
                f"with decision parents {_describe(entry.parents)} the mesa objective has more "
                f"than {MAX_MESA_PARENT_SETS} possible parent sets; only the first are fitted"
            )
        entries.append(_parent_set_sensitivity(entry, sub_parts, complete, model))
    if not entries:
        return _skipped("the checker's table has no valid parent set of the decision to fit")
    return SensitivityResult(
        status="done",
        notes=tuple(notes),
        reference_regime=labels[0],
        regimes=tuple(labels[1:]),
        lambdas=grid,
        mesa_at=mesa_at,
        parent_sets=tuple(entries),
    )


def _describe(parents: Mapping[str, Sequence[str]]) -> str:
    return "; ".join(f"{d} ← {{{', '.join(p)}}}" for d, p in parents.items())


def _parent_set_sensitivity(
    entry: ParentSetResult,
    sub_parts: list[tuple[CausalGraph, int]],
    complete: bool,
    model: _Model,
) -> ParentSetSensitivity:
    assert entry.witness is not None  # the caller skips parent sets without one
    main = model.sem(entry.witness.sigma_graph)
    fitted = [(model.sem(graph), graph, count) for graph, count in sub_parts]
    indicators = [model.layout.columns[p] for p in model.layout.indicators]
    contrasts = []
    for r, indicator in enumerate(indicators):
        for base_name in model.roles.base:
            effects = []
            for sem, graph, count in fitted:
                estimate, se = direct_effect(sem, *_roles_in(sem, indicator, base_name, model))
                effects.append(
                    DirectEffect(
                        mesa_parents={m: _parents_of(graph, m) for m in model.roles.mesa},
                        n_dags=count,
                        estimate=estimate,
                        standard_error=se,
                    )
                )
            source, base, mesa = _roles_in(main, indicator, base_name, model)
            slope_change = gap_line(main, source, base, mesa, 1.0)[1]
            if entry.status == "hold":
                # Y_b ⊥ s | Y_m in this σ-graph: the gap is zero in every linear
                # SEM on it, with no uncertainty. Computed, it would be rounding
                # noise (~1e-17) that the λ chart would draw as a signal.
                value, value_se = 0.0, 0.0
                curve = (0.0,) * len(model.grid)
            else:
                value, value_se = gap(main, source, base, mesa)
                curve = tuple(gap_line(main, source, base, mesa, lam)[0] for lam in model.grid)
            contrasts.append(
                Contrast(
                    regime=model.labels[r + 1],
                    base=base_name,
                    direct_effects=tuple(effects),
                    gap=value,
                    gap_standard_error=value_se,
                    implied_gap=implied_gap(main, source, base, mesa),
                    slope_change=dict(zip(model.roles.mesa, map(float, slope_change), strict=True)),
                    curve=curve,
                )
            )
    return ParentSetSensitivity(
        parents={d: tuple(p) for d, p in entry.parents.items()},
        status=entry.status,
        n_dags=entry.n_valid,
        complete=complete,
        contrasts=tuple(contrasts),
    )


def _roles_in(
    sem: LinearSem, indicator: str, base: str, model: _Model
) -> tuple[int, int, list[int]]:
    """The positions in ``sem`` of a regime indicator, a base column and the mesa columns."""
    where = {name: k for k, name in enumerate(sem.columns)}
    return where[indicator], where[base], [where[m] for m in model.roles.mesa]


def _parents_of(graph: CausalGraph, node: str) -> tuple[str, ...]:
    target = graph.index[node]
    return tuple(sorted(graph.nodes[i] for i, j in graph.directed_index_edges() if j == target))
