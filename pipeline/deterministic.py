"""Deterministic relations among the columns, found from the sufficient statistics.

A log dump is rarely a table of independent variables: a distance is computed
from coordinates, a return from the step count and the success flag, a value
estimate from a planned step count. Such relations break the assumptions of
discovery (faithfulness), and an exact *linear* one makes the covariance
that Fisher's z and the degenerate Gaussian test invert singular. This module
finds them from the statistics of the one pass (no rows are read again):

* **constant columns**: a continuous column with zero variance, a discrete one
  with one level;
* **exact linear dependence**: a greedy pivoted Cholesky factorisation of the
  correlation matrix of the *expanded* columns (each continuous column, and
  the indicators of all levels but the first of each discrete column). A
  column whose residual variance, given the columns already kept, is at most
  :data:`RESIDUAL_SHARE` of its variance (``R² > 1 - 1e-9``) is determined
  by them. Since any function of a discrete column is a linear combination of
  its level indicators, this also finds a continuous column that is a
  function of one discrete column (a value that is a function of a planned
  step count), or an additive function of several;
* **exact functional dependence among discrete columns**, from the joint cell
  counts: ``X`` is determined by ``A, B`` when every observed combination of
  ``A, B`` holds a single level of ``X``, and those combinations hold on
  average at least :data:`MIN_ROWS_PER_CELL` rows each (else the data are too
  thin for "every cell has one level" to mean anything);
* **equivalence**: two columns that are one-to-one functions of each other
  (two discrete columns each determined by the other, two continuous columns
  on a line, a continuous column taking a distinct value per level of a
  discrete one).

:func:`find_relations` does it on the pooled statistics (which include the
regime column, so ``X is determined by A, regime`` is a relation that holds
within every regime), and :func:`regime_relations` on each regime's own
statistics, to report relations that hold in some regimes only (a goal that
is fixed during training). What to do about them is
:mod:`mesalens.pipeline.deterministic_rule`'s business.

Examples
--------
>>> import pandas as pd
>>> from mesalens.pipeline.statistics import compute_statistics
>>> frame = pd.DataFrame({"x": [0.0, 1, 2, 3, 5], "y": [1.0, 0, 4, 2, 2]})
>>> frame["s"] = frame.x + 2 * frame.y
>>> stats = compute_statistics(frame, dict.fromkeys(frame, "continuous"))
>>> [r.sentence() for r in find_relations(stats)]
["column 's' is determined by 'x', 'y' (linear)"]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mesalens.pipeline.statistics import CONTINUOUS, SufficientStatistics

__all__ = [
    "MAX_DETERMINANTS",
    "MIN_ROWS_PER_CELL",
    "RESIDUAL_SHARE",
    "Relation",
    "find_relations",
    "regime_relations",
]

#: A column is linearly determined when its residual variance, given the
#: others, is at most this share of its variance (R² > 1 - 1e-9).
RESIDUAL_SHARE = 1e-9
#: A functional dependence among discrete columns needs this many rows per
#: observed combination of the determining columns, on average.
MIN_ROWS_PER_CELL = 5
#: The most columns a functional dependence among discrete columns is searched over.
MAX_DETERMINANTS = 4
# A standardised regression coefficient below this is a zero (numerical noise).
_COEFFICIENT_ZERO = 1e-7

CONSTANT = "constant"
DETERMINED = "determined"
EQUIVALENT = "equivalent"
LINEAR = "linear"
CELLS = "cell counts"


@dataclass(frozen=True)
class Relation:
    """One deterministic relation.

    Attributes
    ----------
    kind : str
        ``"constant"``, ``"determined"`` or ``"equivalent"``.
    column : str
        The constant column, the determined column, or the first of two
        equivalent ones.
    by : tuple of str
        The determining columns (the other column for an equivalence; empty
        for a constant).
    method : str
        ``"linear"`` (from the covariance) or ``"cell counts"``; empty for a constant.
    regimes : tuple of str
        The regimes in which it holds, when it does not hold in the pooled
        data; empty when it holds in the pooled data (so in every regime).
    level : object or None
        For a linear relation that determines one level of a discrete column
        but not the others: that level.
    residual_share : float or None
        For a linear relation: the residual variance's share of the column's
        variance (``1 - R²``).
    """

    kind: str
    column: str
    by: tuple[str, ...] = ()
    method: str = ""
    regimes: tuple[str, ...] = ()
    level: Any = None
    residual_share: float | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column the relation involves."""
        return (self.column, *self.by)

    def key(self) -> tuple[str, str, frozenset[str]]:
        """What identifies the relation, whatever the method or regimes."""
        if self.kind == EQUIVALENT:
            return (self.kind, "", frozenset(self.columns))
        if self.level is not None:
            return (f"{self.kind} level {self.level!r}", self.column, frozenset(self.by))
        return (self.kind, self.column, frozenset(self.by))

    def sentence(self) -> str:
        """The relation in words: ``column 'X' is determined by 'A', 'B' (linear)``."""
        names = ", ".join(map(repr, self.by))
        if self.kind == CONSTANT:
            text = f"column {self.column!r} is constant"
        elif self.kind == EQUIVALENT:
            text = f"columns {self.column!r}, {names} are equivalent (one-to-one)"
            if len(self.by) == 1:
                text = f"columns {self.column!r} and {names} are equivalent (one-to-one)"
        elif self.level is not None:
            text = (
                f"a combination of the levels of column {self.column!r} (up to level "
                f"{self.level!r}) is determined by {names}"
            )
        else:
            text = f"column {self.column!r} is determined by {names}"
        if self.method:
            text += f" ({self.method})"
        if self.regimes:
            text += " in regime " + ", ".join(map(repr, self.regimes)) + " only"
        return text

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary (``regimes`` null: it holds in every regime)."""
        return {
            "kind": self.kind,
            "column": self.column,
            "by": list(self.by),
            "method": self.method or None,
            "regimes": list(self.regimes) or None,
            "level": None if self.level is None else _plain(self.level),
            "residual_share": self.residual_share,
            "sentence": self.sentence(),
        }


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


# --------------------------------------------------------------------- constants
def _constants(stats: SufficientStatistics) -> list[str]:
    out = []
    for name in stats.columns:
        if stats.kinds[name] == CONTINUOUS:
            i = stats.index[name]
            variance = float(stats.covariance[i, i])
            # Zero, or rounding noise against the mean (moments of a constant are exact zeros).
            if not variance > (1e-12 * float(stats.means[i])) ** 2:
                out.append(name)
        elif stats.cardinality(name) <= 1:
            out.append(name)
    return out


# --------------------------------------------------------------------- linear
class _Basis:
    """A growing set of linearly independent expanded columns and its Cholesky factor."""

    def __init__(self, corr: np.ndarray):
        self.corr = corr
        self.members: list[int] = []
        self.factor = np.zeros((0, 0))

    def residual(self, j: int, members: Sequence[int] | None = None) -> tuple[float, np.ndarray]:
        """Residual share of column ``j`` given the basis (or a subset), and its coefficients."""
        if members is None:
            members, factor = self.members, self.factor
        else:
            members = list(members)
            if not members:
                return 1.0, np.zeros(0)
            factor = np.linalg.cholesky(self.corr[np.ix_(members, members)])
        if not members:
            return 1.0, np.zeros(0)
        w = _solve_lower(factor, self.corr[members, j])
        residual = max(0.0, 1.0 - float(w @ w))
        coefficients = _solve_lower(factor.T, w, upper=True)
        return residual, coefficients

    def add(self, j: int) -> None:
        """Append column ``j`` (its residual must be clearly positive)."""
        if not self.members:
            self.factor = np.ones((1, 1))
            self.members = [j]
            return
        w = _solve_lower(self.factor, self.corr[self.members, j])
        pivot = math.sqrt(max(1.0 - float(w @ w), 0.0))
        size = len(self.members)
        factor = np.zeros((size + 1, size + 1))
        factor[:size, :size] = self.factor
        factor[size, :size] = w
        factor[size, size] = pivot
        self.factor = factor
        self.members.append(j)


def _solve_lower(factor: np.ndarray, rhs: np.ndarray, *, upper: bool = False) -> np.ndarray:
    from scipy.linalg import solve_triangular

    return solve_triangular(factor, rhs, lower=not upper, check_finite=False)


def _linear_relations(
    stats: SufficientStatistics, order: Sequence[str], skip: set[str], *, plain: bool = False
) -> list[Relation]:
    """Greedy pivoted Cholesky over the expanded columns, variable by variable, in ``order``.

    With ``plain``, over the columns as numbers instead (a discrete column as
    its value, or its level index): a distance that is a sum of coordinates
    is then named as determined by them, where the expanded columns see only
    that a combination of its levels is.
    """
    if plain:
        cov = stats.covariance
        index = {name: (stats.index[name],) for name in stats.columns}
        labels = list(stats.columns)
    else:
        cov = stats.expanded_covariance
        index = dict(stats.expanded_index)
        labels = list(stats.expanded_columns)
    del labels
    scale = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    usable = scale > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = cov / np.outer(scale, scale)
    corr[~usable, :] = 0.0
    corr[:, ~usable] = 0.0
    basis = _Basis(corr)
    owner: dict[int, str] = {}
    relations: list[Relation] = []
    for name in order:
        if name in skip:
            continue
        columns = [j for j in index[name] if usable[j]]
        if not columns:
            continue
        fits = [basis.residual(j) for j in columns]
        dependent = [share <= RESIDUAL_SHARE for share, _ in fits]
        if all(dependent):
            by = _support(basis, owner, columns, fits)
            share = max(s for s, _ in fits)
            if plain and (len(by) != 1 or stats.kinds[name] != CONTINUOUS):
                relations.append(Relation(DETERMINED, name, by, LINEAR, residual_share=share))
            elif not plain:
                relations.append(_linear(stats, name, by, share, basis, owner, columns))
            continue
        # Add the columns one at a time: a level determined by the others
        # (given this column's own other levels) is a relation too.
        level_relation = None
        for j in columns:
            share_now, coefficients = basis.residual(j)
            if share_now <= RESIDUAL_SHARE:
                if level_relation is None:
                    by = _support(basis, owner, [j], [(share_now, coefficients)], exclude=name)
                    # expanded_index lists the levels but the first, in order.
                    level = stats.levels[name][index[name].index(j) + 1]
                    level_relation = Relation(
                        DETERMINED, name, by, LINEAR, level=level, residual_share=share_now
                    )
                continue
            basis.add(j)
            owner[j] = name
        if level_relation is not None:
            relations.append(level_relation)
    return relations


def _support(
    basis: _Basis,
    owner: Mapping[int, str],
    columns: Sequence[int],
    fits: Sequence[tuple[float, np.ndarray]],
    *,
    exclude: str | None = None,
) -> tuple[str, ...]:
    """The variables with a non-zero coefficient in the columns' regressions on the basis."""
    used: set[str] = set()
    for _, coefficients in fits:
        if not len(coefficients):
            continue
        largest = float(np.max(np.abs(coefficients)))
        for k, value in enumerate(coefficients):
            if abs(value) > _COEFFICIENT_ZERO * max(largest, 1.0):
                used.add(owner[basis.members[k]])
    used.discard(exclude or "")
    order = {name: k for k, name in enumerate(dict.fromkeys(owner.values()))}
    return tuple(sorted(used, key=order.__getitem__))


def _linear(
    stats: SufficientStatistics,
    name: str,
    by: tuple[str, ...],
    share: float,
    basis: _Basis,
    owner: Mapping[int, str],
    columns: Sequence[int],
) -> Relation:
    """A determined column, or an equivalence when the map is one-to-one."""
    if len(by) == 1 and _one_to_one(stats, name, by[0], basis, owner, columns):
        return Relation(EQUIVALENT, by[0], (name,), LINEAR, residual_share=share)
    return Relation(DETERMINED, name, by, LINEAR, residual_share=share)


def _one_to_one(
    stats: SufficientStatistics,
    name: str,
    other: str,
    basis: _Basis,
    owner: Mapping[int, str],
    columns: Sequence[int],
) -> bool:
    """Whether ``name``, a linear function of ``other`` alone, is one-to-one with it."""
    kinds = (stats.kinds[name], stats.kinds[other])
    if kinds == (CONTINUOUS, CONTINUOUS):
        return True  # a line with a non-zero slope (the slope of a constant is excluded)
    if kinds[0] != CONTINUOUS and kinds[1] != CONTINUOUS:
        return stats.cardinality(name) == stats.cardinality(other)
    if kinds[1] == CONTINUOUS:
        return True  # a discrete column linear in a continuous one: it takes as many values
    if kinds[0] == CONTINUOUS:
        # name = a + Σ c_k 1[other = k]: one-to-one when the values a, a + c_k differ.
        members = [j for j in basis.members if owner[j] == other]
        _, coefficients = basis.residual(columns[0], members)
        i = stats.expanded_index[name][0]
        scale = math.sqrt(stats.expanded_covariance[i, i])
        values = [0.0]
        for j, c in zip(members, coefficients, strict=True):
            values.append(c * scale / math.sqrt(stats.expanded_covariance[j, j]))
        values.sort()
        gaps = np.diff(values)
        return bool(np.all(gaps > 1e-6 * max(scale, 1e-300)))
    return False  # pragma: no cover - the kinds above are exhaustive


# --------------------------------------------------------------------- pairs
def _pair_relations(stats: SufficientStatistics, skip: set[str]) -> list[Relation]:
    """Every column determined by one other column alone, and the one-to-one pairs.

    ``X`` is a function of a discrete ``A`` exactly when each of ``X``'s
    expanded columns is a linear combination of ``A``'s level indicators, and
    of a continuous ``A`` when it lies on a line with it; so one regression
    of every expanded column on each column's own block answers for all.
    """
    cov = stats.expanded_covariance
    scale = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    names = [c for c in stats.columns if c not in skip and stats.expanded_index[c]]
    determined: dict[tuple[str, str], bool] = {}
    distinct: dict[tuple[str, str], bool] = {}
    for a in names:
        block = list(stats.expanded_index[a])
        corr_aa = cov[np.ix_(block, block)] / np.outer(scale[block], scale[block])
        try:
            factor = np.linalg.cholesky(corr_aa)
        except np.linalg.LinAlgError:
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            corr_a = cov[block, :] / np.outer(scale[block], scale)
        corr_a = np.nan_to_num(corr_a)
        whitened = _solve_lower(factor, corr_a)
        explained = np.sum(whitened**2, axis=0)
        for x in names:
            if x == a:
                continue
            cols = list(stats.expanded_index[x])
            if np.all(1.0 - explained[cols] <= RESIDUAL_SHARE):
                determined[(x, a)] = True
                if stats.kinds[x] == CONTINUOUS and stats.kinds[a] != CONTINUOUS:
                    beta = _solve_lower(factor.T, whitened[:, cols[0]], upper=True)
                    values = np.sort(np.append(beta * scale[cols[0]] / scale[block], 0.0))
                    distinct[(x, a)] = bool(np.all(np.diff(values) > 1e-6 * scale[cols[0]]))
    relations: list[Relation] = []
    for x, a in determined:
        if determined.get((a, x)) or distinct.get((x, a)):
            relations.append(Relation(EQUIVALENT, a, (x,), LINEAR))
        else:
            relations.append(Relation(DETERMINED, x, (a,), LINEAR))
    return relations


def _group_equivalences(relations: Sequence[Relation], order: Sequence[str]) -> list[Relation]:
    """Merge the one-to-one pairs into classes: ``columns 'a', 'b', 'c' are equivalent``."""
    parent: dict[str, str] = {}

    def root(name: str) -> str:
        while parent.get(name, name) != name:
            name = parent[name]
        return name

    methods: dict[str, set[str]] = {}
    for relation in relations:
        if relation.kind != EQUIVALENT:
            continue
        members = relation.columns
        for member in members:
            parent.setdefault(member, member)
        first = root(members[0])
        for member in members[1:]:
            other = root(member)
            if other != first:
                parent[other] = first
        methods.setdefault(first, set()).add(relation.method)
    rank = {name: k for k, name in enumerate(order)}
    groups: dict[str, list[str]] = {}
    for name in parent:
        groups.setdefault(root(name), []).append(name)
    merged: list[Relation] = []
    grouped = {name for names in groups.values() for name in names}
    for names in groups.values():
        names.sort(key=lambda n: rank.get(n, len(rank)))
        used = set().union(*(methods.get(n, set()) for n in names)) or {LINEAR}
        method = LINEAR if LINEAR in used else CELLS
        merged.append(Relation(EQUIVALENT, names[0], tuple(names[1:]), method))
    out: list[Relation] = []
    for relation in relations:
        if relation.kind == EQUIVALENT:
            continue
        if (
            relation.kind == DETERMINED
            and len(relation.by) == 1
            and relation.column in grouped
            and root(relation.column) == root(relation.by[0])
        ):
            continue  # stated by the class
        out.append(relation)
    return [*merged, *out]


# --------------------------------------------------------------------- cell counts
def _entropy(codes: np.ndarray, sizes: Sequence[int], counts: np.ndarray) -> tuple[float, int]:
    """The entropy (nats) of the joint of the given code columns, and its number of cells."""
    if codes.shape[1] == 0:
        return 0.0, 1
    if math.prod(sizes) < 1 << 62:
        keys = np.ravel_multi_index(tuple(codes.T), tuple(sizes))
        _, inverse = np.unique(keys, return_inverse=True)
    else:
        _, inverse = np.unique(codes, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    totals = np.bincount(inverse, weights=counts)
    p = totals / totals.sum()
    return float(-(p * np.log(p)).sum()), len(totals)


def _cell_relations(
    stats: SufficientStatistics, skip: set[str], classes: Mapping[str, set[str]]
) -> list[Relation]:
    """Functional dependences among the discrete columns, from the joint cell counts.

    A column is not searched for among the columns equivalent to it
    (``classes``): "X is determined by its own copy" says nothing new.
    """
    names = [c for c in stats.discrete_columns if c not in skip]
    if len(names) < 2:
        return []
    position = {c: k for k, c in enumerate(stats.discrete_columns)}
    codes = stats.discrete_codes
    counts = stats.cell_counts.astype(np.float64)
    size = {c: stats.cardinality(c) for c in names}
    limit = stats.n / MIN_ROWS_PER_CELL
    cache: dict[tuple[str, ...], tuple[float, int]] = {}

    def entropy(columns: Sequence[str]) -> tuple[float, int]:
        key = tuple(sorted(columns, key=position.__getitem__))
        if key not in cache:
            take = [position[c] for c in key]
            cache[key] = _entropy(codes[:, take], [size[c] for c in key], counts)
        return cache[key]

    def conditional(target: str, given: Sequence[str]) -> float:
        return entropy([target, *given])[0] - entropy(given)[0]

    tolerance = 1e-9
    found: dict[str, tuple[str, ...]] = {}
    for target in names:
        others = [c for c in names if c != target and c not in classes.get(target, ())]
        if not others:
            continue
        # Purity given all the others is necessary for any subset of them.
        if conditional(target, others) > tolerance:
            continue
        chosen: list[str] = []
        while len(chosen) < MAX_DETERMINANTS:
            best, best_value = None, math.inf
            for candidate in others:
                if candidate in chosen:
                    continue
                given = [*chosen, candidate]
                if entropy(given)[1] > limit:
                    continue
                value = conditional(target, given)
                if value < best_value - tolerance:
                    best, best_value = candidate, value
            if best is None:
                break
            chosen.append(best)
            if best_value <= tolerance:
                break
        if not chosen or conditional(target, chosen) > tolerance:
            continue
        for candidate in list(chosen):  # make it minimal
            rest = [c for c in chosen if c != candidate]
            if rest and conditional(target, rest) <= tolerance:
                chosen = rest
        found[target] = tuple(sorted(chosen, key=position.__getitem__))

    relations: list[Relation] = []
    done: set[str] = set()
    for target, by in found.items():
        if target in done:
            continue
        if len(by) == 1 and conditional(by[0], [target]) <= tolerance:
            first, second = sorted((target, by[0]), key=position.__getitem__)
            relations.append(Relation(EQUIVALENT, first, (second,), CELLS))
            done.update((target, by[0]))
            continue
        relations.append(Relation(DETERMINED, target, by, CELLS))
    return relations


# --------------------------------------------------------------------- public
def find_relations(
    stats: SufficientStatistics,
    *,
    order: Sequence[str] | None = None,
    regime: str | None = None,
) -> tuple[Relation, ...]:
    """Every deterministic relation in ``stats``: constants, linear and cell-count ones.

    Parameters
    ----------
    stats : SufficientStatistics
        The statistics of the columns to examine.
    order : sequence of str, optional
        The order in which the linear search takes the columns (default: the
        statistics' order). Of columns that are linearly dependent, the last
        in this order is the one named as determined.
    regime : str, optional
        The regime column: never named as determined by a linear relation
        of the others unless it must be (it comes first in the search).

    Returns
    -------
    tuple of Relation
        Constants first, then linear relations, then those from the cell
        counts that the linear ones do not already state.
    """
    order = list(stats.columns if order is None else order)
    if regime is not None and regime in order:
        order = [regime, *[c for c in order if c != regime]]
    constants = _constants(stats)
    skip = set(constants)
    found: list[Relation] = []
    stated: set[tuple[str, str, frozenset[str]]] = set()
    pairs = _pair_relations(stats, skip)
    classes: dict[str, set[str]] = {}
    for relation in pairs:
        if relation.kind == EQUIVALENT:
            for member in relation.columns:
                classes.setdefault(member, {member}).update(relation.columns)
    determined: set[str] = set()
    for relation in (
        *pairs,
        *_linear_relations(stats, order, skip, plain=True),
        *_linear_relations(stats, order, skip),
        *_cell_relations(stats, skip, classes),
    ):
        key = relation.key()
        pair = (EQUIVALENT, "", frozenset(relation.columns))
        if key in stated or (len(relation.by) == 1 and pair in stated):
            continue
        if relation.level is not None and relation.column in determined:
            continue  # the whole column is already named as determined
        if relation.kind == DETERMINED and relation.level is None:
            determined.add(relation.column)
        stated.add(key)
        found.append(relation)
    relations = [Relation(CONSTANT, name) for name in constants]
    relations.extend(_group_equivalences(found, stats.columns))
    return tuple(relations)


def regime_relations(
    pooled: Sequence[Relation],
    per_regime: Mapping[str, SufficientStatistics],
    *,
    order: Sequence[str] | None = None,
    regime: str | None = None,
) -> tuple[Relation, ...]:
    """The relations that hold within some regimes but not in the pooled data.

    Parameters
    ----------
    pooled : sequence of Relation
        The pooled data's relations (:func:`find_relations`).
    per_regime : mapping of str to SufficientStatistics
        Each regime's statistics (without the regime column).
    order : sequence of str, optional
        As for :func:`find_relations`.
    regime : str, optional
        The regime column's name: a pooled relation that holds given the
        regime (``X is determined by A, regime``) already states the
        per-regime ``X is determined by A``.

    Returns
    -------
    tuple of Relation
        Each with :attr:`Relation.regimes` naming where it holds.
    """
    known = {r.key() for r in pooled}
    for r in pooled:
        if r.kind == DETERMINED and regime in r.by:
            known.add((DETERMINED, r.column, frozenset(set(r.by) - {regime})))
    where: dict[tuple[str, str, frozenset[str]], list[str]] = {}
    first: dict[tuple[str, str, frozenset[str]], Relation] = {}
    for label, stats in per_regime.items():
        columns = [c for c in (order or stats.columns) if c in stats.index]
        for relation in find_relations(stats, order=columns):
            key = relation.key()
            if key in known:
                continue
            where.setdefault(key, []).append(label)
            first.setdefault(key, relation)
    return tuple(
        Relation(r.kind, r.column, r.by, r.method, tuple(where[key]), r.level, r.residual_share)
        for key, r in first.items()
    )
