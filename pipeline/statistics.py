"""Sufficient statistics for causal discovery, computed in one pass over a dask frame.

Every conditional-independence test and score that mesalens' discovery uses
is a function of a few summaries of the data, not of the rows themselves:

* **Fisher's z test** and the **Gaussian BIC score** need only the covariance
  matrix and the number of rows (a Gaussian family's sufficient statistics:
  the partial correlation of ``x`` and ``y`` given ``S`` comes from the
  inverse of the correlation matrix restricted to ``{x, y} ∪ S``).
* **G² and χ² tests** need the contingency table of ``(S, x, y)``, which is a
  marginal of the *joint* table of all discrete columns: the list of distinct
  value combinations with their counts.
* The **degenerate Gaussian** test for mixed data (Andrews, Ramsey & Cooper,
  "Learning high-dimensional directed acyclic graphs with mixed data-types",
  PMLR 104, 2019) treats a discrete column with ``k`` levels as ``k - 1``
  indicator columns and then works like a Gaussian test on the covariance of
  this *expanded* data.

:func:`compute_statistics` computes all of them in one ``dask.compute`` call
that reads each partition once: a task per partition turns its rows into a
small summary (row count, means, centred cross-product matrix of the
continuous columns and of one indicator per observed level of each discrete
column, and the counts of the distinct discrete combinations), and a tree of
merge tasks combines the summaries. Means and centred cross-products merge
with the pairwise update of Chan, Golub & LeVeque ("Algorithms for computing
the sample variance", 1983), which, unlike the textbook ``Σx² - n x̄²``, does
not lose precision when a column's mean is large against its spread. A level
missing from a partition has an all-zero indicator there, so padding the
partition's summary with zeros is exact.

The per-partition arithmetic lives in :mod:`mesalens.connectors.moments`,
shared with the loader: ``mesalens run`` takes these moments in the same
pass that validates the data, and passes them as ``precomputed=`` (the
loader's :class:`~mesalens.connectors.loaded.DataProfile`), so that the
data are decoded once in all. Cells may then count more columns than the
discrete ones (numeric columns that might have been discrete); those are
summed out. The Gram matrices run with one BLAS thread (dask already runs
a task per core; see ``blas_single_thread``).

The plain covariance (a discrete column counted as its numeric value, or as
its level index when the levels are not numbers) and the ``k - 1`` expanded
covariance are both linear images of the all-indicator covariance, so they
are derived from it after the pass.

Examples
--------
>>> import dask.dataframe as dd, pandas as pd
>>> frame = dd.from_pandas(
...     pd.DataFrame({"regime": [0, 0, 1, 1], "y": [1.0, 2.0, 3.0, 5.0]}), npartitions=2
... )
>>> stats = compute_statistics(frame, {"regime": "discrete", "y": "continuous"})
>>> stats.n, stats.covariance.round(3).tolist()
(4, [[0.333, 0.833], [0.833, 2.917]])
>>> stats.counts.to_dict("list")
{'regime': [0, 1], 'count': [2, 2]}
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import dask
import numpy as np
import pandas as pd

from mesalens.connectors.errors import DataError
from mesalens.connectors.moments import (
    VALUE,
    Moments,
    blas_single_thread,
    cell_counts,
    merge_moments,
    moments_of,
)

__all__ = [
    "CONTINUOUS",
    "DISCRETE",
    "StatisticsError",
    "SufficientStatistics",
    "compute_statistics",
    "statistics_delayed",
]

# dask.dataframe (~1 s to import) is imported where a frame is converted, so
# that importing this module (the checker's CLI does, through the report
# code) does not load it.
if TYPE_CHECKING:
    import dask.dataframe as dd
    from dask.delayed import Delayed

CONTINUOUS = "continuous"
DISCRETE = "discrete"
_KINDS = (CONTINUOUS, DISCRETE)
# Merge this many partition summaries per task: a shallow tree with small tasks.
_SPLIT_EVERY = 8


class Precomputed(Protocol):
    """Moments taken while the data were read (see ``compute_statistics(precomputed=)``)."""

    moments: Moments | None
    partition_levels: Mapping[str, int]
    indicator_cap: int
    dtypes: Mapping[str, Any]


class StatisticsError(DataError):
    """The data cannot be summarised as asked (wrong kinds, missing values, ...)."""


@dataclass(frozen=True)
class SufficientStatistics:
    """Everything discovery needs from the data, without the rows.

    Attributes
    ----------
    columns : tuple of str
        The variables, in a fixed order (the order of every matrix below and
        of the discovered graph's nodes).
    kinds : dict of str to str
        ``"continuous"`` or ``"discrete"`` for each column.
    n : int
        The number of rows.
    means : ndarray of shape (p,)
        Column means; a discrete column counts as its value when its levels
        are numbers, else as its level index.
    covariance : ndarray of shape (p, p)
        The unbiased covariance (``ddof=1``, as ``numpy.cov``) of the same
        numbers.
    levels : dict of str to tuple
        The observed levels of each discrete column, in code order: the
        categories' order for a pandas categorical, sorted otherwise.
    discrete_codes : ndarray of shape (cells, d)
        Each distinct combination of the discrete columns' level codes (the
        index into ``levels``), one row per combination, lexicographically
        sorted; columns in the order of :attr:`discrete_columns`.
    cell_counts : ndarray of shape (cells,)
        How many rows have each combination.
    expanded_columns : tuple of str
        The columns of the expanded data: each continuous column, and
        ``"name=level"`` for every level of a discrete column but its first.
    expanded_index : dict of str to tuple of int
        The positions in ``expanded_columns`` of each variable.
    expanded_means, expanded_covariance : ndarray
        Means and unbiased covariance of the expanded data.
    exponents : dict of str to int
        The continuous columns summarised in units of ``2**e`` because their
        magnitude is extreme (``1e308``, denormals: see
        :mod:`mesalens.connectors.moments`), with ``e``; every mean and
        covariance above describes such a column divided by ``2**e``. No
        correlation, CI test or score depends on the unit. Empty for
        ordinary data.
    """

    columns: tuple[str, ...]
    kinds: Mapping[str, str]
    n: int
    means: np.ndarray
    covariance: np.ndarray
    levels: Mapping[str, tuple[Any, ...]]
    discrete_codes: np.ndarray
    cell_counts: np.ndarray
    expanded_columns: tuple[str, ...]
    expanded_index: Mapping[str, tuple[int, ...]]
    expanded_means: np.ndarray
    expanded_covariance: np.ndarray
    exponents: Mapping[str, int] = field(default_factory=dict)
    index: Mapping[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", {name: i for i, name in enumerate(self.columns)})

    @property
    def discrete_columns(self) -> tuple[str, ...]:
        """The discrete columns, in column order."""
        return tuple(c for c in self.columns if self.kinds[c] == DISCRETE)

    @property
    def continuous_columns(self) -> tuple[str, ...]:
        """The continuous columns, in column order."""
        return tuple(c for c in self.columns if self.kinds[c] == CONTINUOUS)

    @property
    def count_column(self) -> str:
        """The name of the count column of :attr:`counts` (``"count"`` unless a column has it)."""
        name = "count"
        while name in self.columns:
            name = f"_{name}"
        return name

    @functools.cached_property
    def counts(self) -> pd.DataFrame:
        """The joint table of the discrete columns: one row per observed combination.

        Columns: the discrete columns (holding their level values) and
        :attr:`count_column`. Any marginal contingency table is a group-by
        sum of this one.
        """
        data: dict[str, Any] = {}
        for j, name in enumerate(self.discrete_columns):
            values = np.empty(len(self.cell_counts), dtype=object)
            values[:] = [self.levels[name][code] for code in self.discrete_codes[:, j]]
            data[name] = pd.Series(values).infer_objects()
        data[self.count_column] = self.cell_counts.astype(np.int64)
        return pd.DataFrame(data)

    @functools.cached_property
    def correlation(self) -> np.ndarray:
        """The correlation matrix of :attr:`covariance` (NaN rows for constant columns)."""
        return _correlation(self.covariance)

    def covariance_ml(self) -> np.ndarray:
        """The maximum-likelihood covariance (``ddof=0``), as causal-learn's BIC score uses."""
        return self.covariance * ((self.n - 1) / self.n)

    def cardinality(self, name: str) -> int:
        """The number of observed levels of a discrete column."""
        return len(self.levels[name])

    def plain_values(self, name: str, values: pd.Series) -> np.ndarray:
        """A column's rows as the numbers :attr:`means` and :attr:`covariance` describe.

        A continuous column as it is; a discrete one as its value when its
        levels are numbers, else as its level index (missing stays NaN).
        """
        if self.kinds[name] == DISCRETE and not _numeric_levels(self.levels[name]):
            codes = {level: k for k, level in enumerate(self.levels[name])}
            values = values.astype(object).map(codes)
        plain = values.to_numpy(dtype=np.float64, na_value=np.nan)
        exponent = self.exponents.get(name, 0)
        return np.ldexp(plain, -exponent) if exponent else plain


def _correlation(cov: np.ndarray) -> np.ndarray:
    scale = np.sqrt(np.diag(cov))
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = cov / np.outer(scale, scale)
    # numpy.corrcoef clips the same way: rounding can push |r| a hair above 1.
    return np.clip(corr, -1.0, 1.0)


# --------------------------------------------------------------------- one pass
# The arithmetic (mergeable moments and cell counts) is shared with the
# loader, which summarises the data in the same pass that validates it.
_VALUE = VALUE
_Summary = Moments


def _plain(value: Any) -> Hashable:
    """A level as a plain Python value, so equal levels hash alike across partitions."""
    return value.item() if isinstance(value, np.generic) else value


def _too_many_levels(name: str, count: int, max_levels: int, dtype: Any) -> StatisticsError:
    """Too many levels: advice that fits the column (text cannot be declared continuous)."""
    if isinstance(dtype, pd.CategoricalDtype) and not _numeric_levels(tuple(dtype.categories)):
        advice = (
            "it holds text, so it cannot be continuous: leave it out by selecting the other "
            "columns with --columns (config: columns), or merge its levels into at most "
            f"{max_levels} before the run"
        )
    else:
        advice = (
            f"read it as continuous with --dtype {name}=float (config: dtypes), or bin it "
            f"into at most {max_levels} levels"
        )
    return StatisticsError(
        f"discrete column {name!r} has more than {max_levels} levels "
        f"({count} in one partition); {advice}"
    )


def _summarise(
    part: pd.DataFrame, continuous: Sequence[str], discrete: Sequence[str], max_levels: int
) -> Moments:
    """The summary of one partition (runs inside the dask graph)."""
    n = len(part)
    labels: list[tuple[str, Hashable]] = []
    blocks: list[np.ndarray] = []
    missing: dict[str, int] = {}
    nonfinite: dict[str, int] = {}
    for name in continuous:
        values = part[name].to_numpy(dtype=np.float64, na_value=np.nan)
        absent = int(np.isnan(values).sum())
        if absent:
            missing[name] = absent
        infinite = int(np.isinf(values).sum())
        if infinite:
            nonfinite[name] = infinite
        labels.append((name, _VALUE))
        blocks.append(values)
    codes_per_column: list[np.ndarray | None] = []
    uniques_per_column: list[list[Hashable]] = []
    for name in discrete:
        codes, uniques = pd.factorize(part[name], sort=False, use_na_sentinel=True)
        uniques = [_plain(u) for u in uniques]
        if len(uniques) > max_levels:
            raise _too_many_levels(name, len(uniques), max_levels, part[name].dtype)
        absent = int((codes < 0).sum())
        if absent:
            missing[name] = absent
        for k, level in enumerate(uniques):
            labels.append((name, level))
            blocks.append(codes == k)
        codes_per_column.append(codes)
        uniques_per_column.append(uniques)
    cells = cell_counts(codes_per_column, uniques_per_column) if n else {}
    return moments_of(n, labels, blocks, cells, tuple(discrete), missing, nonfinite)


def _merge(*parts: Moments) -> Moments:
    """Merge summaries of disjoint row sets (Chan, Golub & LeVeque's pairwise update)."""
    return merge_moments(*parts)


# --------------------------------------------------------------------- checking
def _check_request(
    frame: dd.DataFrame | pd.DataFrame, kinds: Mapping[str, str], columns: Sequence[str] | None
) -> tuple[list[str], dict[str, str]]:
    available = [str(c) for c in frame.columns]
    chosen = list(available if columns is None else columns)
    if not chosen:
        raise StatisticsError("no columns to summarise; pass at least one column")
    seen: set[str] = set()
    for name in chosen:
        if name in seen:
            raise StatisticsError(f"column {name!r} is listed twice; list each column once")
        seen.add(name)
    unknown = [c for c in chosen if c not in available]
    if unknown:
        shown = ", ".join(map(repr, available[:12])) + (", ..." if len(available) > 12 else "")
        raise StatisticsError(
            f"unknown column(s) {', '.join(map(repr, unknown))}; the table has {shown}"
        )
    resolved: dict[str, str] = {}
    undeclared = [c for c in chosen if c not in kinds]
    if undeclared:
        raise StatisticsError(
            f"no kind given for column(s) {', '.join(map(repr, undeclared))}; declare each "
            "'continuous' or 'discrete'"
        )
    dtypes = frame.dtypes
    for name in chosen:
        kind = kinds[name]
        if kind not in _KINDS:
            raise StatisticsError(
                f"column {name!r} has kind {kind!r}; use 'continuous' or 'discrete'"
            )
        dtype = dtypes[name]
        if kind == CONTINUOUS and not (
            pd.api.types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype)
        ):
            raise StatisticsError(
                f"column {name!r} is declared continuous but holds {dtype} values; declare it "
                "discrete, or convert it to numbers"
            )
        resolved[name] = kind
    return chosen, resolved


def _ordered_levels(observed: set[Hashable], dtype: Any) -> tuple[Any, ...]:
    if isinstance(dtype, pd.CategoricalDtype) and dtype.categories is not None:
        order = {_plain(c): i for i, c in enumerate(dtype.categories)}
        if all(level in order for level in observed):
            return tuple(sorted(observed, key=order.__getitem__))
    try:
        return tuple(sorted(observed))  # type: ignore[type-var]
    except TypeError:  # mixed types: still deterministic
        return tuple(sorted(observed, key=lambda v: (type(v).__name__, str(v))))


def _numeric_levels(levels: Sequence[Any]) -> bool:
    """Whether a discrete column's levels are numbers (they then count as themselves)."""
    return all(
        isinstance(value, int | float | np.number) and not isinstance(value, bool)
        for value in levels
    )


# --------------------------------------------------------------------- public
def compute_statistics(
    frame: dd.DataFrame | pd.DataFrame | Callable[[], dd.DataFrame],
    kinds: Mapping[str, str],
    columns: Sequence[str] | None = None,
    *,
    max_levels: int = 100,
    precomputed: Precomputed | None = None,
) -> SufficientStatistics:
    """Summarise ``frame`` for discovery, reading each partition once.

    Parameters
    ----------
    frame : dask.dataframe.DataFrame or pandas.DataFrame or callable
        The data: numeric columns, pandas categoricals, or integer codes (the
        regime). A pandas frame is summarised as one partition. A function
        returning the frame is called only if the frame must be read (when
        ``precomputed`` cannot serve).
    kinds : mapping of str to str
        ``"continuous"`` or ``"discrete"`` for every column used.
    columns : sequence of str, optional
        The columns to use, in the order they will have in every result
        (default: all of the frame's columns, in frame order).
    max_levels : int, optional
        Refuse a discrete column with more levels than this in one partition
        (each level becomes an indicator column of the expanded data).
    precomputed : object, optional
        The moments of exactly this frame, already taken in the pass that
        read and validated it (:attr:`mesalens.connectors.LoadedData.profile`,
        whose ``moments``, ``partition_levels`` and ``dtypes`` it uses): then
        nothing is read again. Ignored (the frame is read) when it cannot serve, e.g.
        when a column has more levels than it summarised.

    Returns
    -------
    SufficientStatistics
        The covariance, means, joint discrete counts and expanded covariance.

    Raises
    ------
    StatisticsError
        If a column is unknown, listed twice or has no kind, a continuous
        column is not numeric, a discrete column has too many levels, the
        frame has no rows, or a value is missing or infinite (the message
        names the columns and how many).
    """
    if precomputed is not None and precomputed.moments is not None:
        # The frame's schema without the frame (building it imports dask.dataframe).
        schema = pd.DataFrame({c: pd.Series([], dtype=t) for c, t in precomputed.dtypes.items()})
        chosen, resolved = _check_request(schema, kinds, columns)
        discrete = [c for c in chosen if resolved[c] == DISCRETE]
        dtypes = {c: schema.dtypes[c] for c in chosen}
        counts = precomputed.partition_levels
        for name in discrete:
            if counts.get(name, 0) > max_levels:
                raise _too_many_levels(name, counts[name], max_levels, dtypes[name])
        if all(counts.get(name, 0) <= precomputed.indicator_cap for name in discrete):
            return _assemble(precomputed.moments, chosen, resolved, dtypes)

    frame = _as_dask(frame() if callable(frame) else frame)
    lazy = statistics_delayed(frame, kinds, columns, max_levels=max_levels)
    with blas_single_thread():
        (statistics,) = dask.compute(lazy)
    return statistics


def statistics_delayed(
    frame: dd.DataFrame | pd.DataFrame,
    kinds: Mapping[str, str],
    columns: Sequence[str] | None = None,
    *,
    max_levels: int = 100,
) -> Delayed:
    """:func:`compute_statistics` as a lazy dask object, to compute together with others.

    Computing several of these in one ``dask.compute`` call reads the
    partitions their frames share once (the bootstrap summarises ``B``
    resamples of the same partitions this way). The arguments are checked
    now; errors about the values (missing, infinite, too few rows) are
    raised when it is computed.

    Returns
    -------
    dask.delayed.Delayed
        Computes to the :class:`SufficientStatistics` of ``frame``.
    """
    frame = _as_dask(frame)
    chosen, resolved = _check_request(frame, kinds, columns)
    continuous = [c for c in chosen if resolved[c] == CONTINUOUS]
    discrete = [c for c in chosen if resolved[c] == DISCRETE]
    dtypes = {c: frame.dtypes[c] for c in chosen}
    # One task per partition, then a tree of merges, all in one graph: one
    # dask.compute call reads every partition exactly once.
    summarise = dask.delayed(_summarise, pure=True)
    merge = dask.delayed(_merge, pure=True)
    layer = [
        summarise(part, continuous, discrete, max_levels) for part in frame[chosen].to_delayed()
    ]
    while len(layer) > 1:
        layer = [merge(*layer[i : i + _SPLIT_EVERY]) for i in range(0, len(layer), _SPLIT_EVERY)]
    return dask.delayed(_assemble, pure=True)(layer[0], chosen, resolved, dtypes)


def _as_dask(frame: dd.DataFrame | pd.DataFrame) -> dd.DataFrame:
    import dask.dataframe as dd

    if isinstance(frame, pd.DataFrame):
        frame = dd.from_pandas(frame, npartitions=1)
    if not isinstance(frame, dd.DataFrame):
        raise StatisticsError(f"expected a dask or pandas DataFrame; got {type(frame).__name__}")
    return frame


def _assemble(
    total: _Summary, columns: list[str], kinds: dict[str, str], dtypes: dict[str, Any]
) -> SufficientStatistics:
    if total.missing:
        detail = ", ".join(f"{c!r} ({k})" for c, k in sorted(total.missing.items()))
        raise StatisticsError(
            f"missing values in {detail}; drop or impute those rows before discovery"
        )
    if total.nonfinite:
        detail = ", ".join(f"{c!r} ({k})" for c, k in sorted(total.nonfinite.items()))
        raise StatisticsError(f"infinite values in {detail}; drop or fix those rows")
    if total.n < 2:
        raise StatisticsError(
            f"the data have {total.n} row(s); discovery needs at least 2 (many more in practice)"
        )
    n = total.n
    discrete = [c for c in columns if kinds[c] == DISCRETE]
    levels: dict[str, tuple[Any, ...]] = {}
    for name in discrete:
        observed = {level for column, level in total.labels if column == name}
        observed.discard(_VALUE)  # the loader also keeps a numeric column's values
        levels[name] = _ordered_levels(observed, dtypes[name])

    # The all-indicator ("full") layout, in column order.
    full: list[tuple[str, Hashable]] = []
    for name in columns:
        if kinds[name] == CONTINUOUS:
            full.append((name, _VALUE))
        else:
            full.extend((name, level) for level in levels[name])
    position = {label: i for i, label in enumerate(total.labels)}
    take = [position[label] for label in full]
    mean_full = total.shift[take] + total.offset[take]
    cov_full = total.m2[np.ix_(take, take)] / (n - 1)
    at = {label: i for i, label in enumerate(full)}

    # Plain numbers: a continuous column itself; a discrete column as the sum
    # of level * indicator. Levels are shifted to start at 0 (the indicators
    # sum to one, so a shift changes no covariance), which keeps large codes
    # from cancelling catastrophically.
    plain_map = np.zeros((len(columns), len(full)))
    offsets = np.zeros(len(columns))
    for i, name in enumerate(columns):
        if kinds[name] == CONTINUOUS:
            plain_map[i, at[(name, _VALUE)]] = 1.0
            continue
        values = levels[name]
        numeric = _numeric_levels(values)
        base = float(values[0]) if numeric else 0.0
        offsets[i] = base
        for k, level in enumerate(values):
            plain_map[i, at[(name, level)]] = (float(level) - base) if numeric else float(k)
    means = plain_map @ mean_full + offsets
    covariance = plain_map @ cov_full @ plain_map.T

    # Expanded data (Andrews et al. 2019): drop each discrete column's first level.
    keep: list[int] = []
    expanded_columns: list[str] = []
    expanded_index: dict[str, tuple[int, ...]] = {}
    for name in columns:
        start = len(keep)
        if kinds[name] == CONTINUOUS:
            keep.append(at[(name, _VALUE)])
            expanded_columns.append(name)
        else:
            for level in levels[name][1:]:
                keep.append(at[(name, level)])
                expanded_columns.append(f"{name}={level}")
        expanded_index[name] = tuple(range(start, len(keep)))

    # Joint discrete table as codes, lexicographically sorted. The cells may
    # count more columns than the discrete ones (the loader's candidates):
    # those are summed out.
    code_of = {name: {level: k for k, level in enumerate(levels[name])} for name in discrete}
    if discrete:
        at_cell = [total.cell_columns.index(name) for name in discrete]
        cells: dict[tuple[int, ...], int] = {}
        for key, count in total.cells.items():
            coded = tuple(code_of[name][key[j]] for name, j in zip(discrete, at_cell, strict=True))
            cells[coded] = cells.get(coded, 0) + count
        codes = np.array(list(cells), dtype=np.int64).reshape(len(cells), len(discrete))
        counts = np.fromiter(cells.values(), dtype=np.int64, count=len(cells))
        order = np.lexsort(codes.T[::-1]) if len(codes) else np.arange(0)
        codes, counts = codes[order], counts[order]
    else:
        codes = np.zeros((1, 0), dtype=np.int64)
        counts = np.array([n], dtype=np.int64)

    return SufficientStatistics(
        columns=tuple(columns),
        kinds=dict(kinds),
        n=n,
        means=means,
        covariance=covariance,
        levels=levels,
        discrete_codes=codes,
        cell_counts=counts,
        expanded_columns=tuple(expanded_columns),
        expanded_index=expanded_index,
        expanded_means=mean_full[keep],
        expanded_covariance=cov_full[np.ix_(keep, keep)],
        exponents={
            name: int(total.exponents[position[(name, _VALUE)]])  # type: ignore[index]
            for name in columns
            if kinds[name] == CONTINUOUS and total.exponents[position[(name, _VALUE)]]  # type: ignore[index]
        },
    )
