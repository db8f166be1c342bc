"""Contingency tables of discrete columns from the joint cell counts, fast and cached.

The G² and χ² tests of :mod:`mesalens.pipeline.ci_tests` need, for each
test ``x ⟂ y | S``, the ``(S, x, y)`` table: a marginal of the joint table of
all discrete columns, which :class:`~mesalens.pipeline.statistics.SufficientStatistics`
holds as its distinct cells (``discrete_codes``) and their counts. A search
runs thousands of such tests, most of them on conditioning sets it has seen
before (PC tries every pair against the same subsets of a node's
neighbours), so the expensive part, the *stratum* of every cell under
``S`` (which configuration of ``S`` it is in), is computed once per set
and kept:

* :class:`Strata` numbers the configurations of ``S`` that occur, in
  mixed-radix (lexicographic) order of ``S``'s codes as given, one
  conditioning variable at a time: the strata of ``(s1, ..., sk)`` are
  those of ``(s1, ..., s(k-1))`` times the levels of ``sk``, renumbered
  densely (with :func:`numpy.bincount`, linear) when the product grows past
  a few times the number of cells. Prefixes are cached too, so a set that
  extends a known one costs one pass over the cells. Codes never overflow,
  whatever the cardinalities, because the running count of strata is
  bounded by the cells (times one cardinality) after each renumbering.
* :func:`count_table` is then one :func:`numpy.bincount` over the cells
  with the cell counts as weights; empty strata are dropped.
* :func:`g_squared` and :func:`chi_squared` compute the statistic and the
  degrees of freedom from the table as ``causallearn.utils.cit.Chisq_or_Gsq``
  does (empty rows and columns of a stratum do not count), over the same
  strata in the same order, so p-values agree with causal-learn's on the raw
  rows to the last bits.

The cache holds at most :data:`CACHE_BYTES` of stratum arrays and forgets
the oldest first (PC moves on to larger sets as it goes deeper).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

__all__ = ["CACHE_BYTES", "Strata", "chi_squared", "count_table", "g_squared"]

#: Upper bound on the memory the cached stratum arrays take.
CACHE_BYTES = 64 * 2**20


class Strata:
    """The configurations of conditioning sets over the cells of a joint count table.

    Parameters
    ----------
    codes : ndarray of shape (cells, d)
        Level codes of each cell (``0 .. cardinality - 1``), one column per
        discrete variable.
    cardinality : sequence of int
        The number of levels of each variable.
    cache_bytes : int, optional
        The memory the cache of stratum arrays may use.
    """

    def __init__(
        self, codes: np.ndarray, cardinality: Sequence[int], *, cache_bytes: int = CACHE_BYTES
    ):
        self.cells = int(codes.shape[0])
        # One contiguous array per variable: a conditioning set reads whole columns.
        self.columns = [
            np.ascontiguousarray(codes[:, j], dtype=np.int64) for j in range(codes.shape[1])
        ]
        self.cardinality = [max(int(c), 1) for c in cardinality]
        self.cache_bytes = cache_bytes
        # Renumber densely once the strata could outnumber this.
        self.dense_limit = 4 * self.cells + 1024
        self._cache: OrderedDict[tuple[int, ...], tuple[np.ndarray, int]] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    def __call__(self, conditioning: tuple[int, ...]) -> tuple[np.ndarray, int]:
        """Each cell's stratum under ``conditioning`` and an upper bound on the strata.

        Strata are numbered in lexicographic order of the conditioning codes
        (first variable most significant); some numbers below the bound may
        be empty.
        """
        if not conditioning:
            return np.zeros(self.cells, dtype=np.int64), 1
        found = self._cache.get(conditioning)
        if found is not None:
            self.hits += 1
            self._cache.move_to_end(conditioning)
            return found
        self.misses += 1
        last = conditioning[-1]
        card = self.cardinality[last]
        if len(conditioning) == 1:
            code, bound = self.columns[last], card
        else:
            prefix, strata = self(conditioning[:-1])
            code, bound = prefix * card + self.columns[last], strata * card
        if bound > self.dense_limit:
            code, bound = _renumber(code, bound)
        self._store(conditioning, (code, bound))
        return code, bound

    def _store(self, key: tuple[int, ...], value: tuple[np.ndarray, int]) -> None:
        size = value[0].nbytes
        if size > self.cache_bytes:
            return
        while self._bytes + size > self.cache_bytes and self._cache:
            _, (old, _) = self._cache.popitem(last=False)
            self._bytes -= old.nbytes
        self._cache[key] = value
        self._bytes += size


def _renumber(code: np.ndarray, bound: int) -> tuple[np.ndarray, int]:
    """The same strata numbered ``0 .. k-1`` in the same order (k = strata that occur)."""
    if bound <= 64 * len(code) + 2**20:
        present = np.bincount(code, minlength=bound) > 0
        rank = np.cumsum(present) - 1
        return rank[code], int(present.sum())
    uniques, inverse = np.unique(code, return_inverse=True)
    return inverse.reshape(-1).astype(np.int64, copy=False), len(uniques)


def count_table(
    stratum: np.ndarray,
    strata: int,
    x: np.ndarray,
    y: np.ndarray,
    card_x: int,
    card_y: int,
    weights: np.ndarray,
) -> np.ndarray:
    """The ``(strata that occur, card_x, card_y)`` table of counts, empty strata dropped."""
    index = stratum * (card_x * card_y)
    index += x * card_y
    index += y
    table = np.bincount(index, weights=weights, minlength=strata * card_x * card_y)
    table = table.reshape(strata, card_x, card_y)
    if strata > 1:
        table = table[table.sum(axis=(1, 2)) > 0]
    return table


def _expected(table: np.ndarray) -> np.ndarray:
    totals = table.sum(axis=(1, 2))
    return table.sum(axis=2)[:, :, None] * table.sum(axis=1)[:, None, :] / totals[:, None, None]


def _dof(table: np.ndarray, zero: np.ndarray) -> int:
    zero_rows = zero.all(axis=2).sum(axis=1)
    zero_cols = zero.all(axis=1).sum(axis=1)
    return int(np.sum((table.shape[1] - 1 - zero_rows) * (table.shape[2] - 1 - zero_cols)))


def g_squared(table: np.ndarray) -> tuple[float, int]:
    """The G² statistic ``2 Σ O log(O / E)`` of a stratified table, and its dof."""
    expected = _expected(table)
    zero = expected == 0
    ratio = table / np.where(zero, 1.0, expected)
    ratio[ratio == 0] = 1.0  # 0 log 0 = 0
    return float(2 * np.sum(table * np.log(ratio))), _dof(table, zero)


def chi_squared(table: np.ndarray) -> tuple[float, int]:
    """Pearson's χ² statistic ``Σ (O - E)² / E`` of a stratified table, and its dof."""
    expected = _expected(table)
    zero = expected == 0
    statistic = float(np.sum((table - expected) ** 2 / np.where(zero, 1.0, expected)))
    return statistic, _dof(table, zero)
