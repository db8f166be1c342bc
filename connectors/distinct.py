"""Regimes that are the same data: refused, since nothing would be compared.

Two ``--regime`` options pointing at the same files (a copy-paste slip) or
at copies of the same rows give regimes with identical content. The
criterion, discovery and the direct test would then all see a regime that
changes nothing, and a structural ``all`` would rest on no evidence at all.
So :func:`check_distinct_regimes` stops the run with one line when two
regimes

* read the same sources: the same set of file fingerprints (size and
  content hash) or SQL tables/queries; or
* hold the same rows as far as the single pass can tell: the same number of
  rows, the same level counts of every discrete column, and the same means
  and centred cross-products of every column (to a relative ``1e-9``, since
  the same rows summed in another partition order round differently), in
  whatever order the rows come.

Two samples of the same process are never identical in this sense, however
small the shift, so this refuses only true duplicates.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mesalens.connectors.errors import InputError
from mesalens.connectors.moments import Moments

__all__ = ["check_distinct_regimes"]

# What identifies a source's content in its fingerprint (not its name or mtime).
_CONTENT_KEYS = ("size", "sha256", "table", "query")
_SOURCE_KEYS = ("source", "table", "query")


def _sources(fingerprints: Sequence[Mapping[str, Any]], regime: str) -> frozenset:
    return frozenset(
        tuple((k, f.get(k)) for k in _SOURCE_KEYS) for f in fingerprints if f["regime"] == regime
    )


def _contents(fingerprints: Sequence[Mapping[str, Any]], regime: str) -> frozenset | None:
    entries = [f for f in fingerprints if f["regime"] == regime]
    # Without a content hash (SQL, or a file too large to hash) only sources can match.
    if not entries or any(f.get("sha256") is None and "table" not in f for f in entries):
        return None
    return frozenset(tuple((k, f.get(k)) for k in _CONTENT_KEYS) for f in entries)


def _without_regime(
    moments: Moments, regime_name: str
) -> tuple[list, np.ndarray, np.ndarray, dict]:
    """The moments' labels, means, cross-products and cells, the regime column left out."""
    keep = [i for i, (name, _) in enumerate(moments.labels) if name != regime_name]
    # In a canonical order: a discrete column's levels are labelled in the order the
    # rows show them, so the same rows shuffled would otherwise compare unequal.
    keep.sort(key=lambda i: repr(moments.labels[i]))
    labels = [moments.labels[i] for i in keep]
    means = (moments.shift + moments.offset)[keep]
    m2 = moments.m2[np.ix_(keep, keep)] if moments.m2.ndim == 2 else moments.m2
    drop = moments.cell_columns.index(regime_name) if regime_name in moments.cell_columns else None
    cells: dict = {}
    for key, count in moments.cells.items():
        rest = key if drop is None else key[:drop] + key[drop + 1 :]
        cells[rest] = cells.get(rest, 0) + count
    return labels, means, m2, cells


def _same_rows(a: Moments, b: Moments, shape_a: Any, shape_b: Any) -> bool:
    """Whether two regimes' moments are the same rows (shapes: their ``_without_regime``)."""
    if a.n != b.n or a.n == 0:
        return False
    labels_a, means_a, m2_a, cells_a = shape_a
    labels_b, means_b, m2_b, cells_b = shape_b
    return (
        labels_a == labels_b
        and cells_a == cells_b
        and np.allclose(means_a, means_b, rtol=1e-9, atol=0.0)
        and np.allclose(m2_a, m2_b, rtol=1e-9, atol=1e-12 * max(1.0, float(np.abs(m2_a).max())))
    )


def check_distinct_regimes(
    labels: Sequence[str],
    fingerprints: Sequence[Mapping[str, Any]],
    moments: Sequence[Moments] | None,
    regime_name: str,
) -> None:
    """Raise :class:`InputError` when two regimes are the same data (see the module docstring).

    Parameters
    ----------
    labels : sequence of str
        The regime names, by code.
    fingerprints : sequence of mapping
        Per source, with its ``regime`` (:attr:`LoadedData.fingerprints`).
    moments : sequence of Moments or None
        Per regime, by code, from the single pass (None when unknown).
    regime_name : str
        The regime column, left out of the comparison of rows.
    """
    # Each regime's keys once: with many regimes the pairs are many (k(k-1)/2).
    sources = {label: _sources(fingerprints, label) for label in labels}
    contents = {label: _contents(fingerprints, label) for label in labels}
    shapes: dict[int, Any] = {}

    def shape(code: int) -> Any:
        if code not in shapes:
            assert moments is not None
            shapes[code] = _without_regime(moments[code], regime_name)
        return shapes[code]

    for (i, a), (j, b) in itertools.combinations(enumerate(labels), 2):
        same_sources = sources[a] == sources[b]
        same_files = contents[a] is not None and contents[a] == contents[b]
        if same_sources or same_files:
            what = "the same sources" if same_sources else "files with the same content"
            raise InputError(
                f"regimes {a!r} and {b!r} read {what}, so there is no shift to compare; "
                "point each --regime at its own logs"
            )
        if moments is not None and _same_rows(moments[i], moments[j], shape(i), shape(j)):
            raise InputError(
                f"regimes {a!r} and {b!r} hold the same rows ({moments[i].n:,} each, with "
                "identical counts, means and covariances), so there is no shift to compare; "
                "point each --regime at its own logs"
            )
