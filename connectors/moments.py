"""Mergeable moments of a block of rows: counts, means, centred cross-products, cells.

This is the arithmetic core shared by the loader's single pass over the data
(:func:`mesalens.connectors.load_regimes`, which validates the data and
summarises it in the same read) and by
:func:`mesalens.pipeline.statistics.compute_statistics` (which summarises any
dask frame). It lives with the connectors because connectors never import
the pipeline; the pipeline imports it.

A block of ``n`` rows is summarised by :class:`Moments`: the row count, the
column means, the centred cross-product matrix ``M2 = Σ (x - x̄)(x - x̄)ᵀ``
of a set of labelled columns (a numeric column's values, or the 0/1
indicator of one level of a discrete column), and the counts of the
distinct combinations of the discrete columns' levels (*cells*). Two
summaries of disjoint row sets merge exactly with the pairwise update of
Chan, Golub & LeVeque ("Algorithms for computing the sample variance",
1983)::

    δ  = x̄_b - x̄_a
    x̄  = x̄_a + δ · n_b / n
    M2 = M2_a + M2_b + δ δᵀ · n_a n_b / n

which, unlike the textbook ``Σx² - n x̄²``, does not lose precision when a
column's mean is large against its spread. A label absent from one side (a
level not seen in those rows) is an all-zero column there: zero mean and no
cross-products, so padding with zeros is exact.

Numbers at the edge of float64's range (``1e308``, denormals) would
overflow or underflow in the cross-products (``1e308²`` is infinite,
``(1e-200)²`` is zero, which read as a constant column). So a column whose
largest magnitude lies outside ``[2**-EXPONENT_LIMIT, 2**EXPONENT_LIMIT]`` is
summarised in units of a power of two, ``2**e`` with ``e`` its binary
exponent (:attr:`Moments.exponents`): an exact change of unit, which no
correlation, CI test or score depends on. Ordinary columns keep ``e = 0``
and are summarised exactly as before.

A cell key holds one level per *cell column*; ``None`` in a position means
that the column was not counted in that block (the loader counts a numeric
column only while it may still turn out discrete, see
:mod:`mesalens.connectors.single_pass`), and such a column is summed out later.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "EXPONENT_LIMIT",
    "VALUE",
    "Moments",
    "blas_single_thread",
    "cell_counts",
    "merge_moments",
    "moments_of",
    "unit_exponent",
]

#: Columns whose largest magnitude has a binary exponent beyond this (either
#: way) are summarised in units of ``2**exponent``.
EXPONENT_LIMIT = 100

#: The level part of the label of a numeric column's values: ``(name, VALUE)``.
#: A tuple, so that it can never equal a level a user's column holds.
VALUE = ("<value>",)

# Combine the discrete codes into one integer (and count with bincount)
# while the product of the cardinalities stays below this; else sort rows.
_BINCOUNT_LIMIT = 1 << 22
# Rows whose mean shifts every column before its cross-products are summed.
_SHIFT_PREFIX = 4096
# Rows summed per Gram-matrix call (a 21-label chunk is ~2.7 MB: it stays in cache).
_CHUNK_ROWS = 16384


@dataclass
class Moments:
    """The sufficient statistics of a set of rows, mergeable with another set's.

    Attributes
    ----------
    n : int
        Rows.
    labels : list of (str, hashable)
        One per summarised column: ``(name, VALUE)`` for values, ``(name,
        level)`` for the indicator of a level.
    shift, offset : ndarray
        The mean, kept as shift + offset: the shift is the mean of the first
        rows of the first block, the offset (small against it) carries the rest, so that
        differences of means stay exact when a mean is large against its
        spread (e.g. 1e6 ± 1).
    m2 : ndarray
        Centred cross-products, in ``labels`` order.
    cells : dict of tuple to int
        Rows per combination of the levels of ``cell_columns``.
    cell_columns : tuple of str
        The columns of a cell key.
    missing, nonfinite : dict of str to int
        Missing and infinite values per column (reported after the pass).
    exponents : ndarray of int, optional
        Per label, the binary exponent ``e`` of its unit: ``shift``,
        ``offset`` and ``m2`` describe the column divided by ``2**e`` (0, the
        column itself, unless its magnitude is extreme; see the module docs).
    """

    n: int
    labels: list[tuple[str, Hashable]]
    shift: np.ndarray
    offset: np.ndarray
    m2: np.ndarray
    cells: dict[tuple[Hashable, ...], int]
    cell_columns: tuple[str, ...]
    missing: dict[str, int]
    nonfinite: dict[str, int]
    exponents: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.exponents is None:
            self.exponents = np.zeros(len(self.labels), dtype=np.int64)

    def exponent(self, label: tuple[str, Hashable]) -> int:
        """The binary exponent of a label's unit (0 for a label these rows never saw)."""
        try:
            return int(self.exponents[self.labels.index(label)])  # type: ignore[index]
        except ValueError:
            return 0

    def mean(self, label: tuple[str, Hashable]) -> float:
        """The mean of one labelled column (0 for a label these rows never saw)."""
        try:
            i = self.labels.index(label)
        except ValueError:
            return 0.0
        return _ldexp(float(self.shift[i] + self.offset[i]), self.exponent(label))

    def variance(self, label: tuple[str, Hashable]) -> float:
        """The unbiased variance of one labelled column (NaN below two rows; inf past float64)."""
        if self.n < 2 or label not in self.labels:
            return math.nan
        i = self.labels.index(label)
        return _ldexp(float(self.m2[i, i] / (self.n - 1)), 2 * self.exponent(label))


def _ldexp(value: float, exponent: int) -> float:
    """``value * 2**exponent``, infinite (not an error) past float64's range."""
    if exponent == 0 or not math.isfinite(value):
        return value
    try:
        return math.ldexp(value, exponent)
    except OverflowError:
        return math.copysign(math.inf, value)


def unit_exponent(low: float, high: float) -> int:
    """The binary exponent of the unit a column with this range is summarised in.

    0 for ordinary magnitudes; for a column whose largest magnitude lies
    outside ``[2**-EXPONENT_LIMIT, 2**EXPONENT_LIMIT]``, that magnitude's
    exponent (``frexp``), so that the column in that unit is at most 1.

    >>> unit_exponent(-1.0, 5.0), unit_exponent(0.0, 1e308), unit_exponent(0.0, 5e-324)
    (0, 1024, -1073)
    """
    largest = max(abs(low), abs(high))
    if not math.isfinite(largest) or largest == 0:
        return 0
    exponent = math.frexp(largest)[1]
    return exponent if abs(exponent) > EXPONENT_LIMIT else 0


def moments_of(
    n: int,
    labels: list[tuple[str, Hashable]],
    blocks: Sequence[np.ndarray],
    cells: dict[tuple[Hashable, ...], int],
    cell_columns: tuple[str, ...],
    missing: dict[str, int] | None = None,
    nonfinite: dict[str, int] | None = None,
    exponents: Sequence[int] | None = None,
) -> Moments:
    """Summarise ``n`` rows given as one float array per label.

    Parameters
    ----------
    n : int
        Rows; every block has this length.
    labels : list of (str, hashable)
        One label per block.
    blocks : sequence of ndarray
        The columns' values (indicators as 0/1). Missing or infinite values
        only turn moments into NaN, quietly: the caller counts and reports them.
    cells : dict
        From :func:`cell_counts`.
    cell_columns : tuple of str
        The columns of a cell key.
    missing, nonfinite : dict of str to int, optional
        Counts to carry along.
    exponents : sequence of int, optional
        Per label, the binary exponent of the unit to summarise it in
        (:func:`unit_exponent` of its range); by default each block's own.

    Returns
    -------
    Moments
        The summary.
    """
    width = len(labels)
    missing, nonfinite = dict(missing or {}), dict(nonfinite or {})
    if n == 0 or width == 0:
        zeros = np.zeros(width)
        return Moments(
            n, labels, zeros, zeros.copy(), np.zeros((width, width)), cells, cell_columns,
            missing, nonfinite,
        )  # fmt: skip
    if exponents is None:
        exponents = [_block_exponent(block) for block in blocks]
    units = np.asarray(exponents, dtype=np.int64)
    # The columns are shifted while they are copied, chunk by chunk, into one
    # small matrix (a row per label) that stays in cache for its Gram matrix
    # X Xᵀ, a BLAS call whose threads the caller limits: one pass over the
    # data and no allocation the size of the partition. The shift is the mean
    # of a prefix: close enough to the mean that the shifted data's
    # cross-products do not cancel (the "shifted data" algorithm). (If the
    # prefix's mean is d from the mean, the prefix alone makes the variance at
    # least d² · prefix / n, so the correction n·offset² cancels at most a
    # factor n / prefix of the cross-products: no more than ~60 at 250,000 rows.)
    shift = np.empty(width)
    sums = np.zeros(width)
    m2 = np.zeros((width, width))
    chunk = np.empty((width, min(n, _CHUNK_ROWS)))
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        for i, block in enumerate(blocks):
            head = block[:_SHIFT_PREFIX]
            shift[i] = np.mean(np.ldexp(head, -units[i]) if units[i] else head)
        for start in range(0, n, _CHUNK_ROWS):
            stop = min(n, start + _CHUNK_ROWS)
            matrix = chunk[:, : stop - start]
            for i, block in enumerate(blocks):
                if units[i]:  # an exact change of unit (a power of two)
                    np.ldexp(block[start:stop], -units[i], out=matrix[i])
                    matrix[i] -= shift[i]
                else:
                    np.subtract(block[start:stop], shift[i], out=matrix[i])
            sums += matrix.sum(axis=1)
            m2 += matrix @ matrix.T
        offset = sums / n
        m2 -= n * np.outer(offset, offset)
    return Moments(
        n, labels, shift, offset, m2, cells, cell_columns, missing, nonfinite, units
    )  # fmt: skip


def _block_exponent(block: np.ndarray) -> int:
    """:func:`unit_exponent` of a block's finite values (0 for an indicator or no value)."""
    if block.dtype == bool or not len(block):
        return 0
    with np.errstate(invalid="ignore"):
        finite = block[np.isfinite(block)]
    if not len(finite):
        return 0
    return unit_exponent(float(finite.min()), float(finite.max()))


def cell_counts(
    codes: Sequence[np.ndarray | None], levels: Sequence[Sequence[Hashable]]
) -> dict[tuple[Hashable, ...], int]:
    """Count the rows per combination of discrete levels.

    Parameters
    ----------
    codes : sequence of ndarray or None
        Per cell column, each row's level code (negative = missing: the row
        is not counted), or ``None`` for a column not counted here.
    levels : sequence of sequences
        Per cell column, the level of each code.

    Returns
    -------
    dict of tuple to int
        Rows per key; a key holds a level per column (``None`` where the
        column was not counted).
    """
    present = [j for j, c in enumerate(codes) if c is not None]
    if not present:
        return {}
    joint = [np.asarray(codes[j], dtype=np.int64) for j in present]
    keep = np.ones(len(joint[0]), dtype=bool)
    for column in joint:
        keep &= column >= 0
    if not keep.all():
        joint = [column[keep] for column in joint]
    if not len(joint[0]):
        return {}
    sizes = tuple(max(len(levels[j]), 1) for j in present)
    if math.prod(sizes) <= _BINCOUNT_LIMIT:
        # Linear time: one integer per row, counted with bincount.
        flat = np.ravel_multi_index(tuple(joint), sizes)
        counts = np.bincount(flat, minlength=math.prod(sizes))
        seen = np.flatnonzero(counts)
        combos = np.column_stack(np.unravel_index(seen, sizes))
        counts = counts[seen]
    else:
        combos, counts = np.unique(np.column_stack(joint), axis=0, return_counts=True)
    cells: dict[tuple[Hashable, ...], int] = {}
    for combo, count in zip(combos.tolist(), counts.tolist(), strict=True):
        key: list[Hashable] = [None] * len(codes)
        for j, code in zip(present, combo, strict=True):
            key[j] = levels[j][code]
        cells[tuple(key)] = int(count)
    return cells


def merge_moments(*parts: Moments) -> Moments:
    """Merge summaries of disjoint row sets (Chan, Golub & LeVeque's pairwise update).

    Parameters
    ----------
    *parts : Moments
        Summaries with the same ``cell_columns``.

    Returns
    -------
    Moments
        The summary of all their rows.
    """
    total = parts[0]
    for other in parts[1:]:
        total = _merge_two(total, other)
    return total


def _merge_two(a: Moments, b: Moments) -> Moments:
    labels = list(a.labels)
    position = {label: i for i, label in enumerate(labels)}
    for label in b.labels:
        if label not in position:
            position[label] = len(labels)
            labels.append(label)
    width = len(labels)

    units = np.full(width, np.iinfo(np.int64).min, dtype=np.int64)
    for s in (a, b):
        idx = [position[label] for label in s.labels]
        units[idx] = np.maximum(units[idx], s.exponents)  # type: ignore[call-overload]

    def widen(s: Moments) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if s.labels == labels:
            shift, offset, m2 = s.shift, s.offset, s.m2
            own = np.asarray(s.exponents)
        else:
            idx = [position[label] for label in s.labels]
            shift, offset, m2 = np.zeros(width), np.zeros(width), np.zeros((width, width))
            shift[idx], offset[idx] = s.shift, s.offset
            m2[np.ix_(idx, idx)] = s.m2
            own = units.copy()
            own[idx] = s.exponents  # type: ignore[assignment]
        if (own != units).any():  # both sides in the coarser unit (exact: powers of two)
            step = own - units
            with np.errstate(under="ignore"):
                shift, offset = np.ldexp(shift, step), np.ldexp(offset, step)
                m2 = np.ldexp(np.ldexp(m2, step[:, None]), step[None, :])
        return shift, offset, m2

    shift_a, offset_a, m2_a = widen(a)
    shift_b, offset_b, m2_b = widen(b)
    n = a.n + b.n
    if a.n == 0 or b.n == 0:
        shift, offset, m2 = (shift_b, offset_b, m2_b) if a.n == 0 else (shift_a, offset_a, m2_a)
    else:
        # b's mean relative to a's shift; shift_b - shift_a is exact when the
        # two are within a factor of two (Sterbenz), the case that matters.
        delta = (shift_b - shift_a) + offset_b - offset_a
        shift = shift_a
        offset = offset_a + delta * (b.n / n)
        m2 = m2_a + m2_b + np.outer(delta, delta) * (a.n * b.n / n)
    return Moments(
        n,
        labels,
        shift,
        offset,
        m2,
        _add(a.cells, b.cells),
        a.cell_columns or b.cell_columns,
        _add(a.missing, b.missing),
        _add(a.nonfinite, b.nonfinite),
        units,
    )


def _add(a: dict, b: dict) -> dict:
    out = dict(a)
    for key, count in b.items():
        out[key] = out.get(key, 0) + count
    return out


def blas_single_thread() -> AbstractContextManager[Any]:
    """Hold BLAS to one thread in this process, e.g. around a threaded ``dask.compute``.

    dask already runs one task per core; a Gram matrix that OpenBLAS then
    spreads over every core again oversubscribes them, which on a busy
    machine made the statistics pass up to 16 times slower (bench/RESULTS.md).
    The limit is process-wide (threadpoolctl is not per thread), so it is taken
    once around the whole computation, never inside concurrent tasks; the
    workers of a dask.distributed cluster already run with one BLAS thread.

    Returns
    -------
    context manager
        A ``threadpoolctl`` limit, or a no-op when threadpoolctl is absent.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - installed with scikit-learn
        return nullcontext()
    return threadpool_limits(1, user_api="blas")
